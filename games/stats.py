"""A campaign's figures: plays, wins, prizes, budget, liability; series, funnel and effectiveness."""

from __future__ import annotations

from datetime import datetime, timedelta
from math import ceil
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Subquery, Text, case, cast, func, select

from games.abuse import refusals
from games.campaigns import get_campaign, list_campaigns
from games.models import Campaign, MemberEvent, Play, Prize
from lixi.extensions import db
from lixi.models import Brand, Member
from lixi.timeutil import utcnow
from vouchers.models import Offer, OfferKind, Redemption, Voucher, VoucherStatus

OVERVIEW_FIGURES_MAX = 20  # the overview shows figures for the newest campaigns only


def brand_overview(brand_id: int) -> tuple[list[Campaign], dict[int, dict]]:
    """The brand's campaigns, newest first, and the live figures of the newest (by campaign id)."""
    campaigns = list_campaigns(brand_id)
    return campaigns, {campaign.id: _stats_of(campaign) for campaign in campaigns[:OVERVIEW_FIGURES_MAX]}


def campaign_stats(brand_id: int, campaign_id: int) -> dict:
    """Live figures: plays, wins, each prize won and left, vouchers, budget spent and liability."""
    return _stats_of(get_campaign(brand_id, campaign_id))


def _stats_of(campaign: Campaign) -> dict:
    """campaign_stats of a campaign already loaded (and scoped to its brand)."""
    plays, wins = _plays_and_wins(campaign.id)
    won_by_prize = _won_by_prize(campaign.id)
    remaining = _stock_left(campaign.id)
    issued, redeemed, liability = _vouchers_redeemed_and_liability(campaign.id)
    return {
        "id": campaign.id,
        "status": campaign.status,
        "plays": plays,
        "wins": wins,
        "prizes": [
            {
                "id": prize.id,
                "label": prize.label,
                "won": won_by_prize.get(prize.id, 0),
                "stock": prize.stock,
                "stock_left": remaining[prize.id],
            }
            for prize in campaign.prizes
        ],
        "vouchers_issued": issued,
        "vouchers_redeemed": redeemed,
        "budget": campaign.budget,
        "budget_spent": _budget_spent(campaign.id),
        "liability": liability,
        "refused_for_abuse": refusals(campaign.brand_id, campaign.id),
    }


def _plays_and_wins(campaign_id: int) -> tuple[int, int]:
    """Plays made, and those that issued a voucher."""
    plays, wins = db.session.execute(
        select(func.count(Play.id), func.count(Play.voucher_id)).where(Play.campaign_id == campaign_id)
    ).one()
    return plays, wins


def _won_by_prize(campaign_id: int) -> dict[int, int]:
    """Plays per prize landed on (by prize id)."""
    return dict(
        db.session.execute(
            select(Play.prize_id, func.count(Play.id))
            .where(Play.campaign_id == campaign_id, Play.prize_id.is_not(None))
            .group_by(Play.prize_id)
        ).all()
    )


def _stock_left(campaign_id: int) -> dict[int, int | None]:
    """Each prize's stock left (None: unlimited), read from the database the plays update."""
    return dict(
        db.session.execute(select(Prize.id, Prize.remaining).where(Prize.campaign_id == campaign_id)).all()
    )


def _vouchers_redeemed_and_liability(campaign_id: int) -> tuple[int, int, int]:
    """Vouchers issued, redeemed, and the liability: what the unredeemed, unexpired ones could still cost."""
    now = utcnow()
    open_value = case(
        (Offer.kind == OfferKind.GIFT_CARD, Voucher.balance),
        else_=Offer.value,
    )
    issued, redeemed, liability = db.session.execute(
        select(
            func.count(Voucher.id),
            func.count(case((Voucher.status == VoucherStatus.REDEEMED, 1))),
            func.coalesce(
                func.sum(
                    case(
                        (
                            (Voucher.status == VoucherStatus.ISSUED)
                            & (Voucher.expires_at.is_(None) | (Voucher.expires_at > now)),
                            open_value,
                        ),
                        else_=0,
                    )
                ),
                0,
            ),
        )
        .join(Play, Play.voucher_id == Voucher.id)
        .join(Offer, Offer.id == Voucher.offer_id)
        .where(Play.campaign_id == campaign_id)
    ).one()
    return issued, redeemed, int(liability)


def _budget_spent(campaign_id: int) -> int:
    """Read from the database, not the session's campaign: plays add to it by UPDATEs."""
    return db.session.execute(select(Campaign.budget_spent).where(Campaign.id == campaign_id)).scalar_one()


# --- Series, funnel and effectiveness for the dashboard ---------------------------------------

HOURLY_UP_TO = timedelta(hours=72)  # a longer campaign is charted per day


def _window(campaign: Campaign) -> tuple[datetime, datetime]:
    """From the campaign's start (or first activation) to its end (or now)."""
    now = utcnow()
    start = campaign.starts_at or campaign.activated_at or campaign.created_at
    end = min(campaign.ends_at, now) if campaign.ends_at else now
    return start, max(end, start)


def _bucket(column: Any, hourly: bool, offset_minutes: int) -> Any:
    """The local hour or day of a UTC timestamp column, as text, on SQLite or PostgreSQL."""
    if db.session.get_bind().dialect.name == "postgresql":
        shifted = column + func.make_interval(0, 0, 0, 0, 0, offset_minutes)
        return func.to_char(shifted, "YYYY-MM-DD HH24:00" if hourly else "YYYY-MM-DD")
    return func.strftime("%Y-%m-%d %H:00" if hourly else "%Y-%m-%d", column, f"{offset_minutes:+d} minutes")


def _labels(start: datetime, end: datetime, hourly: bool, zone: ZoneInfo) -> list[str]:
    """Every local hour (or day) of the window, so a quiet one shows as 0 instead of missing."""
    step = timedelta(hours=1) if hourly else timedelta(days=1)
    local = start.astimezone(zone).replace(minute=0, second=0, microsecond=0)
    if not hourly:
        local = local.replace(hour=0)
    labels = []
    while local <= end.astimezone(zone) and len(labels) < 2000:
        labels.append(local.strftime("%Y-%m-%d %H:00" if hourly else "%Y-%m-%d"))
        local += step
    return labels


def campaign_series(brand_id: int, campaign_id: int) -> dict:
    """Plays, wins and redemptions over time (per local hour, or per day for long campaigns)."""
    campaign = get_campaign(brand_id, campaign_id)
    brand = db.session.get(Brand, brand_id)
    assert brand is not None
    zone = ZoneInfo(brand.timezone)
    start, end = _window(campaign)
    hourly = end - start <= HOURLY_UP_TO
    offset = int((zone.utcoffset(end.replace(tzinfo=None)) or timedelta()).total_seconds() // 60)

    def counts(query: Any, column: Any) -> dict[str, int]:
        bucket = _bucket(column, hourly, offset).label("bucket")
        rows = db.session.execute(query.add_columns(bucket).group_by(bucket)).all()
        return {label: count for count, label in rows}

    plays = counts(select(func.count(Play.id)).where(Play.campaign_id == campaign.id), Play.created_at)
    wins = counts(
        select(func.count(Play.id)).where(Play.campaign_id == campaign.id, Play.voucher_id.is_not(None)),
        Play.created_at,
    )
    redemptions = counts(
        select(func.count(Redemption.id))
        .join(Play, Play.voucher_id == Redemption.voucher_id)
        .where(Play.campaign_id == campaign.id, Redemption.voided_at.is_(None)),
        Redemption.created_at,
    )
    labels = sorted(set(_labels(start, end, hourly, zone)) | set(plays) | set(wins) | set(redemptions))
    return {
        "unit": "hour" if hourly else "day",
        "labels": labels,
        "plays": [plays.get(label, 0) for label in labels],
        "wins": [wins.get(label, 0) for label in labels],
        "redemptions": [redemptions.get(label, 0) for label in labels],
    }


def _granting_events(campaign_id: int) -> Any:
    # Grants are stored as JSON text by json.dumps ({"campaign_id": 5, "plays": 1}) on both
    # databases, so a LIKE finds the events that granted plays of this campaign.
    return cast(MemberEvent.grants, Text).like(f'%"campaign_id": {int(campaign_id)},%')


def campaign_funnel(brand_id: int, campaign_id: int, stats: dict | None = None) -> dict:
    """Events that earned plays → plays → wins → vouchers redeemed, and the budget's burn rate.

    `stats`: the campaign_stats the caller already has (the dashboard shows both)."""
    stats = stats or campaign_stats(brand_id, campaign_id)
    campaign = get_campaign(brand_id, campaign_id)
    events = db.session.execute(
        select(func.count(MemberEvent.id)).where(
            MemberEvent.brand_id == brand_id, _granting_events(campaign.id)
        )
    ).scalar_one()
    start, end = _window(campaign)
    days = max((end - start).total_seconds() / 86400, 1 / 24)
    burn = stats["budget_spent"] / days
    left = None if campaign.budget is None else campaign.budget - stats["budget_spent"]
    return {
        "events": events,
        "plays": stats["plays"],
        "wins": stats["wins"],
        "redeemed": stats["vouchers_redeemed"],
        "burn_per_day": round(burn),
        "days_of_budget_left": None if left is None or burn == 0 else round(left / burn, 1),
    }


TOP_SHARE = 0.2  # "the top 20% of members by value"
TOP_ROWS_MAX = 50


def campaign_effectiveness(brand_id: int, campaign_id: int, stats: dict | None = None) -> dict:
    """Who took part, how much they bought before and during the campaign, and what it cost.

    Revenue comes from `purchase` events' amounts; "before" is a window as long as the campaign
    so far, just before it. First-time participants had no event or play with the brand before.
    `stats`: the campaign_stats the caller already has (the dashboard shows both).
    """
    campaign = get_campaign(brand_id, campaign_id)
    start, end = _window(campaign)
    before = start - (end - start)
    participants = select(Play.member_id).where(Play.campaign_id == campaign.id).distinct().subquery()
    count = _participant_count(participants)
    repeat = _repeat_participants(brand_id, participants, start)
    redeemed_value = _value_redeemed(campaign.id)
    stats = stats or campaign_stats(brand_id, campaign_id)
    during = _revenue(brand_id, participants, start, end)
    previous = _revenue(brand_id, participants, before, start)
    issued, redeemed = stats["vouchers_issued"], stats["vouchers_redeemed"]
    return {
        "participants": count,
        "first_time": count - repeat,
        "repeat": repeat,
        "vouchers_issued": issued,
        "vouchers_redeemed": redeemed,
        "redemption_rate": round(redeemed / issued, 4) if issued else None,
        "value_won": stats["budget_spent"],
        "value_redeemed": redeemed_value,
        "revenue_before": previous,
        "revenue_during": during,
        "net_uplift": during - previous - redeemed_value,
        "window": {"before": before.isoformat(), "start": start.isoformat(), "end": end.isoformat()},
        "top_members": _top_members(participants, count, start, end),
    }


def _participant_count(participants: Subquery) -> int:
    """Members who played the campaign."""
    return db.session.execute(select(func.count()).select_from(participants)).scalar_one()


def _repeat_participants(brand_id: int, participants: Subquery, start: datetime) -> int:
    """Participants who had an event or a play with the brand before the campaign started."""
    earlier_activity = (
        select(MemberEvent.member_id)
        .where(MemberEvent.brand_id == brand_id, MemberEvent.created_at < start)
        .union(select(Play.member_id).where(Play.brand_id == brand_id, Play.created_at < start))
        .subquery()
    )
    return db.session.execute(
        select(func.count())
        .select_from(participants)
        .where(participants.c.member_id.in_(select(earlier_activity.c.member_id)))
    ).scalar_one()


def _revenue(brand_id: int, participants: Subquery, since: datetime, until: datetime) -> int:
    """What the participants bought in [since, until): their purchase events' amounts."""
    total = db.session.execute(
        select(func.coalesce(func.sum(MemberEvent.amount), 0)).where(
            MemberEvent.brand_id == brand_id,
            MemberEvent.type == "purchase",
            MemberEvent.member_id.in_(select(participants.c.member_id)),
            MemberEvent.created_at >= since,
            MemberEvent.created_at < until,
        )
    ).scalar_one()
    return int(total)


def _value_redeemed(campaign_id: int) -> int:
    """What the campaign's vouchers took off bills (voided redemptions do not count)."""
    return int(
        db.session.execute(
            select(func.coalesce(func.sum(Redemption.amount), 0))
            .join(Play, Play.voucher_id == Redemption.voucher_id)
            .where(Play.campaign_id == campaign_id, Redemption.voided_at.is_(None))
        ).scalar_one()
    )


def _top_members(participants: Subquery, count: int, start: datetime, end: datetime) -> list[dict]:
    """The top TOP_SHARE of participants by what they bought during the campaign (TOP_ROWS_MAX at most)."""
    spend = func.coalesce(func.sum(MemberEvent.amount), 0).label("spend")
    ranked = db.session.execute(
        select(Member.external_id, Member.name, spend)
        .join(
            MemberEvent,
            (MemberEvent.member_id == Member.id)
            & (MemberEvent.type == "purchase")
            & (MemberEvent.created_at >= start)
            & (MemberEvent.created_at < end),
            isouter=True,
        )
        .where(Member.id.in_(select(participants.c.member_id)))
        .group_by(Member.id, Member.external_id, Member.name)
        .order_by(spend.desc(), Member.external_id)
        .limit(min(TOP_ROWS_MAX, max(1, ceil(count * TOP_SHARE))) if count else 0)
    ).all()
    return [
        {"external_id": external_id, "name": name, "spend": int(total)} for external_id, name, total in ranked
    ]
