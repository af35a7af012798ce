"""Monthly points statements: one member's (opening balance, the month's entries, closing balance,
points expiring soon) and every member's month as a streamed CSV."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, Select, case, func, select

from lixi.errors import invalid_field
from lixi.extensions import db
from lixi.models import Brand, Member
from lixi.timeutil import utcnow
from loyalty.account import current_tier
from loyalty.models import EntryKind, PointsBucket, PointsEntry
from loyalty.programme import Programme, find_programme
from loyalty.reports import EARNING_KINDS
from vouchers.bulk import CsvChunks, keyset_pages

EXPIRING_DAYS = 30  # "expiring soon" on a statement: within this many days of its end (or of now)
CSV_PAGE = 1000

STATEMENT_COLUMNS = (
    "external_id",
    "name",
    "opening",
    "earned",
    "spent",
    "expired",
    "adjusted",
    "clawed_back",
    "closing",
    "pending",
    "tier",
)


@dataclass(frozen=True)
class Month:
    """A calendar month in the brand's zone, as the UTC instants [start, end)."""

    year: int
    month: int
    start: datetime
    end: datetime

    @property
    def label(self) -> str:
        return f"{self.year}-{self.month:02d}"

    @property
    def first_day(self) -> date:
        return date(self.year, self.month, 1)


def statement_month(raw: str | None, tz_name: str) -> Month:
    """`YYYY-MM` (the current local month when empty) as a Month; anything else is a 422."""
    zone = ZoneInfo(tz_name)
    if raw:
        try:
            year, month = (int(part) for part in raw.split("-"))
            first = date(year, month, 1)
        except ValueError:
            raise invalid_field("month", "month must be YYYY-MM.") from None
        if not 1970 <= year <= 9998:
            raise invalid_field("month", "month must be YYYY-MM.")
    else:
        today = utcnow().astimezone(zone).date()
        first = today.replace(day=1)
    following = (first + timedelta(days=32)).replace(day=1)
    start = datetime.combine(first, datetime.min.time(), tzinfo=zone).astimezone(UTC)
    end = datetime.combine(following, datetime.min.time(), tzinfo=zone).astimezone(UTC)
    return Month(first.year, first.month, start, end)


@dataclass
class Statement:
    member: Member
    tier: str | None
    month: Month
    opening: int
    entries: list[PointsEntry]
    closing: int
    pending: int  # points still waiting out the return window at the month's end
    expiring: list[tuple[int, datetime]]  # (points, expires_at), soonest first

    @property
    def moved(self) -> int:
        """The month's change of the available balance (pending entries do not move it)."""
        return sum(entry.points for entry in self.entries if entry.kind != EntryKind.PENDING)


def _moves_balance() -> ColumnElement[bool]:
    return PointsEntry.kind != EntryKind.PENDING


def member_statement(brand_id: int, member: Member, month: Month) -> Statement:
    """The member's month: the balance before it (the ledger's sum up to its start), its entries
    oldest first, the balance after it, and what expires within EXPIRING_DAYS of its end."""
    assert member.brand_id == brand_id
    mine = (PointsEntry.brand_id == brand_id) & (PointsEntry.member_id == member.id)
    opening = db.session.execute(
        select(func.coalesce(func.sum(PointsEntry.points), 0)).where(
            mine, _moves_balance(), PointsEntry.created_at < month.start
        )
    ).scalar_one()
    entries = list(
        db.session.execute(
            select(PointsEntry)
            .where(mine, PointsEntry.created_at >= month.start, PointsEntry.created_at < month.end)
            .order_by(PointsEntry.id)
        ).scalars()
    )
    since = max(month.end, utcnow())
    expiring = db.session.execute(
        select(func.sum(PointsBucket.remaining), PointsBucket.expires_at)
        .where(
            PointsBucket.brand_id == brand_id,
            PointsBucket.member_id == member.id,
            PointsBucket.released.is_(True),
            PointsBucket.expired_at.is_(None),
            PointsBucket.remaining > 0,
            PointsBucket.expires_at > since,
            PointsBucket.expires_at <= since + timedelta(days=EXPIRING_DAYS),
        )
        .group_by(PointsBucket.expires_at)
        .order_by(PointsBucket.expires_at)
    ).all()
    programme = find_programme(brand_id)
    tier = current_tier(programme, member) if programme else None
    statement = Statement(
        member, tier, month, int(opening), entries, 0, 0, [(int(p), at) for p, at in expiring]
    )
    statement.closing = statement.opening + statement.moved
    statement.pending = _pending_at(brand_id, member.id, month.end)
    return statement


def _pending_at(brand_id: int, member_id: int, instant: datetime) -> int:
    """Pending points at `instant`: earned pending before it, not yet released by then (less what
    refunds took back)."""
    return int(
        db.session.execute(
            select(func.coalesce(func.sum(PointsBucket.points - PointsBucket.clawed_back), 0)).where(
                PointsBucket.brand_id == brand_id,
                PointsBucket.member_id == member_id,
                PointsBucket.created_at < instant,
                PointsBucket.available_at >= instant,
                PointsBucket.available_at > PointsBucket.created_at,
            )
        ).scalar_one()
    )


def _sum_when(condition: ColumnElement[bool], sign: int = 1) -> ColumnElement[int]:
    return func.coalesce(func.sum(case((condition, PointsEntry.points * sign), else_=0)), 0)


def statements_csv(brand_id: int, month: Month) -> Iterator[str]:
    """CSV text chunks (header first) of every member's month, a page of members per query:
    opening + earned − spent − expired + adjusted − clawed_back = closing."""
    brand = db.session.get(Brand, brand_id)
    assert brand is not None
    in_month = (PointsEntry.created_at >= month.start) & (PointsEntry.created_at < month.end)
    moving = _moves_balance()

    def of(kind: str | tuple[str, ...], sign: int = 1) -> ColumnElement[int]:
        kinds = (kind,) if isinstance(kind, str) else kind
        return _sum_when(in_month & PointsEntry.kind.in_(kinds), sign)

    opening = _sum_when(moving & (PointsEntry.created_at < month.start))
    closing = _sum_when(moving & (PointsEntry.created_at < month.end))
    pending_bucket = (
        (PointsBucket.created_at < month.end)
        & (PointsBucket.available_at >= month.end)
        & (PointsBucket.available_at > PointsBucket.created_at)
    )
    pending = (
        select(func.coalesce(func.sum(PointsBucket.points - PointsBucket.clawed_back), 0))
        .where(PointsBucket.member_id == Member.id, pending_bucket)
        .scalar_subquery()
    )
    query = (
        select(
            Member.id,
            Member.external_id,
            Member.name,
            opening,
            of(EARNING_KINDS),
            of(EntryKind.SPEND, -1),
            of(EntryKind.EXPIRE, -1),
            of(EntryKind.ADJUST),
            of(EntryKind.CLAWBACK, -1),
            closing,
            pending,
            Member.tier,
        )
        .outerjoin(
            PointsEntry,
            (PointsEntry.member_id == Member.id)
            & (PointsEntry.brand_id == brand_id)
            & (PointsEntry.created_at < month.end),
        )
        .where(Member.brand_id == brand_id)
        .group_by(Member.id, Member.external_id, Member.name, Member.tier)
    )
    return _stream(query, find_programme(brand_id))


def _stream(query: Select, programme: Programme | None) -> Iterator[str]:
    out = CsvChunks()
    out.writerow(STATEMENT_COLUMNS)
    yield out.take()
    names = {tier.name for tier in programme.tiers} if programme else set()
    floor = programme.tier_for(0) if programme else None
    for page in keyset_pages(query, Member.id, CSV_PAGE):
        for *figures, tier in page:
            # A member never reviewed into a tier stands where 0 points reach (account.current_tier).
            out.writerow((*figures[1:], tier if tier in names or not programme else floor))
        yield out.take()


def statements_filename(month: Month) -> str:
    return f"lixi-points-{month.label}.csv"
