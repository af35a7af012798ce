"""Holding a voucher for someone else's turn (an open gift): while held nobody can use it; then it
is handed over with a new code, given back, voided, or its gift-card balance moved out in parts.

Each is one conditional UPDATE inside the caller's write transaction, matched on the holder, so
two racing claims (or a claim racing a redeem) change the voucher once. The caller audits.
"""

from __future__ import annotations

from sqlalchemy import or_, update

from lixi.extensions import db
from lixi.timeutil import utcnow
from vouchers.codes import new_code
from vouchers.models import OfferKind, Voucher, VoucherStatus


def hold_voucher(voucher: Voucher, holder: str) -> bool:
    """Hold an unused voucher of its owner's for `holder`; False when it cannot be given now (used,
    voided, expired, already held, or a gift card with part of its balance spent)."""
    now = utcnow()
    query = (
        update(Voucher)
        .where(
            Voucher.id == voucher.id,
            Voucher.member_id.is_not_distinct_from(voucher.member_id),
            Voucher.status == VoucherStatus.ISSUED,
            Voucher.held_by.is_(None),
            or_(Voucher.expires_at.is_(None), Voucher.expires_at > now),
        )
        .values(held_by=holder)
        .execution_options(synchronize_session=False)
    )
    if voucher.offer.kind == OfferKind.GIFT_CARD:
        # Only a whole gift card is given: what a spent part bought cannot be handed on.
        query = query.where(Voucher.balance == voucher.offer.value)
    return db.session.execute(query).rowcount == 1


def hand_over(voucher_id: int, holder: str, member_id: int | None) -> str | None:
    """Release the held voucher to `member_id` under a new code (the old one stops working at once);
    the new code, or None when `holder` no longer holds it."""
    code = new_code()
    changed = db.session.execute(
        update(Voucher)
        .where(Voucher.id == voucher_id, Voucher.held_by == holder)
        .values(code=code, member_id=member_id, held_by=None)
        .execution_options(synchronize_session=False)
    ).rowcount
    return code if changed == 1 else None


def void_held(voucher_id: int, holder: str) -> bool:
    """Void the held voucher for good (a brand's gift that was not claimed): it leaves the liability."""
    return (
        db.session.execute(
            update(Voucher)
            .where(Voucher.id == voucher_id, Voucher.held_by == holder)
            .values(status=VoucherStatus.VOIDED, voided_at=utcnow(), held_by=None)
            .execution_options(synchronize_session=False)
        ).rowcount
        == 1
    )


def take_from_held(voucher_id: int, holder: str, amount: int) -> int | None:
    """Move `amount` out of a held gift card's balance (a lì xì envelope); the balance left, or None
    when the holder no longer holds it or the balance is short."""
    row = db.session.execute(
        update(Voucher)
        .where(Voucher.id == voucher_id, Voucher.held_by == holder, Voucher.balance >= amount)
        .values(balance=Voucher.balance - amount)
        .returning(Voucher.balance)
        .execution_options(synchronize_session=False)
    ).first()
    return None if row is None else row[0]


def transfer_hold(voucher_id: int, from_holder: str, to_holder: str) -> bool:
    """Pass a hold on (a voucher issued held before its gift had an id)."""
    return (
        db.session.execute(
            update(Voucher)
            .where(Voucher.id == voucher_id, Voucher.held_by == from_holder)
            .values(held_by=to_holder)
            .execution_options(synchronize_session=False)
        ).rowcount
        == 1
    )
