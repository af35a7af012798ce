"""What loyalty writes down: its audit actions and the outbox topics it publishes, named once here."""

from __future__ import annotations

from typing import Final

# Audit actions (lixi.audit.record_audit), one per state change.
PROGRAMME_SAVED: Final = "loyalty.programme_saved"
POINTS_CHANGED: Final = "points.changed"  # earn, release, expire, clawback, referral, birthday
POINTS_ADJUSTED: Final = "points.adjusted"
REWARD_CREATED: Final = "reward.created"
REWARD_UPDATED: Final = "reward.updated"
EXCHANGE_MADE: Final = "reward.exchanged"
REFERRAL_JOINED: Final = "referral.joined"
TIER_CHANGED: Final = "tier.changed"
TILL_PURCHASE: Final = "member_event.recorded_at_till"  # by a cashier, on a member card

# Outbox topics (lixi.outbox.publish).
POINTS_EARNED: Final = "points.earned"
POINTS_EXPIRING: Final = "points.expiring"
REWARD_EXCHANGED: Final = "reward.exchanged"
TIER_UPGRADED: Final = "tier.upgraded"
TIER_DOWNGRADED: Final = "tier.downgraded"
REFERRAL_REWARDED: Final = "referral.rewarded"
MEMBER_BIRTHDAY: Final = "member.birthday"
MESSAGE_REQUESTED: Final = "message.requested"  # an SMS or Zalo message for the brand's own provider
TOPICS: Final = (
    POINTS_EARNED,
    POINTS_EXPIRING,
    REWARD_EXCHANGED,
    TIER_UPGRADED,
    TIER_DOWNGRADED,
    REFERRAL_REWARDED,
    MEMBER_BIRTHDAY,
    MESSAGE_REQUESTED,
)
