"""Error codes of the gifting domain (API.md "Gifting")."""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from lixi.errors import DomainError


class GiftErrorCode(StrEnum):
    NOT_TRANSFERABLE = "not_transferable"  # 409: the voucher cannot be given (used, held, partly spent…)
    GIFT_CLAIMED = "gift_claimed"  # 409
    GIFT_CLOSED = "gift_closed"  # 409: cancelled, expired or returned
    NOT_SENT_YET = "not_sent_yet"  # 409: scheduled
    CODE_REQUIRED = "code_required"  # 422
    CODE_INVALID = "code_invalid"  # 422
    CODE_EXPIRED = "code_expired"  # 422
    CODE_LOCKED = "code_locked"  # 409: too many wrong tries; ask for a new code
    TOO_MANY_CODES = "too_many_codes"  # 429
    ENVELOPES_EMPTY = "envelopes_empty"  # 409
    ENVELOPE_TAKEN = "envelope_taken"  # 409: this person already has one of this gift's envelopes


STATUS = {
    GiftErrorCode.CODE_REQUIRED: 422,
    GiftErrorCode.CODE_INVALID: 422,
    GiftErrorCode.CODE_EXPIRED: 422,
    GiftErrorCode.TOO_MANY_CODES: 429,
}

MESSAGES = {
    GiftErrorCode.NOT_TRANSFERABLE: "This voucher cannot be given as a gift.",
    GiftErrorCode.GIFT_CLAIMED: "This gift has already been claimed.",
    GiftErrorCode.GIFT_CLOSED: "This gift is no longer available.",
    GiftErrorCode.NOT_SENT_YET: "This gift has not been sent yet.",
    GiftErrorCode.CODE_REQUIRED: "Enter the code we sent you.",
    GiftErrorCode.CODE_INVALID: "That code is not right.",
    GiftErrorCode.CODE_EXPIRED: "That code has expired: ask for a new one.",
    GiftErrorCode.CODE_LOCKED: "Too many wrong codes: ask for a new one.",
    GiftErrorCode.TOO_MANY_CODES: "Too many codes were sent for this gift.",
    GiftErrorCode.ENVELOPES_EMPTY: "All the envelopes have been opened.",
    GiftErrorCode.ENVELOPE_TAKEN: "You have already opened an envelope of this gift.",
}


class GiftError(DomainError):
    """A refusal of gifting, with its stable code; 409 unless STATUS says otherwise."""

    def __init__(
        self, code: GiftErrorCode, message: str | None = None, details: dict[str, Any] | None = None
    ) -> None:
        super().__init__(code, STATUS.get(code, 409), message or MESSAGES[code], details)
