"""Loyalty's tables: the programme, each member's account, the append-only points ledger with its
buckets, tier history, the rewards catalogue and referrals."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import JSON, BigInteger, Boolean, ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from lixi.database import UTCDateTime
from lixi.extensions import db
from lixi.models import Member
from lixi.timeutil import utcnow


class EntryKind(StrEnum):
    """What a ledger row records. Every kind but `pending` moves the available balance."""

    EARN = "earn"  # points earned by an event (or pending points becoming available)
    PENDING = "pending"  # points earned that wait out the return window (not yet in the balance)
    SPEND = "spend"  # an exchange for a reward
    EXPIRE = "expire"  # a bucket reached its end of day
    ADJUST = "adjust"  # a manual correction, with a reason
    CLAWBACK = "clawback"  # a refund taking back what its purchase earned
    REFERRAL = "referral"  # a referral reward (either side)
    BIRTHDAY = "birthday"  # the yearly birthday reward


class ReferralState(StrEnum):
    JOINED = "joined"
    PURCHASED = "purchased"
    REWARDED = "rewarded"


class LoyaltyProgramme(db.Model):
    """One per brand; its rules are the settings document the API's PUT validated (loyalty.schemas)."""

    __tablename__ = "loyalty_programmes"

    brand_id: Mapped[int] = mapped_column(ForeignKey("brands.id"), primary_key=True)
    settings: Mapped[dict] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class LoyaltyAccount(db.Model):
    """A member's points: the row every change of their points locks first (a conditional UPDATE),
    so two changes of one member's points run one after the other on both databases."""

    __tablename__ = "loyalty_accounts"
    __table_args__ = (UniqueConstraint("brand_id", "referral_code"),)

    member_id: Mapped[int] = mapped_column(ForeignKey("members.id"), primary_key=True)
    brand_id: Mapped[int] = mapped_column(ForeignKey("brands.id"), index=True)
    points: Mapped[int] = mapped_column(BigInteger, default=0)  # negative only by a clawback debt
    pending_points: Mapped[int] = mapped_column(BigInteger, default=0)
    referral_code: Mapped[str] = mapped_column(String(16))
    referred_by_id: Mapped[int | None] = mapped_column(ForeignKey("members.id"))
    # The first daily review that found the window below the tier (downgrade after the grace).
    tier_below_since: Mapped[datetime | None] = mapped_column(UTCDateTime)
    version: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class PointsEntry(db.Model):
    """One row of the append-only ledger: never updated, never deleted."""

    __tablename__ = "points_entries"
    __table_args__ = (Index("ix_points_entries_member", "member_id", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    brand_id: Mapped[int] = mapped_column(ForeignKey("brands.id"), index=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id"))
    kind: Mapped[str] = mapped_column(String(12))
    points: Mapped[int] = mapped_column(BigInteger)
    balance_after: Mapped[int] = mapped_column(BigInteger)
    event_external_id: Mapped[str | None] = mapped_column(String(100))
    reason: Mapped[str | None] = mapped_column(String(500))
    actor: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    available_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class PointsBucket(db.Model):
    """The points of one earning, spent soonest-expiring first. `source` names the earning once
    (event and rule, birthday and year, referral and side): its unique constraint makes each
    earning exactly once, whatever races."""

    __tablename__ = "points_buckets"
    __table_args__ = (
        UniqueConstraint("brand_id", "source"),
        Index("ix_points_buckets_member", "member_id", "expires_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    brand_id: Mapped[int] = mapped_column(ForeignKey("brands.id"))
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id"))
    source: Mapped[str] = mapped_column(String(160))
    kind: Mapped[str] = mapped_column(String(12))  # earn | referral | birthday | adjust
    event_external_id: Mapped[str | None] = mapped_column(String(100))
    points: Mapped[int] = mapped_column(BigInteger)  # as earned
    remaining: Mapped[int] = mapped_column(BigInteger)  # not yet spent, expired or clawed back
    clawed_back: Mapped[int] = mapped_column(BigInteger, default=0)  # by refunds, in total
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    available_at: Mapped[datetime] = mapped_column(UTCDateTime)
    released: Mapped[bool] = mapped_column(Boolean, default=True)  # False while pending
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    expired_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    notified_at: Mapped[datetime | None] = mapped_column(UTCDateTime)  # points.expiring sent


class PointsDraw(db.Model):
    """Which bucket a spend, an expiry or a clawback took its points from, and how many."""

    __tablename__ = "points_draws"

    id: Mapped[int] = mapped_column(primary_key=True)
    entry_id: Mapped[int] = mapped_column(ForeignKey("points_entries.id"), index=True)
    bucket_id: Mapped[int] = mapped_column(ForeignKey("points_buckets.id"), index=True)
    points: Mapped[int] = mapped_column(BigInteger)


class TierChange(db.Model):
    __tablename__ = "tier_changes"

    id: Mapped[int] = mapped_column(primary_key=True)
    brand_id: Mapped[int] = mapped_column(ForeignKey("brands.id"))
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id"), index=True)
    from_tier: Mapped[str | None] = mapped_column(String(40))
    to_tier: Mapped[str | None] = mapped_column(String(40))
    window_points: Mapped[int] = mapped_column(BigInteger)
    reason: Mapped[str] = mapped_column(String(20))  # earning | review
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Reward(db.Model):
    """An offer priced in points ("đổi quà")."""

    __tablename__ = "rewards"

    id: Mapped[int] = mapped_column(primary_key=True)
    brand_id: Mapped[int] = mapped_column(ForeignKey("brands.id"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    offer_id: Mapped[int] = mapped_column(ForeignKey("offers.id"))
    cost_points: Mapped[int] = mapped_column(BigInteger)
    stock: Mapped[int | None] = mapped_column(Integer)  # None: unlimited
    taken: Mapped[int] = mapped_column(Integer, default=0)
    per_member_limit: Mapped[int | None] = mapped_column(Integer)
    min_tier: Mapped[str | None] = mapped_column(String(40))
    starts_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    ends_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class RewardExchange(db.Model):
    __tablename__ = "reward_exchanges"
    __table_args__ = (Index("ix_reward_exchanges_member", "reward_id", "member_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    brand_id: Mapped[int] = mapped_column(ForeignKey("brands.id"))
    reward_id: Mapped[int] = mapped_column(ForeignKey("rewards.id"))
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id"))
    voucher_id: Mapped[int] = mapped_column(ForeignKey("vouchers.id"))
    entry_id: Mapped[int] = mapped_column(ForeignKey("points_entries.id"))
    points: Mapped[int] = mapped_column(BigInteger)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Referral(db.Model):
    """A referee joined with a referrer's code; both sides are rewarded on the first purchase."""

    __tablename__ = "referrals"
    __table_args__ = (UniqueConstraint("referee_id"), Index("ix_referrals_referrer", "referrer_id"))

    id: Mapped[int] = mapped_column(primary_key=True)
    brand_id: Mapped[int] = mapped_column(ForeignKey("brands.id"))
    referrer_id: Mapped[int] = mapped_column(ForeignKey("members.id"))
    referee_id: Mapped[int] = mapped_column(ForeignKey("members.id"))
    state: Mapped[str] = mapped_column(String(12), default=ReferralState.JOINED)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    purchased_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    rewarded_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    referee: Mapped[Member] = relationship(foreign_keys=[referee_id])


class BirthdayGrant(db.Model):
    """The birthday reward of one member in one year: its key makes the daily job grant it once."""

    __tablename__ = "birthday_grants"
    __table_args__ = (UniqueConstraint("member_id", "year"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    brand_id: Mapped[int] = mapped_column(ForeignKey("brands.id"))
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id"))
    year: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class StatementSent(db.Model):
    """The monthly statement message of one member for one month ("YYYY-MM"): sent once."""

    __tablename__ = "statements_sent"
    __table_args__ = (UniqueConstraint("member_id", "month"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    brand_id: Mapped[int] = mapped_column(ForeignKey("brands.id"))
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id"))
    month: Mapped[str] = mapped_column(String(7))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
