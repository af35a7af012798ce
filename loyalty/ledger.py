"""The points ledger: every change of a member's points is one appended entry with its balance after.

Each credit is a bucket (its own availability and expiry); a debit draws from the buckets that
expire soonest and records the draws, so expiry only ever takes what is left in a bucket. The
account row holds the balance: every change starts by locking it with an UPDATE (the row lock on
PostgreSQL, the write lock that BEGIN IMMEDIATE takes on SQLite), and balance changes are
conditional UPDATEs, so no check-then-write can race. The invariants, which `flask loyalty-check`
verifies for every member:

- account.points = the sum of the entries that move the balance = the last entry's balance_after;
- the remaining points of available, unexpired buckets = max(account.points, 0) (a negative
  balance is a clawback debt, paid from the next earnings);
- account.pending_points = the remaining points of buckets still pending.
"""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, and_, insert, or_, select, update
from sqlalchemy.orm.attributes import set_committed_value

from lixi.audit import current_actor, record_audit
from lixi.database import write_transaction
from lixi.extensions import db
from lixi.models import Brand, Member
from lixi.timeutil import end_of_local_day, local_date, utcnow
from loyalty.account import TIER_KINDS, Account, ensure_account
from loyalty.errors import LoyaltyConflict, LoyaltyErrorCode
from loyalty.events import POINTS_ADJUSTED
from loyalty.models import (
    EntryKind,
    LoyaltyAccount,
    PointsBucket,
    PointsDraw,
    PointsEntry,
)
from loyalty.programme import Programme, get_programme
from loyalty.tiers import review_tier


def _lock(member_id: int) -> tuple[LoyaltyAccount, str] | None:
    """One statement locks the account row and reads it, with the member's tier as committed by
    whoever held the lock before (a tier changes under this lock). None: no account yet."""
    tier = select(Member.tier).where(Member.id == LoyaltyAccount.member_id).scalar_subquery()
    found = db.session.execute(
        update(LoyaltyAccount)
        .where(LoyaltyAccount.member_id == member_id)
        .values(version=LoyaltyAccount.version + 1)
        .returning(LoyaltyAccount, tier)
        .execution_options(populate_existing=True, synchronize_session=False)
    ).first()
    return None if found is None else (found[0], found[1])


def lock_account(programme: Programme, member: Member) -> Account:
    """Lock the member's account for this transaction and bring it up to date (pending points
    whose time came, buckets that expired). Call inside write_transaction."""
    locked = _lock(member.id)
    if locked is None:
        ensure_account(member.brand_id, member.id)
        locked = _lock(member.id)
        assert locked is not None
    row, tier = locked
    set_committed_value(member, "tier", tier)
    brand = db.session.get(Brand, member.brand_id)
    assert brand is not None
    account = Account(programme, member, brand, row, utcnow())
    settle(account)
    return account


def _set_points(
    account: Account, delta: int, *, at_least: int | None = None, pending_delta: int = 0
) -> int | None:
    """Move the balance by `delta` with a conditional UPDATE; None when it would fall below `at_least`."""
    statement = update(LoyaltyAccount).where(LoyaltyAccount.member_id == account.member.id)
    if at_least is not None:
        statement = statement.where(LoyaltyAccount.points + delta >= at_least)
    result = db.session.execute(
        statement.values(
            points=LoyaltyAccount.points + delta, pending_points=LoyaltyAccount.pending_points + pending_delta
        )
        .returning(LoyaltyAccount.points, LoyaltyAccount.pending_points)
        .execution_options(synchronize_session=False)
    ).first()
    if result is None:
        return None
    account.row.points, account.row.pending_points = result
    return result[0]


# Core, not the ORM's unit of work: an entry is written once and never changed.
_INSERT_ENTRY = insert(PointsEntry).returning(PointsEntry)


def _entry(
    account: Account,
    kind: str,
    points: int,
    *,
    reason: str | None = None,
    event_external_id: str | None = None,
    available_at: datetime | None = None,
    expires_at: datetime | None = None,
) -> PointsEntry:
    return db.session.execute(
        _INSERT_ENTRY,
        {
            "brand_id": account.member.brand_id,
            "member_id": account.member.id,
            "kind": kind,
            "points": points,
            "balance_after": account.row.points,
            "event_external_id": event_external_id,
            "reason": reason,
            "actor": current_actor(),
            "created_at": account.now,
            "available_at": available_at,
            "expires_at": expires_at,
        },
    ).scalar_one()


def expiry_for(programme: Programme, tz_name: str, available_at: datetime) -> datetime | None:
    """expire_days = N: through the end of the N-th local day after the day the points became available."""
    if programme.expire_days is None:
        return None
    day = local_date(available_at, tz_name) + timedelta(days=programme.expire_days)
    return end_of_local_day(day, tz_name)


def credit(
    account: Account,
    kind: str,
    points: int,
    source: str,
    *,
    reason: str | None = None,
    event_external_id: str | None = None,
    pending_days: int = 0,
) -> PointsEntry:
    """Add a bucket of points (pending for `pending_days`); `source` names it once and for all."""
    assert points > 0
    available_at = account.now + timedelta(days=pending_days)
    expires_at = expiry_for(account.programme, account.brand.timezone, available_at)
    pending = pending_days > 0
    inserted = db.session.execute(
        insert(PointsBucket)
        .values(
            brand_id=account.member.brand_id,
            member_id=account.member.id,
            source=source,
            kind=kind,
            event_external_id=event_external_id,
            points=points,
            remaining=points,
            clawed_back=0,
            created_at=account.now,
            available_at=available_at,
            released=not pending,
            expires_at=expires_at,
        )
        .returning(PointsBucket.id)
    ).scalar_one()  # a second credit of one source breaks the unique constraint: the change rolls back
    if pending:
        _set_points(account, 0, pending_delta=points)
        return _entry(
            account,
            EntryKind.PENDING,
            points,
            reason=reason,
            event_external_id=event_external_id,
            available_at=available_at,
            expires_at=expires_at,
        )
    return _make_available(
        account, inserted, kind, points, reason, event_external_id, available_at, expires_at
    )


def _make_available(
    account: Account,
    bucket_id: int,
    kind: str,
    points: int,
    reason: str | None,
    event_external_id: str | None,
    available_at: datetime,
    expires_at: datetime | None,
    pending_delta: int = 0,
) -> PointsEntry:
    """Put a bucket's points into the balance; a clawback debt is paid from them first."""
    debt = max(0, -account.row.points)
    _set_points(account, points, pending_delta=pending_delta)
    if debt:
        db.session.execute(
            update(PointsBucket)
            .where(PointsBucket.id == bucket_id)
            .values(remaining=PointsBucket.remaining - min(debt, points))
            .execution_options(synchronize_session=False)
        )
    entry = _entry(
        account,
        kind,
        points,
        reason=reason,
        event_external_id=event_external_id,
        available_at=available_at,
        expires_at=expires_at,
    )
    if kind in TIER_KINDS:
        review_tier(account, downgrade=False)
    return entry


def _draw(account: Account, entry: PointsEntry, points: int, first: list[int] | None = None) -> int:
    """Take up to `points` from the member's available buckets, soonest-expiring first (the buckets
    in `first` before any other); record each draw. Returns what was taken."""
    query = select(PointsBucket.id, PointsBucket.remaining).where(
        PointsBucket.member_id == account.member.id,
        PointsBucket.released.is_(True),
        PointsBucket.expired_at.is_(None),
        PointsBucket.remaining > 0,
    )
    rows = db.session.execute(
        query.order_by(PointsBucket.expires_at.is_(None), PointsBucket.expires_at, PointsBucket.id)
    ).all()
    if first:
        rows.sort(key=lambda row: row.id not in first)  # stable: keeps the expiry order otherwise
    taken = 0
    for bucket_id, remaining in rows:
        if taken == points:
            break
        take = min(remaining, points - taken)
        db.session.execute(
            update(PointsBucket)
            .where(PointsBucket.id == bucket_id, PointsBucket.remaining >= take)
            .values(remaining=PointsBucket.remaining - take)
            .execution_options(synchronize_session=False)
        )
        db.session.add(PointsDraw(entry_id=entry.id, bucket_id=bucket_id, points=take))
        taken += take
    return taken


def debit(account: Account, kind: str, points: int, *, reason: str | None = None) -> PointsEntry:
    """Take `points` from the balance (a spend, a negative adjustment): 409 insufficient_points if short."""
    assert points > 0
    before = account.row.points
    if _set_points(account, -points, at_least=0) is None:
        raise LoyaltyConflict(
            LoyaltyErrorCode.INSUFFICIENT_POINTS, {"points": max(before, 0), "needed": points}
        )
    entry = _entry(account, kind, -points, reason=reason)
    taken = _draw(account, entry, points)
    assert taken == points, (taken, points)  # the buckets hold exactly the balance
    return entry


def claw_back(account: Account, points: int, purchase_external_id: str, *, reason: str) -> list[PointsEntry]:
    """Take back `points` a purchase earned: from its pending buckets first, then from its own
    available buckets, then from any others; what was already spent becomes a debt."""
    entries = []
    buckets = (
        db.session.execute(
            select(PointsBucket)
            .where(
                PointsBucket.member_id == account.member.id,
                PointsBucket.event_external_id == purchase_external_id,
                PointsBucket.kind == EntryKind.EARN,
            )
            .order_by(PointsBucket.id)
            .execution_options(populate_existing=True)
        )
        .scalars()
        .all()
    )
    left = points
    for bucket in buckets:
        if bucket.released or not left:
            continue
        take = min(bucket.remaining, left)
        if take:
            bucket.remaining -= take
            bucket.clawed_back += take
            _set_points(account, 0, pending_delta=-take)
            entries.append(
                _entry(
                    account, EntryKind.PENDING, -take, reason=reason, event_external_id=purchase_external_id
                )
            )
            left -= take
    if left:
        own = [bucket.id for bucket in buckets if bucket.released]
        for bucket in buckets:  # what the tier window counts
            if bucket.released and left:
                share = min(bucket.points - bucket.clawed_back, left)
                bucket.clawed_back += share
        _set_points(account, -left)
        entry = _entry(
            account, EntryKind.CLAWBACK, -left, reason=reason, event_external_id=purchase_external_id
        )
        db.session.flush()
        _draw(account, entry, left, first=own)
        entries.append(entry)
    db.session.flush()
    return entries


def settle(account: Account) -> None:
    """Pending points whose time came become available; buckets past their end of day expire
    (releases first: a bucket may come due and expire in one settling)."""
    now = account.now
    due = (
        db.session.execute(
            select(PointsBucket)
            .where(PointsBucket.member_id == account.member.id, falls_due(now))
            .order_by(PointsBucket.available_at, PointsBucket.id)
            .execution_options(populate_existing=True)
        )
        .scalars()
        .all()
    )
    for bucket in due:
        if bucket.released:
            continue
        bucket.released = True
        db.session.flush()
        if bucket.remaining:
            _make_available(
                account,
                bucket.id,
                EntryKind.EARN,
                bucket.remaining,
                "available",
                bucket.event_external_id,
                bucket.available_at,
                bucket.expires_at,
                pending_delta=-bucket.remaining,
            )
        db.session.refresh(bucket)  # a debt may have taken some of it
    expiring = sorted(
        (b for b in due if b.expires_at is not None and b.expires_at <= now),
        key=lambda b: (b.expires_at, b.id),
    )
    for bucket in expiring:
        bucket.expired_at = now
        if bucket.remaining:
            lost = bucket.remaining
            bucket.remaining = 0
            _set_points(account, -lost)
            entry = _entry(
                account,
                EntryKind.EXPIRE,
                -lost,
                event_external_id=bucket.event_external_id,
                expires_at=bucket.expires_at,
            )
            db.session.add(PointsDraw(entry_id=entry.id, bucket_id=bucket.id, points=lost))
    db.session.flush()


def falls_due(now: datetime) -> ColumnElement[bool]:
    """A bucket to release (pending, its time came) or to expire (past its end, not yet expired)."""
    return or_(
        and_(PointsBucket.released.is_(False), PointsBucket.available_at <= now),
        and_(PointsBucket.expired_at.is_(None), PointsBucket.expires_at <= now),
    )


# --- manual adjustment -------------------------------------------------------------------------


def adjust(brand_id: int, member: Member, points: int, reason: str) -> PointsEntry:
    """A manual correction (±, with a reason), audited with whoever made it."""
    programme = get_programme(brand_id)
    with write_transaction():
        account = lock_account(programme, member)
        if points > 0:
            source = f"adjust:{secrets.token_hex(8)}"
            entry = credit(account, EntryKind.ADJUST, points, source, reason=reason)
        else:
            entry = debit(account, EntryKind.ADJUST, -points, reason=reason)
        record_audit(
            brand_id,
            POINTS_ADJUSTED,
            "member",
            member.external_id,
            {"points": points, "reason": reason, "balance_after": entry.balance_after},
        )
    return entry
