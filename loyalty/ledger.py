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
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, and_, func, insert, or_, select, update
from sqlalchemy.orm.attributes import set_committed_value

from lixi.audit import current_actor, record_audit
from lixi.database import insert_ignoring_duplicates, write_transaction
from lixi.extensions import db
from lixi.models import Brand, Member
from lixi.outbox import publish
from lixi.timeutil import end_of_local_day, local_date, utcnow
from loyalty.errors import LoyaltyConflict, LoyaltyErrorCode
from loyalty.events import POINTS_ADJUSTED, TIER_CHANGED, TIER_DOWNGRADED, TIER_UPGRADED
from loyalty.models import (
    EntryKind,
    LoyaltyAccount,
    PointsBucket,
    PointsDraw,
    PointsEntry,
    TierChange,
)
from loyalty.programme import Programme, get_programme

# Kinds of bucket whose points count towards a tier (a manual adjustment does not).
TIER_KINDS = (EntryKind.EARN, EntryKind.REFERRAL, EntryKind.BIRTHDAY)
# Referral codes: the voucher codes' alphabet (no 0/O, 1/I/L), 8 characters (40 bits).
CODE_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"
EXPIRING_SHOWN = 5


def new_referral_code() -> str:
    return "".join(secrets.choice(CODE_ALPHABET) for _ in range(8))


@dataclass
class Account:
    """The locked account of one member, with what a change needs at hand."""

    programme: Programme
    member: Member
    brand: Brand
    row: LoyaltyAccount
    now: datetime

    @property
    def tier(self) -> str | None:
        return current_tier(self.programme, self.member)


def current_tier(programme: Programme, member: Member) -> str | None:
    """The member's tier; a member never reviewed yet stands at the tier 0 points reach."""
    names = {tier.name for tier in programme.tiers}
    return member.tier if member.tier in names else programme.tier_for(0)


def ensure_account(brand_id: int, member_id: int) -> None:
    """Create the member's account if it does not exist (inside the caller's transaction)."""
    for _attempt in range(5):
        if db.session.get(LoyaltyAccount, member_id) is not None:
            return
        insert_ignoring_duplicates(
            LoyaltyAccount,
            {
                "member_id": member_id,
                "brand_id": brand_id,
                "points": 0,
                "pending_points": 0,
                "referral_code": new_referral_code(),
                "version": 0,
                "created_at": utcnow(),
            },
        )
    # Five 40-bit codes in a row taken: about never.
    if db.session.get(LoyaltyAccount, member_id) is None:
        raise RuntimeError("could not draw a unique referral code")


def _lock(member_id: int) -> LoyaltyAccount | None:
    """One statement locks the account row and reads it (None: no account yet)."""
    return db.session.execute(
        update(LoyaltyAccount)
        .where(LoyaltyAccount.member_id == member_id)
        .values(version=LoyaltyAccount.version + 1)
        .returning(LoyaltyAccount)
        .execution_options(populate_existing=True, synchronize_session=False)
    ).scalar()


def lock_account(programme: Programme, member: Member) -> Account:
    """Lock the member's account for this transaction and bring it up to date (pending points
    whose time came, buckets that expired). Call inside write_transaction."""
    row = _lock(member.id)
    if row is None:
        ensure_account(member.brand_id, member.id)
        row = _lock(member.id)
        assert row is not None
    # The tier as committed by whoever held the lock before us (a tier changes under this lock).
    tier = db.session.execute(select(Member.tier).where(Member.id == member.id)).scalar_one()
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
            .where(PointsBucket.member_id == account.member.id, _falls_due(now))
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


def _falls_due(now: datetime) -> ColumnElement[bool]:
    """A bucket to release (pending, its time came) or to expire (past its end, not yet expired)."""
    return or_(
        and_(PointsBucket.released.is_(False), PointsBucket.available_at <= now),
        and_(PointsBucket.expired_at.is_(None), PointsBucket.expires_at <= now),
    )


# --- tiers -------------------------------------------------------------------------------------


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
    if not programme.tiers:
        return
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


# --- reading -----------------------------------------------------------------------------------


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
        select(PointsBucket.id).where(PointsBucket.member_id == member_id, _falls_due(now)).limit(1)
    ).first()
    return found is not None


def settled_account(brand_id: int, member: Member) -> LoyaltyAccount:
    """The member's account, brought up to date if something fell due (a short write then)."""
    programme = get_programme(brand_id)
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
    account = settled_account(brand_id, member)
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


def tier_changes(brand_id: int, member_id: int) -> list[TierChange]:
    return list(
        db.session.execute(
            select(TierChange)
            .where(TierChange.brand_id == brand_id, TierChange.member_id == member_id)
            .order_by(TierChange.id.desc())
        ).scalars()
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
