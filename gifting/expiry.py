"""The gifts' clock, run by the worker's sweep (and a job at each scheduled gift's time): send the
gifts that are due, remind recipients before a gift expires, and expire and return the rest."""

from __future__ import annotations

from datetime import timedelta

from flask import current_app
from sqlalchemy import select, update

from gifting import delivery, events
from gifting.links import claim_url
from gifting.models import CLAIMABLE_STATUSES, Gift, GiftStatus
from gifting.service import gift_event, give_back_gift, send_now
from lixi.audit import acting_as, record_audit
from lixi.database import write_transaction
from lixi.extensions import db
from lixi.models import Brand
from lixi.outbox import publish
from lixi.timeutil import utcnow

SWEEP_BATCH = 500
SYSTEM = "system"


def run_gift_sweep() -> dict[str, int]:
    """What the worker runs every GIFT_SWEEP_SECONDS; each step changes a gift once, so it is safe to
    run from several workers at a time."""
    return {"sent": send_due_gifts(), "reminded": remind_gifts(), "returned": expire_gifts()}


def send_gift(gift_id: int) -> bool:
    """Send one scheduled gift if it is due (the job enqueued for its send_at)."""
    with write_transaction(), acting_as(SYSTEM):
        gift = db.session.get(Gift, gift_id)
        now = utcnow()
        if gift is None or gift.status != GiftStatus.SCHEDULED or gift.send_at > now:
            return False
        brand = db.session.get(Brand, gift.brand_id)
        assert brand is not None
        return send_now(gift, brand, now)


def _due(query_filter: object, limit: int = SWEEP_BATCH) -> list[int]:
    return list(
        db.session.execute(select(Gift.id).where(query_filter).order_by(Gift.id).limit(limit)).scalars()
    )


def send_due_gifts() -> int:
    now = utcnow()
    due = _due((Gift.status == GiftStatus.SCHEDULED) & (Gift.send_at <= now))
    return sum(send_gift(gift_id) for gift_id in due)


def remind_gifts() -> int:
    """One reminder, GIFT_REMINDER_DAYS before the deadline, to a recipient who has not claimed."""
    now = utcnow()
    ahead = timedelta(days=current_app.config["GIFT_REMINDER_DAYS"])
    candidates = db.session.execute(
        select(Gift.id, Gift.sent_at, Gift.expires_at)
        .where(
            Gift.status.in_(CLAIMABLE_STATUSES),
            Gift.reminded_at.is_(None),
            Gift.expires_at > now,
            Gift.expires_at <= now + ahead,
            Gift.recipient_email.is_not(None) | Gift.recipient_phone.is_not(None),
        )
        .order_by(Gift.id)
        .limit(SWEEP_BATCH)
    ).all()
    # A gift whose whole claim time is shorter than the notice gets none: it was just sent.
    due = [gift_id for gift_id, sent_at, expires_at in candidates if sent_at + ahead < expires_at]
    reminded = 0
    for gift_id in due:
        with write_transaction(), acting_as(SYSTEM):
            marked = db.session.execute(
                update(Gift)
                .where(Gift.id == gift_id, Gift.reminded_at.is_(None), Gift.status.in_(CLAIMABLE_STATUSES))
                .values(reminded_at=now)
                .execution_options(synchronize_session=False)
            ).rowcount
            if marked:
                gift = db.session.get(Gift, gift_id)
                assert gift is not None
                brand = db.session.get(Brand, gift.brand_id)
                assert brand is not None
                delivery.deliver(gift, brand, "reminder", claim_url(gift))
                reminded += 1
    return reminded


def expire_gifts() -> int:
    """Gifts past their deadline: expired, and returned (a member's voucher, or what is left of a
    lì xì, back to the sender under a new code; a brand's voided) in one transaction each."""
    now = utcnow()
    due = _due(Gift.status.in_(CLAIMABLE_STATUSES) & (Gift.expires_at <= now))
    for gift_id in due:
        expire_gift(gift_id)
    return len(due)


def expire_gift(gift_id: int) -> bool:
    with write_transaction(), acting_as(SYSTEM):
        now = utcnow()
        expired = db.session.execute(
            update(Gift)
            .where(Gift.id == gift_id, Gift.status.in_(CLAIMABLE_STATUSES), Gift.expires_at <= now)
            .values(status=GiftStatus.RETURNED, expired_at=now, returned_at=now)
            .execution_options(synchronize_session=False)
        ).rowcount
        if not expired:
            return False
        gift = db.session.get(Gift, gift_id)
        assert gift is not None
        db.session.refresh(gift)
        give_back_gift(gift)
        record_audit(gift.brand_id, events.GIFT_EXPIRED, "gift", gift.id)
        publish(gift.brand_id, events.GIFT_EXPIRED, gift_event(gift, status=GiftStatus.EXPIRED))
        details = {"returned_voucher_id": gift.returned_voucher_id, "voided": gift.sender_member_id is None}
        record_audit(gift.brand_id, events.GIFT_RETURNED, "gift", gift.id, details)
        publish(gift.brand_id, events.GIFT_RETURNED, gift_event(gift, **details))
    return True
