"""Campaigns, their prizes and earning rules, members' plays, and the plays themselves."""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Date,
    ForeignKey,
    Index,
    Integer,
    String,
    UniqueConstraint,
    false,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from lixi.database import UTCDateTime
from lixi.extensions import db
from lixi.timeutil import utcnow


class GameKind(StrEnum):
    SPIN_WHEEL = "spin_wheel"
    LUCKY_DRAW = "lucky_draw"
    SCRATCH_CARD = "scratch_card"


class CampaignStatus(StrEnum):
    DRAFT = "draft"
    ACTIVE = "active"
    PAUSED = "paused"
    ENDED = "ended"


class Campaign(db.Model):
    __tablename__ = "campaigns"

    id: Mapped[int] = mapped_column(primary_key=True)
    brand_id: Mapped[int] = mapped_column(ForeignKey("brands.id"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    game: Mapped[str] = mapped_column(String(20))
    status: Mapped[str] = mapped_column(String(10), default=CampaignStatus.DRAFT)
    starts_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    ends_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Money in minor units; null budget = no cap. budget_spent only ever grows by conditional UPDATEs.
    budget: Mapped[int | None] = mapped_column(BigInteger)
    budget_spent: Mapped[int] = mapped_column(BigInteger, default=0)
    plays_per_member_per_day: Mapped[int | None] = mapped_column(Integer)
    # Pacing: each limited prize is released at "winning moments" spread over the schedule.
    pacing: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    # Scheduled lucky draw: plays are entries until draw_at, then the winners are drawn once.
    draw_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    drawn_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Fairness: the seed is drawn with `secrets` at activation; only its SHA-256 is shown until the end.
    seed: Mapped[str | None] = mapped_column(String(64))
    seed_hash: Mapped[str | None] = mapped_column(String(64))
    activated_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    prizes: Mapped[list[Prize]] = relationship(order_by="Prize.position", lazy="selectin")
    earning_rules: Mapped[list[EarningRule]] = relationship(order_by="EarningRule.id", lazy="selectin")


class Prize(db.Model):
    __tablename__ = "prizes"

    id: Mapped[int] = mapped_column(primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaigns.id"), index=True)
    position: Mapped[int] = mapped_column(Integer)
    label: Mapped[str] = mapped_column(String(100))
    weight: Mapped[int] = mapped_column(Integer)
    # Null stock = unlimited. `remaining` is taken by `UPDATE … WHERE remaining > 0`.
    stock: Mapped[int | None] = mapped_column(Integer)
    remaining: Mapped[int | None] = mapped_column(Integer)
    daily_cap: Mapped[int | None] = mapped_column(Integer)
    offer_id: Mapped[int | None] = mapped_column(ForeignKey("offers.id"))
    # What one win costs the campaign's budget (minor units).
    value: Mapped[int] = mapped_column(BigInteger, default=0)


class PrizeMoment(db.Model):
    """A moment from which one unit of a paced prize may be won; claimed by the play that wins it."""

    __tablename__ = "prize_moments"
    __table_args__ = (Index("ix_prize_moments_prize_at", "prize_id", "at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    prize_id: Mapped[int] = mapped_column(ForeignKey("prizes.id"))
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    play_id: Mapped[int | None] = mapped_column(Integer)


class PrizeDay(db.Model):
    """Wins of a prize on one local day, for its daily cap."""

    __tablename__ = "prize_days"

    prize_id: Mapped[int] = mapped_column(ForeignKey("prizes.id"), primary_key=True)
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    won: Mapped[int] = mapped_column(Integer, default=0)


class EarningRule(db.Model):
    """A member event (within an amount band, for purchases) grants plays of the campaign."""

    __tablename__ = "earning_rules"

    id: Mapped[int] = mapped_column(primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaigns.id"), index=True)
    event: Mapped[str] = mapped_column(String(30))
    plays: Mapped[int] = mapped_column(Integer)
    min_amount: Mapped[int | None] = mapped_column(BigInteger)
    max_amount: Mapped[int | None] = mapped_column(BigInteger)


class MemberPlays(db.Model):
    """Plays a member has earned in a campaign and used: `used` only grows while below `granted`."""

    __tablename__ = "member_plays"

    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaigns.id"), primary_key=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id"), primary_key=True)
    granted: Mapped[int] = mapped_column(Integer, default=0)
    used: Mapped[int] = mapped_column(Integer, default=0)


class MemberDay(db.Model):
    """Plays of a member on one local day, for the campaign's per-day limit."""

    __tablename__ = "member_days"

    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaigns.id"), primary_key=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id"), primary_key=True)
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    played: Mapped[int] = mapped_column(Integer, default=0)


class MemberEvent(db.Model):
    """An action reported by the brand; its external_id is unique per brand, so a retry grants nothing."""

    __tablename__ = "member_events"
    __table_args__ = (UniqueConstraint("brand_id", "external_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    brand_id: Mapped[int] = mapped_column(ForeignKey("brands.id"))
    external_id: Mapped[str] = mapped_column(String(100))
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id"), index=True)
    type: Mapped[str] = mapped_column(String(30))
    amount: Mapped[int | None] = mapped_column(BigInteger)
    refund_of: Mapped[str | None] = mapped_column(String(100))  # a refund: the purchase's external_id
    grants: Mapped[list] = mapped_column(JSON, default=list)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Play(db.Model):
    """One spin, draw or scratch: what was decided, and what is needed to check it."""

    __tablename__ = "plays"
    __table_args__ = (Index("ix_plays_campaign_created", "campaign_id", "created_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    brand_id: Mapped[int] = mapped_column(ForeignKey("brands.id"))
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaigns.id"))
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id"), index=True)
    prize_id: Mapped[int | None] = mapped_column(ForeignKey("prizes.id"))
    voucher_id: Mapped[int | None] = mapped_column(ForeignKey("vouchers.id"))
    proof: Mapped[dict] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    prize: Mapped[Prize | None] = relationship()
