"""`flask loyalty-check`: the ledger's invariants (loyalty/ledger.py), checked for every member in
a few aggregate queries."""

from __future__ import annotations

from typing import Any

from sqlalchemy import case, func, select

from lixi.extensions import db
from loyalty.models import EntryKind, LoyaltyAccount, PointsBucket, PointsEntry

MOVES_BALANCE = PointsEntry.kind != EntryKind.PENDING


def check_ledgers() -> list[dict[str, Any]]:
    """Every way a member's balance disagrees with their ledger or buckets (empty: all agree)."""
    problems: list[dict[str, Any]] = []

    def problem(member_id: int, text: str) -> None:
        problems.append({"member_id": member_id, "problem": text})

    accounts = {
        member_id: (points, pending)
        for member_id, points, pending in db.session.execute(
            select(LoyaltyAccount.member_id, LoyaltyAccount.points, LoyaltyAccount.pending_points)
        )
    }
    sums = dict(
        db.session.execute(
            select(PointsEntry.member_id, func.sum(PointsEntry.points))
            .where(MOVES_BALANCE)
            .group_by(PointsEntry.member_id)
        ).all()
    )
    last_ids = select(func.max(PointsEntry.id)).group_by(PointsEntry.member_id)
    last = dict(
        db.session.execute(
            select(PointsEntry.member_id, PointsEntry.balance_after).where(PointsEntry.id.in_(last_ids))
        ).all()
    )
    live = PointsBucket.released.is_(True) & PointsBucket.expired_at.is_(None)
    buckets = {
        member_id: (int(available or 0), int(pending or 0))
        for member_id, available, pending in db.session.execute(
            select(
                PointsBucket.member_id,
                func.sum(case((live, PointsBucket.remaining), else_=0)),
                func.sum(case((PointsBucket.released.is_(False), PointsBucket.remaining), else_=0)),
            ).group_by(PointsBucket.member_id)
        )
    }
    for member_id, (points, pending) in sorted(accounts.items()):
        ledger_sum = int(sums.get(member_id) or 0)
        if ledger_sum != points:
            problem(member_id, f"balance {points} but the ledger sums to {ledger_sum}")
        if member_id in last and last[member_id] != points:
            problem(member_id, f"balance {points} but the last entry says {last[member_id]}")
        available, waiting = buckets.get(member_id, (0, 0))
        if available != max(points, 0):
            problem(member_id, f"balance {points} but its buckets hold {available}")
        if waiting != pending:
            problem(member_id, f"pending {pending} but its pending buckets hold {waiting}")
    for member_id in sorted(set(sums) - set(accounts)):
        problem(member_id, "ledger entries without an account")
    broken = db.session.execute(
        select(PointsBucket.member_id, PointsBucket.id).where(
            (PointsBucket.remaining < 0) | (PointsBucket.remaining > PointsBucket.points)
        )
    ).all()
    for member_id, bucket_id in broken:
        problem(member_id, f"bucket {bucket_id} holds less than nothing or more than it earned")
    # Each entry's balance_after follows from the previous one (a pending entry leaves it as it was).
    previous = func.lag(PointsEntry.balance_after, 1, 0).over(
        partition_by=PointsEntry.member_id, order_by=PointsEntry.id
    )
    chain = select(
        PointsEntry.member_id,
        PointsEntry.id,
        PointsEntry.balance_after,
        case((MOVES_BALANCE, PointsEntry.points), else_=0).label("moved"),
        previous.label("previous"),
    ).subquery()
    for member_id, entry_id in db.session.execute(
        select(chain.c.member_id, chain.c.id).where(chain.c.balance_after != chain.c.previous + chain.c.moved)
    ):
        problem(member_id, f"entry {entry_id}: balance_after does not follow from the entry before")
    return problems
