"""Making a bulk file's chunk of gifts at once: what gifting.service.insert_gift does for one brand gift
from an offer, done for a chunk in a few statements (vouchers per offer, gifts, holds and audit rows
each in one), so 10,000 rows take seconds, not minutes, on PostgreSQL too.

Anything a row could be refused for (its offer archived since the dry run, say) raises, so the
caller redoes the chunk row by row through insert_gift, which gives that row its own reason.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, insert, select, update
from sqlalchemy.orm.attributes import set_committed_value

from gifting import delivery, events
from gifting.links import claim_url
from gifting.models import Gift, GiftStatus
from gifting.service import (
    FURTHEST_SCHEDULE,
    NEW_HOLD,
    GiftRequest,
    claim_deadline,
    created_audit,
    gift_event,
    gift_value,
    holder,
)
from lixi.audit import audit_row, current_actor, record_audits
from lixi.errors import invalid_field
from lixi.extensions import db
from lixi.models import Brand
from lixi.outbox import publish_many
from lixi.timeutil import utcnow
from vouchers.models import Offer, OfferKind, Voucher
from vouchers.service import insert_vouchers

_VOUCHERS = Voucher.__table__
_PASS_HOLD = (
    update(_VOUCHERS)
    .where(_VOUCHERS.c.id == bindparam("voucher_id"), _VOUCHERS.c.held_by == NEW_HOLD)
    .values(held_by=bindparam("holder"))
)


def insert_gifts(brand: Brand, requests: Sequence[GiftRequest]) -> list[Gift]:
    """The brand's gifts from offers (or amounts on a gift-card offer) of a bulk chunk, inside the
    caller's write transaction: held vouchers issued, gifts written, the due ones sent (mail or text)
    and audited as insert_gift would. Raises on anything a row could be refused for."""
    now = utcnow()
    offers = _offers(brand.id, {request.offer_id for request in requests if request.offer_id})
    for request in requests:
        _refuse_unless_simple(request, offers.get(request.offer_id or 0), now)
    vouchers = _held_vouchers(brand, requests, offers)
    actor = current_actor()
    rows = [
        _gift_row(brand, request, offers, voucher, actor, now)
        for request, voucher in zip(requests, vouchers, strict=True)
    ]
    gifts = list(db.session.scalars(insert(Gift).returning(Gift, sort_by_parameter_order=True), rows))
    db.session.execute(
        _PASS_HOLD, [{"voucher_id": gift.voucher_id, "holder": holder(gift.id)} for gift in gifts]
    )
    for gift, voucher in zip(gifts, vouchers, strict=True):
        set_committed_value(voucher, "held_by", holder(gift.id))  # the session's copy, as written
    audit = [
        audit_row(brand.id, events.GIFT_CREATED, "gift", gift.id, created_audit(gift), actor)
        for gift in gifts
    ]
    due = [gift for gift in gifts if gift.status == GiftStatus.SENT]
    for gift in due:
        delivery.deliver(gift, brand, "gift", claim_url(gift))
    publish_many(brand.id, events.GIFT_SENT, [gift_event(gift) for gift in due])
    audit += [
        audit_row(
            brand.id, events.GIFT_SENT, "gift", gift.id, {"expires_at": gift.expires_at.isoformat()}, actor
        )
        for gift in due
        if gift.expires_at is not None
    ]
    record_audits(audit)
    return gifts


def _offers(brand_id: int, offer_ids: set[int]) -> dict[int, Offer]:
    query = select(Offer).where(Offer.brand_id == brand_id, Offer.id.in_(sorted(offer_ids)))
    return {offer.id: offer for offer in db.session.scalars(query)}


def _refuse_unless_simple(request: GiftRequest, offer: Offer | None, now: datetime) -> None:
    """What insert_gift would refuse a bulk row for (it says which, when the chunk is redone)."""
    if offer is None or offer.archived_at is not None:
        raise invalid_field("offer_id", "No such offer, or archived.")
    if request.amount is not None and offer.kind != OfferKind.GIFT_CARD:
        raise invalid_field("amount", "Only a gift-card offer can be given as an amount.")
    if request.send_at is not None and request.send_at > now + FURTHEST_SCHEDULE:
        raise invalid_field("send_at", "Too far ahead.")
    if request.voucher_code or request.split_count or request.sender_member_external_id:
        raise invalid_field("offer_id", "Not a brand's gift from an offer.")


def _held_vouchers(brand: Brand, requests: Sequence[GiftRequest], offers: dict[int, Offer]) -> list[Voucher]:
    """One held voucher per request, in order: issued a group at a time (an offer, and a balance)."""
    groups: dict[tuple[int, int | None], list[int]] = {}
    for index, request in enumerate(requests):
        assert request.offer_id is not None
        groups.setdefault((request.offer_id, request.amount), []).append(index)
    vouchers: list[Any] = [None] * len(requests)
    for (offer_id, amount), indexes in groups.items():
        issued = insert_vouchers(
            brand, offers[offer_id], len(indexes), None, "gift", balance=amount, held_by=NEW_HOLD
        )
        for index, voucher in zip(indexes, issued, strict=True):
            vouchers[index] = voucher
    return vouchers


def _gift_row(
    brand: Brand, request: GiftRequest, offers: dict[int, Offer], voucher: Voucher, actor: str, now: datetime
) -> dict[str, Any]:
    send_at = request.send_at if request.send_at is not None and request.send_at > now else now
    due = send_at <= now
    if voucher.expires_at is not None and send_at >= voucher.expires_at:
        raise invalid_field("send_at", "The voucher expires before the gift would be sent.")
    assert request.offer_id is not None
    return {
        "brand_id": brand.id,
        "status": GiftStatus.SENT if due else GiftStatus.SCHEDULED,
        "offer_id": request.offer_id,
        "voucher_id": voucher.id,
        "value": gift_value(offers[request.offer_id], voucher.balance),
        "sender_member_id": None,
        "sender_name": request.sender_name,
        "recipient_name": request.recipient_name,
        "recipient_email": request.recipient_email,
        "recipient_phone": request.recipient_phone,
        "language": request.language or brand.locale or "vi",
        "message": request.message,
        "design": request.design,
        "claim_days": request.claim_days,
        "batch_id": request.batch_id,
        "row_id": request.row_id,
        "created_by": actor,
        "created_at": now,
        "send_at": send_at,
        "sent_at": now if due else None,
        "expires_at": claim_deadline(brand.timezone, request.claim_days, now, voucher.expires_at)
        if due
        else None,
    }
