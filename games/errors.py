"""Error codes of the games domain (API.md)."""

from __future__ import annotations

from enum import StrEnum

from lixi.errors import DomainError


class GameErrorCode(StrEnum):
    """The games domain's refusals, as API.md names them (each a 409)."""

    NO_PLAYS_LEFT = "no_plays_left"
    CAMPAIGN_NOT_ACTIVE = "campaign_not_active"
    DAILY_LIMIT_REACHED = "daily_limit_reached"
    INVALID_TRANSITION = "invalid_transition"
    REFUND_EXCEEDS_PURCHASE = "refund_exceeds_purchase"


MESSAGES = {
    GameErrorCode.NO_PLAYS_LEFT: "This member has no plays left in this campaign.",
    GameErrorCode.CAMPAIGN_NOT_ACTIVE: "This campaign is not running now.",
    GameErrorCode.DAILY_LIMIT_REACHED: "This member has played as often as allowed today.",
    GameErrorCode.INVALID_TRANSITION: "The campaign cannot move to that status from where it is.",
    GameErrorCode.REFUND_EXCEEDS_PURCHASE: "More than is left to refund of this purchase.",
}


class GameConflict(DomainError):
    """A 409: the request is well formed but the campaign or the member's plays do not allow it."""

    def __init__(self, code: GameErrorCode, details: dict | None = None) -> None:
        super().__init__(code, 409, MESSAGES[code], details)
