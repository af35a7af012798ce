"""Pacing: release each limited prize evenly over the campaign, so the grand prize cannot go on day one.

On activation every unit of stock of a paced prize gets a "winning moment" drawn with `secrets`
uniformly over [starts_at, ends_at). A play may win that prize only if a moment has passed and is
still unclaimed; winning claims the earliest one by a conditional UPDATE.
"""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta

from sqlalchemy import func, insert, select, update

from games.models import Campaign, PrizeMoment
from lixi.extensions import db


def schedule_moments(campaign: Campaign) -> int:
    """Draw the winning moments of every limited prize (inside the activation's transaction)."""
    assert campaign.starts_at is not None and campaign.ends_at is not None
    span = int((campaign.ends_at - campaign.starts_at).total_seconds())
    rows = [
        {"prize_id": prize.id, "at": campaign.starts_at + timedelta(seconds=secrets.randbelow(span))}
        for prize in campaign.prizes
        if prize.stock
        for _ in range(prize.stock)
    ]
    if rows:
        db.session.execute(insert(PrizeMoment), rows)
    return len(rows)


def open_moments(prize_ids: list[int], now: datetime) -> dict[int, int]:
    """Per prize: moments that have passed and are still unclaimed."""
    if not prize_ids:
        return {}
    rows = db.session.execute(
        select(PrizeMoment.prize_id, func.count(PrizeMoment.id))
        .where(PrizeMoment.prize_id.in_(prize_ids), PrizeMoment.at <= now, PrizeMoment.play_id.is_(None))
        .group_by(PrizeMoment.prize_id)
    ).all()
    return dict(rows)


def claim_moment(prize_id: int, play_id: int, now: datetime) -> bool:
    """Claim the earliest open moment of the prize for this play; False if none is left."""
    earliest = (
        select(PrizeMoment.id)
        .where(PrizeMoment.prize_id == prize_id, PrizeMoment.at <= now, PrizeMoment.play_id.is_(None))
        .order_by(PrizeMoment.at, PrizeMoment.id)
        .limit(1)
        .scalar_subquery()
    )
    result = db.session.execute(
        update(PrizeMoment)
        .where(PrizeMoment.id == earliest, PrizeMoment.play_id.is_(None))  # re-checked under the row lock
        .values(play_id=play_id)
        .execution_options(synchronize_session=False)
    )
    return result.rowcount == 1
