"""When a voucher can be used, and what it takes off a bill: the checks shared by validate and redeem."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from sqlalchemy import select

from lixi.extensions import db
from lixi.timeutil import utcnow
from vouchers.errors import VoucherConflict, VoucherErrorCode
from vouchers.models import OfferKind, Redemption, VoucherStatus


class Terms(Protocol):
    """What the rules read of an offer: the ORM Offer or a snapshot's OfferTerms (vouchers.snapshot)."""

    kind: str
    value: int
    max_discount: int | None
    min_bill: int | None


class UsableVoucher(Protocol):
    """What the rules read of a voucher: the ORM Voucher or a VoucherSnapshot."""

    id: int
    status: str
    held_by: str | None
    balance: int | None
    expires_at: datetime | None

    @property
    def offer(self) -> Terms: ...

    def status_at(self, instant: datetime) -> str: ...


def lost_race(voucher: UsableVoucher, amount: int | None) -> VoucherConflict:
    """The conditional UPDATE matched nothing: someone changed the voucher first. Say what, from
    the voucher as it is now (read again by the caller)."""
    if voucher.held_by is not None:
        return VoucherConflict(VoucherErrorCode.HELD)
    if voucher.status == VoucherStatus.VOIDED:
        return VoucherConflict(VoucherErrorCode.VOIDED)
    if voucher.status == VoucherStatus.REDEEMED:
        return _already_redeemed(voucher)
    if voucher.status_at(utcnow()) == VoucherStatus.EXPIRED:
        return VoucherConflict(VoucherErrorCode.EXPIRED)
    return VoucherConflict(
        VoucherErrorCode.INSUFFICIENT_BALANCE, {"balance": voucher.balance, "amount": amount}
    )


@dataclass(frozen=True)
class Check:
    """What validation found: the voucher and what it would take off the bill (if known)."""

    voucher: UsableVoucher
    amount: int | None


def discount_for(offer: Terms, bill_amount: int | None) -> int | None:
    """What a single-use voucher takes off a bill; None when it depends on an unknown bill."""
    if offer.kind == OfferKind.FREE_ITEM:
        return offer.value
    if offer.kind == OfferKind.FIXED_AMOUNT:
        return offer.value if bill_amount is None else min(offer.value, bill_amount)
    if offer.kind == OfferKind.PERCENT:
        if bill_amount is None:
            return None
        discount = bill_amount * offer.value // 100
        return min(discount, offer.max_discount) if offer.max_discount is not None else discount
    return None


def amount_off(voucher: UsableVoucher, bill_amount: int | None) -> int | None:
    """What using the voucher now takes off the bill; None for a gift card (the cashier says how much)."""
    if voucher.offer.kind == OfferKind.GIFT_CARD:
        return None
    return discount_for(voucher.offer, bill_amount)


def _last_redemption(voucher: UsableVoucher) -> Redemption | None:
    query = (
        select(Redemption)
        .where(Redemption.voucher_id == voucher.id, Redemption.voided_at.is_(None))
        .order_by(Redemption.id.desc())
        .limit(1)
    )
    return db.session.execute(query).scalar()


def _already_redeemed(voucher: UsableVoucher) -> VoucherConflict:
    last = _last_redemption(voucher)
    details = {}
    if last is not None:
        details = {
            "redeemed_at": last.created_at.isoformat(),
            "merchant_id": last.merchant_id,
            "merchant_name": last.merchant.name,
        }
    return VoucherConflict(VoucherErrorCode.ALREADY_REDEEMED, details)


def check_usable(voucher: UsableVoucher, valid_here: bool, bill_amount: int | None) -> None:
    """Raise the first reason this voucher cannot be used now (at this merchant, for this bill)."""
    now = utcnow()
    offer = voucher.offer
    if voucher.status == VoucherStatus.VOIDED:
        raise VoucherConflict(VoucherErrorCode.VOIDED)
    if voucher.status == VoucherStatus.REDEEMED:
        raise _already_redeemed(voucher)
    if voucher.held_by is not None:
        raise VoucherConflict(VoucherErrorCode.HELD)
    if voucher.status_at(now) == VoucherStatus.EXPIRED:
        assert voucher.expires_at is not None
        raise VoucherConflict(VoucherErrorCode.EXPIRED, {"expired_at": voucher.expires_at.isoformat()})
    if not valid_here:
        raise VoucherConflict(VoucherErrorCode.NOT_VALID_HERE)
    if offer.min_bill and bill_amount is not None and bill_amount < offer.min_bill:
        raise VoucherConflict(VoucherErrorCode.MIN_BILL_NOT_MET, {"min_bill": offer.min_bill})
