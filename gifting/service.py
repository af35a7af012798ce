"""Gifts: making one (from an offer or a member's voucher), finding them, cancelling and resending.

A gift holds its voucher from the moment it is made (vouchers.holds), so nobody can use or give
it twice while it travels; claims.py hands it over, expiry.py sends, reminds and returns.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from flask import current_app
from redis.exceptions import RedisError
from sqlalchemy import delete, select, update

from gifting import delivery, events
from gifting.envelopes import split_amounts
from gifting.errors import GiftError, GiftErrorCode
from gifting.links import claim_url
from gifting.lunar import solar_date
from gifting.models import (
    OPEN_STATUSES,
    Gift,
    GiftClaimCode,
    GiftEnvelope,
    GiftStatus,
    SplitMode,
)
from gifting.queries import get_gift
from lixi.audit import current_actor, record_audit
from lixi.contacts import normalize_email, normalize_phone
from lixi.database import write_transaction
from lixi.errors import NotFound, invalid_field
from lixi.extensions import db
from lixi.jobs import enqueue_at
from lixi.members import get_member
from lixi.models import Brand, Member
from lixi.outbox import publish
from lixi.timeutil import end_of_local_day, local_date, utcnow
from vouchers.holds import hand_over, hold_voucher, transfer_hold, void_held
from vouchers.models import Offer, OfferKind, Voucher
from vouchers.offers import get_offer
from vouchers.service import find_voucher, insert_vouchers

NEW_HOLD = "gift:new"  # the hold of a voucher issued for a gift whose row is not written yet
FURTHEST_SCHEDULE = timedelta(days=400)
DEFAULT_LUNAR_TIME = time(8, 0)  # a gift for Mùng 1 Tết arrives in the morning


def holder(gift_id: int) -> str:
    """What vouchers.held_by says while this gift holds the voucher."""
    return f"gift:{gift_id}"


@dataclass(frozen=True)
class LunarDay:
    year: int
    month: int
    day: int
    leap: bool = False
    at: time = DEFAULT_LUNAR_TIME


@dataclass
class GiftRequest:
    """What POST /gifts, the member's "Tặng bạn" form and a bulk row ask for."""

    offer_id: int | None = None
    voucher_code: str | None = None
    sender_member_external_id: str | None = None
    sender_name: str | None = None
    recipient_name: str | None = None
    recipient_email: str | None = None
    recipient_phone: str | None = None
    language: str | None = None
    message: str | None = None
    design: str = "plain"
    send_at: datetime | None = None  # aware; naive means the brand's local time; None: now
    send_on_lunar: LunarDay | None = None
    claim_days: int = 30
    split_count: int | None = None
    split_total: int | None = None
    split_mode: str = SplitMode.EQUAL
    split_floor: int | None = None
    amount: int | None = None  # a gift card of this balance instead of the offer's value
    row_id: str | None = None
    batch_id: int | None = None


# --- Making a gift --------------------------------------------------------------------------------


def create_gift(brand_id: int, request: GiftRequest) -> Gift:
    """Make a gift in one transaction: hold (or issue and hold) its voucher, write it, send it now
    or schedule it. 404 unknown offer/voucher/member, 409 not_transferable, 422 a bad field."""
    brand = db.session.get(Brand, brand_id)
    if brand is None:
        raise NotFound()
    with write_transaction():
        gift = insert_gift(brand, request)
    if gift.status == GiftStatus.SCHEDULED:
        schedule_send(gift)
    return gift


def insert_gift(brand: Brand, request: GiftRequest) -> Gift:
    """create_gift inside the caller's write transaction (bulk gifting writes many in one)."""
    now = utcnow()
    send_at = schedule_time(brand.timezone, request.send_at, request.send_on_lunar, now)
    recipient_email, recipient_phone = _contacts(request.recipient_email, request.recipient_phone)
    sender = (
        get_member(brand.id, request.sender_member_external_id) if request.sender_member_external_id else None
    )
    gift = Gift(
        brand_id=brand.id,
        status=GiftStatus.SCHEDULED,
        sender_member_id=sender.id if sender else None,
        sender_name=request.sender_name or (sender.name if sender else None),
        recipient_name=request.recipient_name,
        recipient_email=recipient_email,
        recipient_phone=recipient_phone,
        language=request.language or brand.locale or "vi",
        message=request.message,
        design=request.design,
        claim_days=request.claim_days,
        batch_id=request.batch_id,
        row_id=request.row_id,
        created_by=current_actor(),
        created_at=now,
        send_at=send_at or now,
    )
    if request.voucher_code is not None:
        voucher = _members_voucher(brand.id, request, sender)
        offer = voucher.offer
        gift.offer_id, gift.voucher_id = offer.id, voucher.id
        gift.value = gift_value(offer, voucher.balance)
        db.session.add(gift)
        db.session.flush()
        _split(gift, request, offer, voucher.balance)
        if not hold_voucher(voucher, holder(gift.id)):
            raise GiftError(
                GiftErrorCode.NOT_TRANSFERABLE, "This voucher is in another gift, or no longer unused."
            )
        if sender is None:  # the voucher's owner gives it
            gift.sender_member_id = voucher.member_id
            gift.sender_name = gift.sender_name or (voucher.member.name if voucher.member else None)
    else:
        offer = _giftable_offer(brand.id, request)
        balance = request.split_total if request.split_count else request.amount
        voucher = insert_vouchers(brand, offer, 1, None, "gift", balance=balance, held_by=NEW_HOLD)[0]
        gift.offer_id, gift.voucher_id = offer.id, voucher.id
        gift.value = gift_value(offer, voucher.balance)
        db.session.add(gift)
        db.session.flush()
        _split(gift, request, offer, voucher.balance)
        transfer_hold(voucher.id, NEW_HOLD, holder(gift.id))
    if voucher.expires_at is not None and gift.send_at >= voucher.expires_at:
        field = "send_on_lunar" if request.send_on_lunar else "send_at"
        raise invalid_field(field, "The voucher expires before the gift would be sent.")
    record_audit(brand.id, events.GIFT_CREATED, "gift", gift.id, created_audit(gift))
    if gift.send_at <= now:
        send_now(gift, brand, now)
    return gift


def schedule_time(
    tz_name: str, send_at: datetime | None, lunar: LunarDay | None, now: datetime
) -> datetime | None:
    """When to send, in UTC: a date-time (naive: the brand's local time) or a lunar date at a local
    time; None (or a time already past) means now. 422 beyond FURTHEST_SCHEDULE."""
    zone = ZoneInfo(tz_name)
    if lunar is not None:
        try:
            day = solar_date(lunar.year, lunar.month, lunar.day, lunar.leap)
        except ValueError as error:
            raise invalid_field("send_on_lunar", str(error)) from error
        send_at = datetime.combine(day, lunar.at)
    if send_at is None:
        return None
    if send_at.tzinfo is None:
        send_at = send_at.replace(tzinfo=zone)
    send_at = send_at.astimezone(ZoneInfo("UTC"))
    if send_at > now + FURTHEST_SCHEDULE:
        field = "send_on_lunar" if lunar is not None else "send_at"
        raise invalid_field(field, f"A gift can be scheduled up to {FURTHEST_SCHEDULE.days} days ahead.")
    if lunar is not None and send_at <= now:
        # A past lunar day is a mistyped year, not "now": a lì xì for last Tết is not what was meant.
        raise invalid_field("send_on_lunar", "That lunar date has passed.")
    return send_at if send_at > now else None


def _contacts(
    email: str | None, phone: str | None, prefix: str = "recipient."
) -> tuple[str | None, str | None]:
    """The email and phone as stored; 422 naming the field (`prefix` + email | phone) otherwise."""
    normal_email = normalize_email(email) if email else None
    if email and normal_email is None:
        raise invalid_field(f"{prefix}email", "This is not an email address.")
    normal_phone = normalize_phone(phone) if phone else None
    if phone and normal_phone is None:
        raise invalid_field(f"{prefix}phone", "This is not a phone number.")
    return normal_email, normal_phone


def _members_voucher(brand_id: int, request: GiftRequest, sender: Member | None) -> Voucher:
    """The member's own voucher to give: 404 unknown, 409 when it is not theirs to give."""
    assert request.voucher_code is not None
    voucher = find_voucher(brand_id, request.voucher_code)
    if voucher.member_id is None or (sender is not None and voucher.member_id != sender.id):
        raise GiftError(GiftErrorCode.NOT_TRANSFERABLE, "Only a member's own voucher can be given.")
    if request.amount is not None:
        raise invalid_field("amount", "A member gives their voucher as it is: no amount.")
    return voucher


def _giftable_offer(brand_id: int, request: GiftRequest) -> Offer:
    if request.offer_id is None:
        raise invalid_field("offer_id", "Give an offer_id or a voucher_code.")
    offer = get_offer(brand_id, request.offer_id)
    if offer.archived_at is not None:
        raise invalid_field("offer_id", "This offer is archived.")
    if (request.amount is not None or request.split_count) and offer.kind != OfferKind.GIFT_CARD:
        field = "amount" if request.amount is not None else "split"
        raise invalid_field(
            field, "Only a gift-card offer can be given as an amount or split into envelopes."
        )
    if request.split_count and request.amount is not None:
        raise invalid_field("amount", "A lì xì splits split.total: give no amount.")
    if request.split_count and request.split_total is None:
        raise invalid_field("split.total", "Say the total to split.")
    return offer


def gift_value(offer: Offer, balance: int | None) -> int:
    """What a gift is worth in money (a percent voucher: its cap, if any)."""
    if offer.kind == OfferKind.GIFT_CARD:
        return balance if balance is not None else offer.value
    if offer.kind == OfferKind.PERCENT:
        return offer.max_discount or 0
    return offer.value


def _split(gift: Gift, request: GiftRequest, offer: Offer, balance: int | None) -> None:
    """Write a lì xì gift's envelopes, their amounts fixed now (drawn with secrets)."""
    if not request.split_count:
        return
    if offer.kind != OfferKind.GIFT_CARD or balance is None:
        raise invalid_field("split", "Only a gift card can be split into envelopes.")
    if request.split_total is not None and request.split_total != balance:
        raise invalid_field("split.total", "A member's gift card is split whole: the total is its balance.")
    floor = request.split_floor or current_app.config["GIFT_ENVELOPE_FLOOR"]
    try:
        amounts = split_amounts(balance, request.split_count, request.split_mode, floor)
    except ValueError as error:
        raise invalid_field("split.total", f"{error} ({request.split_count} × {floor}).") from error
    gift.split_count, gift.split_mode = request.split_count, request.split_mode
    db.session.add_all(
        GiftEnvelope(gift_id=gift.id, position=i, amount=amount) for i, amount in enumerate(amounts, 1)
    )


def created_audit(gift: Gift) -> dict:
    """What the audit row of a gift's making says."""
    return {
        "offer_id": gift.offer_id,
        "voucher_id": gift.voucher_id,
        "value": gift.value,
        "sender_member_id": gift.sender_member_id,
        "send_at": gift.send_at.isoformat(),
        "split_count": gift.split_count,
        "row_id": gift.row_id,
    }


# --- Sending ----------------------------------------------------------------------------------------


def claim_deadline(
    tz_name: str, claim_days: int, sent_at: datetime, voucher_expiry: datetime | None
) -> datetime:
    """The end of the local day `claim_days` after sending; never after the voucher's own expiry."""
    deadline = end_of_local_day(local_date(sent_at, tz_name) + timedelta(days=claim_days), tz_name)
    return min(deadline, voucher_expiry) if voucher_expiry is not None else deadline


def send_now(gift: Gift, brand: Brand, now: datetime) -> bool:
    """scheduled → sent, once (a conditional UPDATE), and deliver; inside the caller's transaction."""
    voucher_expiry = db.session.execute(
        select(Voucher.expires_at).where(Voucher.id == gift.voucher_id)
    ).scalar()
    deadline = claim_deadline(brand.timezone, gift.claim_days, now, voucher_expiry)
    sent = db.session.execute(
        update(Gift)
        .where(Gift.id == gift.id, Gift.status == GiftStatus.SCHEDULED)
        .values(status=GiftStatus.SENT, sent_at=now, expires_at=deadline)
        .execution_options(synchronize_session=False)
    ).rowcount
    if sent != 1:
        return False
    gift.status, gift.sent_at, gift.expires_at = GiftStatus.SENT, now, deadline
    delivery.deliver(gift, brand, "gift", claim_url(gift))
    record_audit(brand.id, events.GIFT_SENT, "gift", gift.id, {"expires_at": deadline.isoformat()})
    publish(brand.id, events.GIFT_SENT, gift_event(gift))
    return True


def schedule_send(gift: Gift) -> None:
    """A job at the gift's send_at (bulk gifts skip it). Never raises: the worker's sweep sends due
    gifts anyway, so a lost job (Redis down) only costs up to GIFT_SWEEP_SECONDS."""
    try:
        enqueue_at(gift.send_at, "gifting.expiry.send_gift", gift.id)
    except RedisError as error:
        current_app.logger.warning("gift %s: not scheduled (the sweep will send it): %s", gift.id, error)


def gift_event(gift: Gift, **extra: object) -> dict:
    """The payload of gift.* events: enough for a brand's CRM to follow the gift."""
    return {
        "gift_id": gift.id,
        "status": gift.status,
        "offer_id": gift.offer_id,
        "value": gift.value,
        "sender_member_id": gift.sender_member_id,
        "recipient": {
            "name": gift.recipient_name,
            "email": gift.recipient_email,
            "phone": gift.recipient_phone,
        },
        "batch_id": gift.batch_id,
        "row_id": gift.row_id,
        **extra,
    }


# --- Cancelling and resending -------------------------------------------------------------------------


def refuse_unless_open(gift: Gift) -> None:
    if gift.status == GiftStatus.CLAIMED:
        raise GiftError(GiftErrorCode.GIFT_CLAIMED)
    if gift.status not in OPEN_STATUSES:
        raise GiftError(GiftErrorCode.GIFT_CLOSED)


def cancel_gift(brand_id: int, gift_id: int) -> Gift:
    """Take an unclaimed gift back: a member's voucher returns to them with a new code, a brand's is
    voided (what envelopes were already opened stays with their claimers)."""
    with write_transaction():
        gift = get_gift(brand_id, gift_id)
        refuse_unless_open(gift)
        now = utcnow()
        closed = db.session.execute(
            update(Gift)
            .where(Gift.id == gift.id, Gift.status.in_(OPEN_STATUSES))
            .values(status=GiftStatus.CANCELLED, cancelled_at=now)
            .execution_options(synchronize_session=False)
        ).rowcount
        if closed != 1:
            db.session.refresh(gift)
            refuse_unless_open(gift)
        db.session.refresh(gift)
        give_back_gift(gift)
        record_audit(
            brand_id,
            events.GIFT_CANCELLED,
            "gift",
            gift.id,
            {"returned_voucher_id": gift.returned_voucher_id},
        )
        publish(brand_id, events.GIFT_CANCELLED, gift_event(gift))
    return gift


def give_back_gift(gift: Gift) -> None:
    """The held voucher goes back: to the sending member under a new code, or voided (the brand's);
    inside the caller's transaction."""
    if gift.sender_member_id is None:
        void_held(gift.voucher_id, holder(gift.id))
    elif hand_over(gift.voucher_id, holder(gift.id), gift.sender_member_id) is not None:
        gift.returned_voucher_id = gift.voucher_id


def resend_gift(brand_id: int, gift_id: int, email: str | None = None, phone: str | None = None) -> Gift:
    """Send the gift again, to a corrected email or phone if given (codes sent to the old ones die)."""
    with write_transaction():
        gift = get_gift(brand_id, gift_id)
        refuse_unless_open(gift)
        new_email, new_phone = _contacts(email, phone, prefix="")
        changed = {}
        if new_email and new_email != gift.recipient_email:
            changed["email"] = [gift.recipient_email, new_email]
            gift.recipient_email = new_email
        if new_phone and new_phone != gift.recipient_phone:
            changed["phone"] = [gift.recipient_phone, new_phone]
            gift.recipient_phone = new_phone
        if changed:
            db.session.execute(delete(GiftClaimCode).where(GiftClaimCode.gift_id == gift.id))
        brand = db.session.get(Brand, brand_id)
        assert brand is not None
        if gift.status != GiftStatus.SCHEDULED:
            delivery.deliver(gift, brand, "resend", claim_url(gift))
        record_audit(brand_id, events.GIFT_RESENT, "gift", gift.id, {"changed": changed})
        db.session.flush()
    return gift
