"""A member's standing, read: points, pending points, tier and the way to the next, expiring
points, referral code, and the ledger's pages. Reading settles first what fell due (a short write)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select

from lixi.database import write_transaction
from lixi.extensions import db
from lixi.models import Member
from lixi.timeutil import utcnow
from loyalty.account import current_tier
from loyalty.ledger import falls_due, lock_account
from loyalty.models import LoyaltyAccount, PointsBucket, PointsEntry
from loyalty.programme import Programme, get_programme
from loyalty.tiers import window_points

EXPIRING_SHOWN = 5


@dataclass(frozen=True)
class Expiring:
    points: int
    expires_at: datetime


@dataclass(frozen=True)
class MemberLoyalty:
    points: int
    pending_points: int
    tier: str | None
    next_tier: str | None
    next_tier_min: int | None
    points_to_next_tier: int | None
    window_points: int
    expiring: list[Expiring]
    referral_code: str

    @property
    def tier_progress(self) -> float:
        """0–1 of the way from the current tier to the next (1 at the top)."""
        if self.next_tier_min is None:
            return 1.0
        return min(1.0, self.window_points / self.next_tier_min) if self.next_tier_min else 1.0


def _is_due(member_id: int, now: datetime) -> bool:
    """Is there pending to release or a bucket to expire? (then reading settles first)."""
    found = db.session.execute(
        select(PointsBucket.id).where(PointsBucket.member_id == member_id, falls_due(now)).limit(1)
    ).first()
    return found is not None


def settled_account(programme: Programme, member: Member) -> LoyaltyAccount:
    """The member's account, brought up to date if something fell due (a short write then)."""
    account = db.session.get(LoyaltyAccount, member.id)
    if account is None or _is_due(member.id, utcnow()):
        with write_transaction():
            lock_account(programme, member)
        account = db.session.get(LoyaltyAccount, member.id)
        db.session.refresh(account)
    assert account is not None
    return account


def member_loyalty(brand_id: int, member: Member) -> MemberLoyalty:
    """Points, pending points, tier and the way to the next, points expiring soonest, referral code."""
    programme = get_programme(brand_id)
    account = settled_account(programme, member)
    now = utcnow()
    window = window_points(programme, member.id, now)
    tier = current_tier(programme, member)
    following = programme.next_tier(tier)
    expiring_rows = db.session.execute(
        select(PointsBucket.expires_at, func.sum(PointsBucket.remaining))
        .where(
            PointsBucket.member_id == member.id,
            PointsBucket.released.is_(True),
            PointsBucket.expired_at.is_(None),
            PointsBucket.remaining > 0,
            PointsBucket.expires_at.is_not(None),
        )
        .group_by(PointsBucket.expires_at)
        .order_by(PointsBucket.expires_at)
        .limit(EXPIRING_SHOWN)
    ).all()
    return MemberLoyalty(
        points=account.points,
        pending_points=account.pending_points,
        tier=tier,
        next_tier=following.name if following else None,
        next_tier_min=following.min_points if following else None,
        points_to_next_tier=max(0, following.min_points - window) if following else None,
        window_points=window,
        expiring=[Expiring(int(points), expires_at) for expires_at, points in expiring_rows],
        referral_code=account.referral_code,
    )


def history(
    brand_id: int, member_id: int, limit: int = 50, after: int | None = None
) -> tuple[list[PointsEntry], int | None]:
    """Entries newest first, `limit` per page; `after` is the previous page's `next`."""
    query = select(PointsEntry).where(PointsEntry.brand_id == brand_id, PointsEntry.member_id == member_id)
    if after is not None:
        query = query.where(PointsEntry.id < after)
    entries = list(db.session.execute(query.order_by(PointsEntry.id.desc()).limit(limit + 1)).scalars())
    more = len(entries) > limit
    entries = entries[:limit]
    return entries, (entries[-1].id if more else None)
