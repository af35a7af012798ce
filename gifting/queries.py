"""Reading gifts: one of the brand's, the list, a member's sent and received, the deliveries."""

from __future__ import annotations

from sqlalchemy import ColumnElement, or_, select
from sqlalchemy.orm import selectinload

from gifting.models import Gift, GiftDelivery, GiftEnvelope
from lixi.errors import NotFound
from lixi.extensions import db
from lixi.models import MailMessage, scoped

LIST_LIMIT = 100
# What a listed gift shows besides its own row, loaded for the whole page at once (not per gift).
LISTED_WITH = (selectinload(Gift.envelopes), selectinload(Gift.sender), selectinload(Gift.recipient_member))


def get_gift(brand_id: int, gift_id: int) -> Gift:
    gift = db.session.execute(scoped(Gift, brand_id).where(Gift.id == gift_id)).scalar()
    if gift is None:
        raise NotFound("No such gift.")
    return gift


def list_gifts(
    brand_id: int,
    status: str | None = None,
    member_id: int | None = None,
    before_id: int | None = None,
    limit: int = 50,
    search: str | None = None,
) -> list[Gift]:
    """The brand's gifts, newest first; a member's (sent or received), by status, or matching a
    recipient's name, email or phone."""
    query = (
        scoped(Gift, brand_id).options(*LISTED_WITH).order_by(Gift.id.desc()).limit(min(limit, LIST_LIMIT))
    )
    if status:
        query = query.where(Gift.status == status)
    if member_id is not None:
        query = query.where(_of_member(member_id))
    if before_id is not None:
        query = query.where(Gift.id < before_id)
    if search:
        pattern = f"%{search.strip()}%"
        query = query.where(
            or_(
                Gift.recipient_name.ilike(pattern),
                Gift.recipient_email.ilike(pattern),
                Gift.recipient_phone.ilike(pattern),
            )
        )
    return list(db.session.execute(query).scalars())


def deliveries_of(gift_id: int) -> list[dict]:
    """Every attempt to tell the recipient, oldest first, with where it stands: a mail's status
    (pending, sent, failed), "requested" for a text handed to the brand's provider, "shared" for a
    link the sender passes on."""
    query = (
        select(GiftDelivery, MailMessage.status)
        .outerjoin(MailMessage, MailMessage.id == GiftDelivery.mail_id)
        .where(GiftDelivery.gift_id == gift_id)
        .order_by(GiftDelivery.id)
    )
    return [
        {
            "kind": delivery.kind,
            "channel": delivery.channel,
            "to": delivery.to_address,
            "created_at": delivery.created_at,
            "status": mail_status or ("requested" if delivery.channel == "phone" else "shared"),
            "mail_id": delivery.mail_id,
        }
        for delivery, mail_status in db.session.execute(query)
    ]


def _received_by(member_id: int) -> ColumnElement[bool]:
    """Gifts a member claimed, or of which they opened an envelope."""
    opened_envelope = select(GiftEnvelope.gift_id).where(GiftEnvelope.claimer_member_id == member_id)
    return or_(Gift.recipient_member_id == member_id, Gift.id.in_(opened_envelope))


def _of_member(member_id: int) -> ColumnElement[bool]:
    """Gifts a member sent or received."""
    return or_(Gift.sender_member_id == member_id, _received_by(member_id))


def gifts_of_member(brand_id: int, member_id: int) -> tuple[list[Gift], list[Gift]]:
    """The gifts a member sent and those they received (claimed as a member, or envelopes they opened)."""
    sent = (
        scoped(Gift, brand_id)
        .where(Gift.sender_member_id == member_id)
        .order_by(Gift.id.desc())
        .limit(LIST_LIMIT)
    )
    received = (
        scoped(Gift, brand_id).where(_received_by(member_id)).order_by(Gift.id.desc()).limit(LIST_LIMIT)
    )
    return list(db.session.execute(sent).scalars()), list(db.session.execute(received).scalars())
