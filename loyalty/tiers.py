"""Tiers: by the points earned in a rolling window; up at once when an earning crosses a threshold,
down only at the daily review once the window has stayed below for the grace days."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import func, select

from lixi.audit import record_audit
from lixi.extensions import db
from lixi.outbox import publish
from loyalty.account import TIER_KINDS, Account
from loyalty.events import TIER_CHANGED, TIER_DOWNGRADED, TIER_UPGRADED
from loyalty.models import PointsBucket, TierChange
from loyalty.programme import Programme


def window_points(programme: Programme, member_id: int, now: datetime) -> int:
    """Points earned (not adjusted) that became available in the tier window, less clawbacks."""
    since = now - timedelta(days=programme.tier_window_days)
    total = db.session.execute(
        select(func.coalesce(func.sum(PointsBucket.points - PointsBucket.clawed_back), 0)).where(
            PointsBucket.member_id == member_id,
            PointsBucket.released.is_(True),
            PointsBucket.kind.in_([str(kind) for kind in TIER_KINDS]),
            PointsBucket.available_at > since,
            PointsBucket.available_at <= now,
        )
    ).scalar_one()
    return int(total)


def review_tier(account: Account, *, downgrade: bool) -> None:
    """Up at once when the window reaches a higher tier; down only at the daily review
    (`downgrade`), once the window has stayed below for the grace days."""
    programme, member = account.programme, account.member
    if not programme.tiers or (not downgrade and programme.next_tier(account.tier) is None):
        return  # no tiers, or an earning at the top tier: nothing can change
    points = window_points(programme, member.id, account.now)
    current, reached = account.tier, programme.tier_for(points)
    if programme.rank(reached) > programme.rank(current):
        _change_tier(account, current, reached, points, "earning" if not downgrade else "review")
        return
    if programme.rank(reached) == programme.rank(current):
        if account.row.tier_below_since is not None:
            account.row.tier_below_since = None
        return
    if not downgrade:
        return
    since = account.row.tier_below_since
    if since is None:
        account.row.tier_below_since = account.now
        since = account.now
    if account.now - since >= timedelta(days=programme.tier_grace_days):
        _change_tier(account, current, reached, points, "review")


def _change_tier(
    account: Account, from_tier: str | None, to_tier: str | None, points: int, reason: str
) -> None:
    member, programme = account.member, account.programme
    member.tier = to_tier or "member"
    account.row.tier_below_since = None
    db.session.add(
        TierChange(
            brand_id=member.brand_id,
            member_id=member.id,
            from_tier=from_tier,
            to_tier=to_tier,
            window_points=points,
            reason=reason,
            created_at=account.now,
        )
    )
    up = programme.rank(to_tier) > programme.rank(from_tier)
    payload = {
        "member_external_id": member.external_id,
        "from_tier": from_tier,
        "to_tier": to_tier,
        "window_points": points,
    }
    record_audit(member.brand_id, TIER_CHANGED, "member", member.external_id, payload)
    if up:
        publish(member.brand_id, TIER_UPGRADED, payload)
    else:
        publish(member.brand_id, TIER_DOWNGRADED, payload)
    db.session.flush()


def tier_changes(brand_id: int, member_id: int) -> list[TierChange]:
    return list(
        db.session.execute(
            select(TierChange)
            .where(TierChange.brand_id == brand_id, TierChange.member_id == member_id)
            .order_by(TierChange.id.desc())
        ).scalars()
    )
