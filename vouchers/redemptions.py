"""Validate, redeem and void: using a voucher exactly once.

Each change is one write transaction whose decisive statement is a conditional UPDATE (checked
by what it returns) or an INSERT under a unique constraint, so the guarantees hold on SQLite
and PostgreSQL alike, across processes, without locks in Python.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from flask import current_app
from sqlalchemy import Select, Update, and_, bindparam, case, insert, or_, select, true, update

from lixi.audit import audit_insert_from, audit_params, current_actor, record_audit
from lixi.database import (
    changes_in_one_statement,
    insert_from,
    json_with,
    prefixed,
    write_in_one_statement,
    write_transaction,
)
from lixi.errors import NotFound
from lixi.extensions import db
from lixi.models import scoped
from lixi.outbox import event_insert_from, event_params, publish, published_alone
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
_REDEMPTION_PREFIX = "redemption_"
_REDEMPTION_BOUND = (  # the row redeem_voucher writes
    "brand_id",
    "voucher_id",
    "merchant_id",
    "amount",
    "bill_amount",
    "idempotency_key",
    "actor",
    "staff_user_id",
    "created_at",
)


def _made(redemption_id: Any, balance: Any) -> tuple[dict[str, Any], dict[str, Any]]:
    """What the write adds to the audit data and to the payload: values on the transaction's path,
    the statement's own expressions in the one-statement path (so both write the same keys)."""
    return {"redemption_id": redemption_id}, {"redemption_id": redemption_id, "balance": balance}


def _redeem_in_one_statement(take: Update) -> Select:
    """PostgreSQL: the whole redemption as one statement (lixi.database.changes_in_one_statement).

    The UPDATE that takes the voucher or the balance, then, for the row it returns, the redemption,
    its audit row and its outbox event (data-modifying CTEs, atomic as one statement). A lost race
    updates no row, so nothing is inserted and no row comes back. The rows' values are bound from
    the same dicts the transaction's path writes; the statement adds the ids and the balance it makes.
    """
    used = take.cte("used")
    table = Redemption.__table__
    redemption = (
        insert_from(table, used, _REDEMPTION_PREFIX, _REDEMPTION_BOUND, {})
        .returning(table.c.id)
        .cte("redemption")
    )
    source = redemption.join(used, true())
    audit_made, event_made = _made(redemption.c.id, used.c.balance)
    audit = audit_insert_from(redemption, json_with("audit_data", **audit_made)).cte("audit")
    event = event_insert_from(source, json_with("event_payload", **event_made)).cte("event")
    return select(*used.c, redemption.c.id, event.c.id).select_from(source.join(event, true())).add_cte(audit)


@dataclass(frozen=True, slots=True)
class _Taking:
    """How a redemption takes its part: the conditional UPDATE alone (in a transaction), or with the
    redemption's rows in one statement (PostgreSQL)."""

    update: Update
    in_one_statement: Select


_TAKE_THE_VOUCHER = _Taking(_USE_ONCE, _redeem_in_one_statement(_USE_ONCE))
_TAKE_PART_OF_THE_BALANCE = _Taking(_TAKE_FROM_BALANCE, _redeem_in_one_statement(_TAKE_FROM_BALANCE))


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
    conditional UPDATE re-checks status, expiry and balance, so a voucher changed in between is
    refused, never redeemed twice. On PostgreSQL the UPDATE, the redemption, its audit row and its
    outbox event are one statement (one round trip, atomic); elsewhere, and under an
    Idempotency-Key claim, one transaction.
    """
    voucher, valid_here = snapshot_voucher(brand_id, presented, merchant_id)
    offer = voucher.offer
    check_usable(voucher, valid_here, bill_amount)
    if offer.min_bill and bill_amount is None:
        raise invalid_field("bill_amount", "This voucher has a minimum bill: send bill_amount.")
    now = utcnow()
    taken, taking = _what_to_take(offer, amount, bill_amount)
    params = {"voucher_id": voucher.id, "at": now, "take": taken}

    redemption_row = {
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
    audit_data, payload = _audited(voucher.code, merchant_id, taken, now)
    if changes_in_one_statement():
        written = write_in_one_statement(
            taking.in_one_statement,
            {
                **params,
                **prefixed(_REDEMPTION_PREFIX, redemption_row),
                **audit_params(brand_id, events.VOUCHER_REDEEMED, "voucher", voucher.code, audit_data),
                **event_params(brand_id, events.TOPIC_VOUCHER_REDEEMED, payload),
            },
        )
        if written is None:
            raise lost_race(reread(voucher, brand_id), amount)
        voucher.status, voucher.balance, voucher.redeemed_at, redemption_id, message_id = written
        published_alone(brand_id, events.TOPIC_VOUCHER_REDEEMED, message_id)
        return RedemptionRecord(redemption_id, voucher, taken, bill_amount, merchant_id, now)

    with write_transaction() as session:
        connection = session.connection()
        changed = connection.execute(taking.update, params).first()
        if changed is None:
            raise lost_race(reread(voucher, brand_id), amount)
        voucher.status, voucher.balance, voucher.redeemed_at = changed
        redemption_id = connection.execute(_INSERT_REDEMPTION, redemption_row).scalar_one()
        audit_made, event_made = _made(redemption_id, voucher.balance)
        record_audit(brand_id, events.VOUCHER_REDEEMED, "voucher", voucher.code, {**audit_data, **audit_made})
        publish(brand_id, events.TOPIC_VOUCHER_REDEEMED, {**payload, **event_made})
    return RedemptionRecord(redemption_id, voucher, taken, bill_amount, merchant_id, now)


def _what_to_take(offer: Terms, amount: int | None, bill_amount: int | None) -> tuple[int, _Taking]:
    """What redeeming takes, and the UPDATE that takes it: part of a gift card's balance, or the voucher."""
    if offer.kind == OfferKind.GIFT_CARD:
        if amount is None:
            raise invalid_field("amount", "Gift cards need the amount to take from the balance.")
        return amount, _TAKE_PART_OF_THE_BALANCE
    discount = discount_for(offer, bill_amount)
    if discount is None:
        raise invalid_field("bill_amount", "Percent vouchers need bill_amount to work out the discount.")
    return discount, _TAKE_THE_VOUCHER


def _audited(code: str, merchant_id: int, taken: int, now: datetime) -> tuple[dict, dict]:
    """A redemption's audit data and outbox payload, but for what the write makes (_made)."""
    audit_data = {"merchant_id": merchant_id, "amount": taken}
    return audit_data, {"code": code, **audit_data, "redeemed_at": now.isoformat()}


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
