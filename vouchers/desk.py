"""The merchant's counter: check a scanned code at a store, redeem it, today's redemptions, voids.

Everything here goes through the same services as the API (lookup, checks, the conditional
UPDATE of a redemption, voids); this module adds the store and the cashier.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import select

from lixi.auth import staff_actor
from lixi.errors import NotFound
from lixi.extensions import db
from lixi.merchants import list_merchants
from lixi.models import Brand, Merchant, StaffUser
from lixi.timeutil import end_of_local_day, local_date, utcnow
from vouchers.errors import VoucherConflict
from vouchers.models import Redemption
from vouchers.redemptions import RedemptionRecord, get_redemption, redeem_voucher, void_redemption
from vouchers.rules import amount_off, check_usable
from vouchers.snapshot import VoucherSnapshot, snapshot_voucher

TODAY_LIMIT = 200  # a busy counter's day fits; the dashboard has the full history


@dataclass(frozen=True)
class Verdict:
    """What a scan found: the voucher, why it cannot be used here (if so), and what it takes off now."""

    voucher: VoucherSnapshot
    refusal: VoucherConflict | None
    amount: int | None


def check_at_store(brand_id: int, merchant_id: int, presented: str, bill_amount: int | None) -> Verdict:
    """Unknown, forged or another brand's code: NotFound (one answer). Otherwise a verdict."""
    voucher, valid_here = snapshot_voucher(brand_id, presented, merchant_id)
    try:
        check_usable(voucher, valid_here, bill_amount)
    except VoucherConflict as refusal:
        return Verdict(voucher, refusal, None)
    return Verdict(voucher, None, amount_off(voucher, bill_amount))


def redeem_at_store(
    user: StaffUser,
    merchant_id: int,
    presented: str,
    amount: int | None,
    bill_amount: int | None,
    idempotency_key: str | None,
) -> RedemptionRecord:
    return redeem_voucher(
        user.brand_id,
        presented,
        merchant_id,
        amount=amount,
        bill_amount=bill_amount,
        idempotency_key=idempotency_key,
        actor=staff_actor(user),
        staff_user_id=user.id,
    )


def refused_verdict(
    brand_id: int, merchant_id: int, presented: str, bill_amount: int | None, refusal: VoucherConflict
) -> Verdict:
    """What to show when a redemption was refused: the voucher as it is now, and why.

    The fresh check names the first reason (say, already redeemed in the meantime); a refusal only
    the redemption sees (not enough balance for the amount asked) is kept."""
    verdict = check_at_store(brand_id, merchant_id, presented, bill_amount)
    return Verdict(verdict.voucher, verdict.refusal or refusal, None)


def staff_brand(user: StaffUser) -> Brand:
    """The brand a member of staff works for."""
    brand = db.session.get(Brand, user.brand_id)
    assert brand is not None
    return brand


def stores_of(user: StaffUser) -> list[Merchant]:
    """The open stores where this member of staff may scan: their own, or any for a brand admin."""
    if user.merchants:
        return [m for m in user.merchants if m.archived_at is None]
    return list_merchants(user.brand_id)


def start_of_local_day(instant: datetime, tz_name: str) -> datetime:
    return end_of_local_day(local_date(instant, tz_name) - timedelta(days=1), tz_name)


def todays_redemptions(brand: Brand, merchant_id: int) -> list[Redemption]:
    """The store's redemptions since local midnight, newest first."""
    since = start_of_local_day(utcnow(), brand.timezone)
    query = (
        select(Redemption)
        .where(
            Redemption.brand_id == brand.id,
            Redemption.merchant_id == merchant_id,
            Redemption.created_at >= since,
        )
        .order_by(Redemption.id.desc())
        .limit(TODAY_LIMIT)
    )
    return list(db.session.execute(query).scalars())


def void_window_open(redemption: Redemption) -> bool:
    window = timedelta(seconds=current_app.config["VOID_WINDOW_SECONDS"])
    return redemption.voided_at is None and redemption.created_at >= utcnow() - window


@dataclass(frozen=True)
class Today:
    """A store's day: its redemptions (newest first), those it may still void, and what they took."""

    redemptions: list[Redemption]
    voidable: set[int]
    total: int


def today_at_store(brand: Brand, merchant_id: int) -> Today:
    """The store's day so far, for the list under the scanner."""
    redemptions = todays_redemptions(brand, merchant_id)
    return Today(
        redemptions,
        {r.id for r in redemptions if void_window_open(r)},
        sum(r.amount for r in redemptions if r.voided_at is None),
    )


def void_at_store(brand_id: int, merchant_id: int, redemption_id: int, reason: str) -> Redemption:
    """Void a redemption made at this store (another store's is not found: staff act where they work)."""
    redemption = get_redemption(brand_id, redemption_id)
    if redemption.merchant_id != merchant_id:
        raise NotFound("No such redemption.")
    return void_redemption(brand_id, redemption_id, reason)
