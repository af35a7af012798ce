"""Validate, redeem and void: using a voucher exactly once.

Each change is one write transaction whose decisive statement is a conditional UPDATE (checked
by what it returns) or an INSERT under a unique constraint, so the guarantees hold on SQLite
and PostgreSQL alike, across processes, without locks in Python.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import Update, and_, bindparam, case, insert, or_, update

from lixi.audit import current_actor, record_audit
from lixi.database import write_transaction
from lixi.errors import NotFound
from lixi.extensions import db
from lixi.models import scoped
from lixi.outbox import publish
from lixi.timeutil import utcnow
from vouchers import events
from vouchers.errors import VoucherConflict, VoucherErrorCode, invalid_field
from vouchers.models import OfferKind, Redemption, Voucher, VoucherStatus
from vouchers.rules import Check, Terms, amount_off, check_usable, discount_for, lost_race
from vouchers.snapshot import VoucherSnapshot, reread, snapshot_voucher

# The statements of the hot path, built once. Each UPDATE is the whole guarantee: it matches
# only a voucher still issued, unexpired (and, for a gift card, with the balance), so of any
# number of racing requests only as many succeed as the voucher allows.
_STILL_USABLE = and_(
    Voucher.id == bindparam("voucher_id"),
    Voucher.status == VoucherStatus.ISSUED,
    Voucher.held_by.is_(None),
    or_(Voucher.expires_at.is_(None), Voucher.expires_at > bindparam("at")),
)
_CHANGED = (Voucher.status, Voucher.balance, Voucher.redeemed_at)
_USE_ONCE = (
    update(Voucher)
    .where(_STILL_USABLE)
    .values(status=VoucherStatus.REDEEMED, redeemed_at=bindparam("at"))
    .returning(*_CHANGED)
    .execution_options(synchronize_session=False)
)
_TAKE_FROM_BALANCE = (
    update(Voucher)
    .where(_STILL_USABLE, Voucher.balance >= bindparam("take"))
    .values(
        balance=Voucher.balance - bindparam("take"),
        status=case((Voucher.balance == bindparam("take"), VoucherStatus.REDEEMED), else_=Voucher.status),
        redeemed_at=bindparam("at"),
    )
    .returning(*_CHANGED)
    .execution_options(synchronize_session=False)
)
_INSERT_REDEMPTION = insert(Redemption.__table__).returning(Redemption.__table__.c.id)


@dataclass(frozen=True, slots=True)
class RedemptionRecord:
    """A redemption as it was just written (RedemptionOutSchema's attributes), with its voucher after it."""

    id: int
    voucher: VoucherSnapshot
    amount: int
    bill_amount: int | None
    merchant_id: int
    created_at: datetime
    voided_at: None = None
    void_reason: None = None


def validate_voucher(
    brand_id: int, presented: str, merchant_id: int | None = None, bill_amount: int | None = None
) -> Check:
    """Whether the code can be used now (here, for this bill), and what it would take; changes nothing."""
    voucher, valid_here = snapshot_voucher(brand_id, presented, merchant_id)
    check_usable(voucher, valid_here, bill_amount)
    return Check(voucher, amount_off(voucher, bill_amount))


def redeem_voucher(
    brand_id: int,
    presented: str,
    merchant_id: int,
    amount: int | None = None,
    bill_amount: int | None = None,
    idempotency_key: str | None = None,
    actor: str = "api",
    staff_user_id: int | None = None,
) -> RedemptionRecord:
    """Redeem once (or take `amount` from a gift card's balance), at a merchant, in one transaction.

    The checks run before the write lock is taken (on SQLite writers queue behind it); the
    conditional UPDATE inside the transaction re-checks status, expiry and balance, so a
    voucher changed in between is refused, never redeemed twice.
    """
    voucher, valid_here = snapshot_voucher(brand_id, presented, merchant_id)
    offer = voucher.offer
    check_usable(voucher, valid_here, bill_amount)
    if offer.min_bill and bill_amount is None:
        raise invalid_field("bill_amount", "This voucher has a minimum bill: send bill_amount.")
    now = utcnow()
    taken, redeem = _what_to_take(offer, amount, bill_amount)
    params = {"voucher_id": voucher.id, "at": now, "take": taken}

    with write_transaction() as session:
        connection = session.connection()
        changed = connection.execute(redeem, params).first()
        if changed is None:
            raise lost_race(reread(voucher, brand_id), amount)
        voucher.status, voucher.balance, voucher.redeemed_at = changed
        row = {
            "brand_id": brand_id,
            "voucher_id": voucher.id,
            "merchant_id": merchant_id,
            "amount": taken,
            "bill_amount": bill_amount,
            "idempotency_key": idempotency_key,
            "actor": actor,
            "staff_user_id": staff_user_id,
            "created_at": now,
        }
        redemption_id = connection.execute(_INSERT_REDEMPTION, row).scalar_one()
        redemption = RedemptionRecord(redemption_id, voucher, taken, bill_amount, merchant_id, now)
        _record_redemption(brand_id, voucher, redemption, now)
    return redemption


def _what_to_take(offer: Terms, amount: int | None, bill_amount: int | None) -> tuple[int, Update]:
    """What redeeming takes, and the UPDATE that takes it: part of a gift card's balance, or the voucher."""
    if offer.kind == OfferKind.GIFT_CARD:
        if amount is None:
            raise invalid_field("amount", "Gift cards need the amount to take from the balance.")
        return amount, _TAKE_FROM_BALANCE
    discount = discount_for(offer, bill_amount)
    if discount is None:
        raise invalid_field("bill_amount", "Percent vouchers need bill_amount to work out the discount.")
    return discount, _USE_ONCE


def _record_redemption(
    brand_id: int, voucher: VoucherSnapshot, redemption: RedemptionRecord, now: datetime
) -> None:
    """The audit row and the outbox event of a redemption, in its transaction."""
    record_audit(
        brand_id,
        events.VOUCHER_REDEEMED,
        "voucher",
        voucher.code,
        {"redemption_id": redemption.id, "merchant_id": redemption.merchant_id, "amount": redemption.amount},
    )
    publish(
        brand_id,
        events.TOPIC_VOUCHER_REDEEMED,
        {
            "code": voucher.code,
            "redemption_id": redemption.id,
            "merchant_id": redemption.merchant_id,
            "amount": redemption.amount,
            "balance": voucher.balance,
            "redeemed_at": now.isoformat(),
        },
    )


def get_redemption(brand_id: int, redemption_id: int) -> Redemption:
    query = scoped(Redemption, brand_id).where(Redemption.id == redemption_id)
    redemption = db.session.execute(query).scalar()
    if redemption is None:
        raise NotFound("No such redemption.")
    return redemption


def void_redemption(brand_id: int, redemption_id: int, reason: str | None = None) -> Redemption:
    """Undo a mistaken redemption within VOID_WINDOW_SECONDS: the voucher or balance comes back."""
    window = timedelta(seconds=current_app.config["VOID_WINDOW_SECONDS"])
    with write_transaction() as session:
        redemption = get_redemption(brand_id, redemption_id)
        now = utcnow()
        if redemption.voided_at is not None:
            raise VoucherConflict(VoucherErrorCode.ALREADY_VOIDED)
        if redemption.created_at < now - window:
            raise VoucherConflict(VoucherErrorCode.VOID_WINDOW_CLOSED)
        result = session.execute(
            update(Redemption)
            .where(Redemption.id == redemption.id, Redemption.voided_at.is_(None))
            .values(voided_at=now, void_reason=reason, voided_by=current_actor())
            .execution_options(synchronize_session=False)
        )
        if result.rowcount != 1:
            raise VoucherConflict(VoucherErrorCode.ALREADY_VOIDED)
        voucher = redemption.voucher
        if voucher.offer.kind == OfferKind.GIFT_CARD:
            restore = update(Voucher).values(
                balance=Voucher.balance + redemption.amount,
                status=case(
                    (Voucher.status == VoucherStatus.REDEEMED, VoucherStatus.ISSUED), else_=Voucher.status
                ),
            )
        else:
            restore = (
                update(Voucher)
                .where(Voucher.status == VoucherStatus.REDEEMED)
                .values(status=VoucherStatus.ISSUED, redeemed_at=None)
            )
        session.execute(restore.where(Voucher.id == voucher.id).execution_options(synchronize_session=False))
        session.refresh(redemption)
        session.refresh(voucher)
        record_audit(
            brand_id,
            events.REDEMPTION_VOIDED,
            "redemption",
            redemption.id,
            {"voucher": voucher.code, "amount": redemption.amount, "reason": reason},
        )
        publish(
            brand_id,
            events.TOPIC_REDEMPTION_VOIDED,
            {
                "code": voucher.code,
                "redemption_id": redemption.id,
                "amount": redemption.amount,
                "reason": reason,
            },
        )
    return redemption
