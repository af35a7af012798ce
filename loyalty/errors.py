"""Error codes of the loyalty domain (API.md)."""

from __future__ import annotations

from enum import StrEnum

from lixi.errors import DomainError


class LoyaltyErrorCode(StrEnum):
    """Loyalty's refusals, as API.md names them (each a 409)."""

    INSUFFICIENT_POINTS = "insufficient_points"
    OUT_OF_STOCK = "out_of_stock"
    LIMIT_REACHED = "limit_reached"
    TIER_REQUIRED = "tier_required"
    NOT_ACTIVE = "reward_not_active"


MESSAGES = {
    LoyaltyErrorCode.INSUFFICIENT_POINTS: "The member does not have enough points.",
    LoyaltyErrorCode.OUT_OF_STOCK: "This reward is out of stock.",
    LoyaltyErrorCode.LIMIT_REACHED: "The member has taken this reward as often as allowed.",
    LoyaltyErrorCode.TIER_REQUIRED: "This reward needs a higher tier.",
    LoyaltyErrorCode.NOT_ACTIVE: "This reward is not offered now.",
}


class LoyaltyConflict(DomainError):
    """A 409: well formed, but the member's points or the reward do not allow it."""

    def __init__(self, code: LoyaltyErrorCode, details: dict | None = None) -> None:
        super().__init__(code, 409, MESSAGES[code], details)
