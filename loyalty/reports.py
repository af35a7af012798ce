"""Loyalty's read side for the dashboard: member search, a member's plays, the rewards list with
its figures, and the programme report (growth against the goal, activity, points and liability,
tiers, repeat purchases, the top 20%'s share, lifetime value), each in a fixed number of queries."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import Select, case, func, or_, select

from games.models import Campaign, MemberEvent, Play, Prize
from lixi.errors import NotFound
from lixi.extensions import db
from lixi.models import Brand, Member, scoped
from lixi.timeutil import utcnow
from loyalty.account import current_tier
from loyalty.models import EntryKind, LoyaltyAccount, PointsEntry, Referral, Reward, RewardExchange
from loyalty.programme import Programme, find_programme

MEMBERS_PER_PAGE = 50
PLAYS_SHOWN = 50
ACTIVE_WINDOWS = (30, 90)  # days: "active" = an event of any type in the last N days
TOP_SHARE_DIVISOR = 5  # the top 20% = the first ceil(n / 5) members by purchases
PURCHASE = "purchase"

# The kinds that bring points in (an adjustment and a clawback are counted on their own).
EARNING_KINDS = (EntryKind.EARN, EntryKind.REFERRAL, EntryKind.BIRTHDAY)


# --- members ---------------------------------------------------------------------------------


@dataclass
class MemberRow:
    member: Member
    points: int
    pending_points: int
    tier: str | None  # as the programme reads it (a member never reviewed stands where 0 points reach)


@dataclass
class MemberPage:
    rows: list[MemberRow]
    next_before: int | None  # the cursor of the next (older) page, None on the last


def _like(text: str) -> str:
    """`text` as a LIKE pattern matching itself anywhere (its own % and _ taken literally)."""
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def search_members(brand_id: int, query: str | None = None, before: int | None = None) -> MemberPage:
    """The brand's members, newest first, MEMBERS_PER_PAGE a page (keyset: ids below `before`),
    with their points; `query` matches the external id, the phone number (as typed, or its digits
    with a leading 0 for +84) or the name."""
    select_rows = (
        select(
            Member,
            func.coalesce(LoyaltyAccount.points, 0),
            func.coalesce(LoyaltyAccount.pending_points, 0),
        )
        .outerjoin(LoyaltyAccount, LoyaltyAccount.member_id == Member.id)
        .where(Member.brand_id == brand_id)
    )
    text = (query or "").strip()
    if text:
        conditions = [
            Member.external_id == text,
            Member.external_id.like(_like(text), escape="\\"),
            func.lower(Member.name).like(_like(text.lower()), escape="\\"),
            Member.phone.like(_like(text), escape="\\"),
        ]
        conditions += [Member.phone.like(_like(form), escape="\\") for form in _phone_forms(text)]
        select_rows = select_rows.where(or_(*conditions))
    if before is not None:
        select_rows = select_rows.where(Member.id < before)
    rows = db.session.execute(select_rows.order_by(Member.id.desc()).limit(MEMBERS_PER_PAGE + 1)).all()
    programme = find_programme(brand_id)
    page = [
        MemberRow(
            member, int(points), int(pending), current_tier(programme, member) if programme else member.tier
        )
        for member, points, pending in rows
    ]
    more = len(page) > MEMBERS_PER_PAGE
    page = page[:MEMBERS_PER_PAGE]
    return MemberPage(page, page[-1].member.id if more else None)


def _phone_forms(text: str) -> list[str]:
    """The ways a Vietnamese number is stored: 0903…, +84903…, 84903… (spaces and dots dropped)."""
    digits = "".join(ch for ch in text if ch.isdigit())
    if len(digits) < 6 or len(digits) != len(text.replace(" ", "").replace(".", "").lstrip("+")):
        return []
    national = digits[2:] if digits.startswith("84") else digits.lstrip("0")
    return sorted({digits, "0" + national, "+84" + national, "84" + national})


def get_brand_member(brand_id: int, member_id: int) -> Member:
    """A member of the brand by id; another brand's (or no) member is a 404."""
    member = db.session.execute(scoped(Member, brand_id).where(Member.id == member_id)).scalar_one_or_none()
    if member is None:
        raise NotFound("No such member.")
    return member


def with_friends(brand_id: int, referrals: list[Referral]) -> list[tuple[Referral, Member | None]]:
    """Each referral beside the member it brought (one query for all of them)."""
    ids = {referral.referee_id for referral in referrals}
    friends = (
        {
            member.id: member
            for member in db.session.execute(scoped(Member, brand_id).where(Member.id.in_(ids))).scalars()
        }
        if ids
        else {}
    )
    return [(referral, friends.get(referral.referee_id)) for referral in referrals]


@dataclass
class PlayRow:
    created_at: datetime
    campaign_id: int
    campaign: str
    prize: str | None
    voucher_id: int | None


def member_plays(brand_id: int, member_id: int, limit: int = PLAYS_SHOWN) -> list[PlayRow]:
    """The member's newest plays with their campaign and prize."""
    rows = db.session.execute(
        select(Play.created_at, Play.campaign_id, Campaign.name, Prize.label, Play.voucher_id)
        .join(Campaign, Campaign.id == Play.campaign_id)
        .outerjoin(Prize, Prize.id == Play.prize_id)
        .where(Play.brand_id == brand_id, Play.member_id == member_id)
        .order_by(Play.id.desc())
        .limit(limit)
    ).all()
    return [PlayRow(*row) for row in rows]


# --- rewards ---------------------------------------------------------------------------------


@dataclass
class RewardRow:
    reward: Reward
    exchanges: int

    @property
    def stock_left(self) -> int | None:
        return None if self.reward.stock is None else max(self.reward.stock - self.reward.taken, 0)


def reward_rows(brand_id: int) -> list[RewardRow]:
    """Every reward of the brand (active first, newest first) with how many times it was exchanged."""
    exchanged = (
        select(RewardExchange.reward_id, func.count(RewardExchange.id).label("n"))
        .where(RewardExchange.brand_id == brand_id)
        .group_by(RewardExchange.reward_id)
        .subquery()
    )
    rows = db.session.execute(
        select(Reward, func.coalesce(exchanged.c.n, 0))
        .outerjoin(exchanged, exchanged.c.reward_id == Reward.id)
        .where(Reward.brand_id == brand_id)
        .order_by(Reward.active.desc(), Reward.id.desc())
        .execution_options(populate_existing=True)  # `taken` moves by UPDATEs, not through the session
    ).all()
    return [RewardRow(reward, int(count)) for reward, count in rows]


# --- the report ------------------------------------------------------------------------------


@dataclass
class GrowthPoint:
    month: str  # YYYY-MM, local
    joined: int
    total: int | None  # None for months still to come
    goal: int | None  # where the straight line to the goal stands at the month's end


@dataclass
class PointsFigures:
    earned: int = 0
    spent: int = 0
    expired: int = 0
    adjusted: int = 0  # net, signed
    clawed_back: int = 0
    outstanding: int = 0  # members' positive balances
    debts: int = 0  # members' negative balances (clawbacks of points already spent), as a positive number
    pending: int = 0
    liability: int | None = None  # outstanding × point_value, minor units; None without a point value


@dataclass
class LoyaltyReport:
    members: int
    growth: list[GrowthPoint]
    goal: int | None
    goal_date: date | None
    needed_per_month: int | None  # members to add each month from now to reach the goal in time
    active: dict[int, int]  # window in days → members with an event in it
    points: PointsFigures
    tiers: list[tuple[str, int]]
    purchasers: int
    repeat_purchasers: int
    repeat_rate: float | None
    purchases: int
    purchase_amount: int
    top_share: float | None  # of purchase amounts, by the top 20% of purchasing members
    top_members: int
    average_purchase: int | None
    purchases_per_member: float | None
    lifetime_value: int | None  # purchase_amount / members
    point_value: int | None = None


def loyalty_report(brand_id: int) -> LoyaltyReport:
    """The programme's figures now (a dozen queries, whatever the number of members)."""
    brand = db.session.get(Brand, brand_id)
    assert brand is not None
    programme = find_programme(brand_id)
    now = utcnow()
    members = db.session.execute(
        select(func.count(Member.id)).where(Member.brand_id == brand_id)
    ).scalar_one()
    goal = programme.member_goal if programme else None
    goal_date = programme.member_goal_date if programme else None
    growth = members_growth(brand_id, brand.timezone, now, goal, goal_date)
    purchasers, repeaters = _repeat_purchasers(brand_id)
    count, amount = _purchases(brand_id)
    top_share, top_members = _top_share(brand_id)
    point_value = programme.point_value if programme else None
    return LoyaltyReport(
        members=members,
        growth=growth,
        goal=goal,
        goal_date=goal_date,
        needed_per_month=_needed_per_month(members, goal, goal_date, now, brand.timezone),
        active={days: _active_members(brand_id, now - timedelta(days=days)) for days in ACTIVE_WINDOWS},
        points=points_figures(brand_id, point_value),
        tiers=_members_per_tier(brand_id, programme),
        purchasers=purchasers,
        repeat_purchasers=repeaters,
        repeat_rate=round(repeaters / purchasers, 4) if purchasers else None,
        purchases=count,
        purchase_amount=amount,
        top_share=top_share,
        top_members=top_members,
        average_purchase=round(amount / count) if count else None,
        purchases_per_member=round(count / members, 2) if members else None,
        lifetime_value=round(amount / members) if members else None,
        point_value=point_value,
    )


def _local_month(column: object, offset_minutes: int) -> object:
    """The local YYYY-MM of a UTC timestamp column, on SQLite or PostgreSQL."""
    if db.session.get_bind().dialect.name == "postgresql":
        shifted = column + func.make_interval(0, 0, 0, 0, 0, offset_minutes)  # type: ignore[operator]
        return func.to_char(shifted, "YYYY-MM")
    return func.strftime("%Y-%m", column, f"{offset_minutes:+d} minutes")


def _month_after(month: str) -> str:
    year, number = map(int, month.split("-"))
    return f"{year + number // 12}-{number % 12 + 1:02d}"


def _month_end(month: str, zone: ZoneInfo) -> datetime:
    """The first instant of the next local month, as UTC."""
    year, number = map(int, _month_after(month).split("-"))
    return datetime(year, number, 1, tzinfo=zone).astimezone(UTC)


def members_growth(
    brand_id: int, tz_name: str, now: datetime, goal: int | None, goal_date: date | None
) -> list[GrowthPoint]:
    """Members joined per local month and in total, from the first member's month to now (or to
    the goal's month), beside a straight line from 0 at the start to `goal` on `goal_date`."""
    zone = ZoneInfo(tz_name)
    offset = int((zone.utcoffset(now.replace(tzinfo=None)) or timedelta()).total_seconds() // 60)
    month = _local_month(Member.created_at, offset).label("month")  # type: ignore[attr-defined]
    joined = dict(
        db.session.execute(
            select(month, func.count(Member.id)).where(Member.brand_id == brand_id).group_by(month)
        ).all()
    )
    this_month = now.astimezone(zone).strftime("%Y-%m")
    first = min([*joined, this_month])
    last = max(this_month, goal_date.strftime("%Y-%m") if goal and goal_date else this_month)
    start = datetime.strptime(first, "%Y-%m").replace(tzinfo=zone)
    goal_end = (  # "by 30 April": through that day
        datetime.combine(goal_date + timedelta(days=1), datetime.min.time(), tzinfo=zone)
        if goal and goal_date
        else None
    )
    points: list[GrowthPoint] = []
    total, label = 0, first
    while label <= last and len(points) < 600:
        total += joined.get(label, 0)
        line = None
        if goal and goal_end and goal_end > start:
            share = min((_month_end(label, zone) - start) / (goal_end - start), 1.0)
            line = round(goal * share)
        points.append(GrowthPoint(label, joined.get(label, 0), total if label <= this_month else None, line))
        label = _month_after(label)
    return points


def _needed_per_month(
    members: int, goal: int | None, goal_date: date | None, now: datetime, tz_name: str
) -> int | None:
    if not goal or not goal_date:
        return None
    today = now.astimezone(ZoneInfo(tz_name)).date()
    months_left = (goal_date.year - today.year) * 12 + goal_date.month - today.month
    missing = max(goal - members, 0)
    return missing if months_left <= 0 else -(-missing // months_left)


def _active_members(brand_id: int, since: datetime) -> int:
    return db.session.execute(
        select(func.count(func.distinct(MemberEvent.member_id))).where(
            MemberEvent.brand_id == brand_id, MemberEvent.created_at >= since
        )
    ).scalar_one()


def points_figures(brand_id: int, point_value: int | None) -> PointsFigures:
    """The ledger's totals by kind, the balances outstanding and owed, and their money value."""
    by_kind = dict(
        db.session.execute(
            select(PointsEntry.kind, func.coalesce(func.sum(PointsEntry.points), 0))
            .where(PointsEntry.brand_id == brand_id)
            .group_by(PointsEntry.kind)
        ).all()
    )
    positive, negative, pending = db.session.execute(
        select(
            func.coalesce(func.sum(case((LoyaltyAccount.points > 0, LoyaltyAccount.points), else_=0)), 0),
            func.coalesce(func.sum(case((LoyaltyAccount.points < 0, -LoyaltyAccount.points), else_=0)), 0),
            func.coalesce(func.sum(LoyaltyAccount.pending_points), 0),
        ).where(LoyaltyAccount.brand_id == brand_id)
    ).one()
    figures = PointsFigures(
        earned=sum(int(by_kind.get(kind, 0)) for kind in EARNING_KINDS),
        spent=-int(by_kind.get(EntryKind.SPEND, 0)),
        expired=-int(by_kind.get(EntryKind.EXPIRE, 0)),
        adjusted=int(by_kind.get(EntryKind.ADJUST, 0)),
        clawed_back=-int(by_kind.get(EntryKind.CLAWBACK, 0)),
        outstanding=int(positive),
        debts=int(negative),
        pending=int(pending),
    )
    if point_value is not None:
        figures.liability = figures.outstanding * point_value
    return figures


def _members_per_tier(brand_id: int, programme: Programme | None) -> list[tuple[str, int]]:
    """Members by tier: the programme's tiers in order (with their zeros), then any other name."""
    counts = dict(
        db.session.execute(
            select(Member.tier, func.count(Member.id))
            .where(Member.brand_id == brand_id)
            .group_by(Member.tier)
        ).all()
    )
    if programme is None:
        return sorted(counts.items())
    # A member not yet reviewed into a tier (the column's default) stands where 0 points reach.
    names = [tier.name for tier in programme.tiers]
    floor = programme.tier_for(0)
    result = {name: 0 for name in names}
    for name, count in counts.items():
        kept = name if name in result else floor
        if kept is None:
            result[name] = result.get(name, 0) + count
        else:
            result[kept] += count
    return list(result.items())


def _purchases_by_member(brand_id: int) -> Select:
    return (
        select(
            MemberEvent.member_id,
            func.count(MemberEvent.id).label("purchases"),
            func.coalesce(func.sum(MemberEvent.amount), 0).label("amount"),
        )
        .where(MemberEvent.brand_id == brand_id, MemberEvent.type == PURCHASE)
        .group_by(MemberEvent.member_id)
    )


def _repeat_purchasers(brand_id: int) -> tuple[int, int]:
    """Members with at least one purchase event, and those with two or more."""
    per_member = _purchases_by_member(brand_id).subquery()
    buyers, repeat = db.session.execute(
        select(func.count(), func.coalesce(func.sum(case((per_member.c.purchases >= 2, 1), else_=0)), 0))
    ).one()
    return int(buyers), int(repeat)


def _purchases(brand_id: int) -> tuple[int, int]:
    """Purchase events and their amounts in total (refunds are events of their own, not deducted)."""
    count, amount = db.session.execute(
        select(func.count(MemberEvent.id), func.coalesce(func.sum(MemberEvent.amount), 0)).where(
            MemberEvent.brand_id == brand_id, MemberEvent.type == PURCHASE
        )
    ).one()
    return int(count), int(amount)


def _top_share(brand_id: int) -> tuple[float | None, int]:
    """The share of purchase amounts bought by the top 20% of purchasing members (ceil(n / 5) of
    them, ranked by amount), and that number of members."""
    per_member = _purchases_by_member(brand_id).subquery()
    ranked = select(
        per_member.c.amount,
        func.row_number().over(order_by=per_member.c.amount.desc()).label("rank"),
        func.count().over().label("buyers"),
    ).subquery()
    top = (ranked.c.rank * TOP_SHARE_DIVISOR) <= (ranked.c.buyers + TOP_SHARE_DIVISOR - 1)
    buyers, total, top_amount = db.session.execute(
        select(
            func.count(),
            func.coalesce(func.sum(ranked.c.amount), 0),
            func.coalesce(func.sum(case((top, ranked.c.amount), else_=0)), 0),
        )
    ).one()
    if not buyers:
        return None, 0
    top_members = -(-int(buyers) // TOP_SHARE_DIVISOR)
    return (round(int(top_amount) / int(total), 4) if total else None), top_members
