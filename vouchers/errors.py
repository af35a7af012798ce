"""Error codes of the voucher domain (API.md), as DomainErrors."""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from lixi.errors import DomainError, invalid_field

__all__ = ["OfferArchived", "VoucherConflict", "VoucherErrorCode", "invalid_field"]


class VoucherErrorCode(StrEnum):
    ALREADY_REDEEMED = "already_redeemed"
    VOIDED = "voided"
    EXPIRED = "expired"
    NOT_VALID_HERE = "not_valid_here"
    MIN_BILL_NOT_MET = "min_bill_not_met"
    INSUFFICIENT_BALANCE = "insufficient_balance"
    VOID_WINDOW_CLOSED = "void_window_closed"
    ALREADY_VOIDED = "already_voided"
    OFFER_ARCHIVED = "offer_archived"
    HELD = "held"  # in an open gift (vouchers.held_by)
    STORE_NOT_CHOSEN = "store_not_chosen"  # the merchant page: staff of several stores pick one first


MESSAGES = {
    VoucherErrorCode.ALREADY_REDEEMED: "This voucher has already been redeemed.",
    VoucherErrorCode.VOIDED: "This voucher has been voided.",
    VoucherErrorCode.EXPIRED: "This voucher has expired.",
    VoucherErrorCode.NOT_VALID_HERE: "This voucher is not valid at this merchant.",
    VoucherErrorCode.MIN_BILL_NOT_MET: "The bill is below this voucher's minimum.",
    VoucherErrorCode.INSUFFICIENT_BALANCE: "The gift card's balance is lower than the amount.",
    VoucherErrorCode.VOID_WINDOW_CLOSED: "This redemption is too old to be voided.",
    VoucherErrorCode.ALREADY_VOIDED: "This has already been voided.",
    VoucherErrorCode.HELD: (
        "This voucher has been sent as a gift: it can be used once the gift is claimed or returned."
    ),
    VoucherErrorCode.OFFER_ARCHIVED: "The offer was archived while its vouchers were being issued.",
}


class VoucherConflict(DomainError):
    """A 409: the code is genuine but cannot be used (redeemed, expired, wrong store, …)."""

    def __init__(self, code: VoucherErrorCode, details: dict[str, Any] | None = None) -> None:
        super().__init__(code, 409, MESSAGES[code], details)


class OfferArchived(DomainError):
    """A 409 that stops a bulk issue: archiving an offer means no new vouchers of it."""

    def __init__(self) -> None:
        code = VoucherErrorCode.OFFER_ARCHIVED
        super().__init__(code, 409, MESSAGES[code])
