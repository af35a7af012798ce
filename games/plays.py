"""Earning and using plays: grants, member events, and the draw itself.

A play is one write transaction: the member's play, the day's limit, the prize's stock and
daily cap, the campaign's budget and the issued voucher are each taken by one conditional
statement, so none can be exceeded under any concurrency, on SQLite or PostgreSQL.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import bindparam, or_, select, update
from sqlalchemy.exc import IntegrityError

from games.campaigns import get_campaign
from games.errors import GameConflict, GameErrorCode
from games.fairness import pick, roll
from games.models import (
    Campaign,
    CampaignStatus,
    EarningRule,
    MemberDay,
    MemberEvent,
    MemberPlays,
    Play,
    Prize,
    PrizeDay,
)
from games.pacing import claim_moment, open_moments
from lixi import timeutil
from lixi.audit import record_audit
from lixi.database import insert_ignoring_duplicates, write_transaction
from lixi.extensions import db
from lixi.members import get_member, upsert_member
from lixi.models import Brand
from vouchers.models import Offer, Voucher
from vouchers.service import insert_vouchers

_USE_A_PLAY = (
    update(MemberPlays)
    .where(
        MemberPlays.campaign_id == bindparam("b_campaign_id"),
        MemberPlays.member_id == bindparam("b_member_id"),
        MemberPlays.used < MemberPlays.granted,
    )
    .values(used=MemberPlays.used + 1)
    .execution_options(synchronize_session=False)
)
_COUNT_TODAY = (
    update(MemberDay)
    .where(
        MemberDay.campaign_id == bindparam("b_campaign_id"),
        MemberDay.member_id == bindparam("b_member_id"),
        MemberDay.day == bindparam("b_today"),
        MemberDay.played < bindparam("b_limit"),
    )
    .values(played=MemberDay.played + 1)
    .execution_options(synchronize_session=False)
)
_TAKE_STOCK = (
    update(Prize)
    .where(Prize.id == bindparam("b_prize_id"), Prize.remaining > 0)
    .values(remaining=Prize.remaining - 1)
    .execution_options(synchronize_session=False)
)
_TAKE_DAILY = (
    update(PrizeDay)
    .where(PrizeDay.prize_id == bindparam("b_prize_id"), PrizeDay.day == bindparam("b_today"))
    .where(PrizeDay.won < bindparam("b_cap"))
    .values(won=PrizeDay.won + 1)
    .execution_options(synchronize_session=False)
)
_SPEND_BUDGET = (
    update(Campaign)
    .where(
        Campaign.id == bindparam("b_campaign_id"),
        or_(Campaign.budget.is_(None), Campaign.budget_spent + bindparam("b_cost") <= Campaign.budget),
    )
    .values(budget_spent=Campaign.budget_spent + bindparam("b_cost"))
    .execution_options(synchronize_session=False)
)


@dataclass(frozen=True)
class PlayResult:
    play: Play
    prize: Prize | None
    voucher: Voucher | None
    plays_left: int


def plays_left(campaign_id: int, member_id: int) -> int:
    """Read from the database, not the session's memory: the counters change by UPDATEs."""
    left = db.session.execute(
        select(MemberPlays.granted - MemberPlays.used).where(
            MemberPlays.campaign_id == campaign_id, MemberPlays.member_id == member_id
        )
    ).scalar()
    return left or 0


def _add_plays(campaign_id: int, member_id: int, plays: int) -> None:
    insert_ignoring_duplicates(MemberPlays, {"campaign_id": campaign_id, "member_id": member_id})
    db.session.execute(
        update(MemberPlays)
        .where(MemberPlays.campaign_id == campaign_id, MemberPlays.member_id == member_id)
        .values(granted=MemberPlays.granted + plays)
        .execution_options(synchronize_session=False)
    )


def grant_plays(brand_id: int, member_external_id: str, campaign_id: int, plays: int) -> int:
    """Give a member plays directly; returns the plays they have left."""
    campaign = get_campaign(brand_id, campaign_id)
    member = get_member(brand_id, member_external_id)
    with write_transaction():
        _add_plays(campaign.id, member.id, plays)
        record_audit(
            brand_id,
            "plays.granted",
            "member",
            member.external_id,
            {"campaign_id": campaign.id, "plays": plays},
        )
    return plays_left(campaign.id, member.id)


def _rules_matching(brand_id: int, event_type: str, amount: int | None) -> list[tuple[int, int]]:
    """(campaign_id, plays) of the brand's running campaigns whose rules this event meets."""
    now = timeutil.utcnow()
    rows = db.session.execute(
        select(EarningRule.campaign_id, EarningRule.plays, EarningRule.min_amount, EarningRule.max_amount)
        .join(Campaign, Campaign.id == EarningRule.campaign_id)
        .where(
            Campaign.brand_id == brand_id,
            Campaign.status == CampaignStatus.ACTIVE,
            or_(Campaign.starts_at.is_(None), Campaign.starts_at <= now),
            or_(Campaign.ends_at.is_(None), Campaign.ends_at > now),
            EarningRule.event == event_type,
        )
        .order_by(EarningRule.campaign_id, EarningRule.id)
    ).all()
    grants: list[tuple[int, int]] = []
    for campaign_id, plays, low, high in rows:
        if (low is not None or high is not None) and amount is None:
            continue
        if low is not None and amount < low:
            continue
        if high is not None and amount > high:
            continue
        grants.append((campaign_id, plays))
    return grants


def record_event(
    brand_id: int, member_external_id: str, event_type: str, external_id: str, amount: int | None
) -> tuple[MemberEvent, bool]:
    """Apply a member event once: (event, created). A repeated external_id returns the first result."""
    existing = _find_event(brand_id, external_id)
    if existing is not None:
        return existing, False
    member, _ = upsert_member(brand_id, member_external_id, {})
    grants = _rules_matching(brand_id, event_type, amount)
    try:
        with write_transaction() as session:
            event = MemberEvent(
                brand_id=brand_id,
                external_id=external_id,
                member_id=member.id,
                type=event_type,
                amount=amount,
                grants=[{"campaign_id": c, "plays": p} for c, p in grants],
            )
            session.add(event)
            session.flush()
            for campaign_id, plays in grants:
                _add_plays(campaign_id, member.id, plays)
            record_audit(
                brand_id,
                "event.recorded",
                "member_event",
                external_id,
                {"type": event_type, "grants": event.grants},
            )
    except IntegrityError:
        # The same external_id raced us and won: it granted; we grant nothing.
        db.session.rollback()
        existing = _find_event(brand_id, external_id)
        if existing is None:
            raise
        return existing, False
    return event, True


def _find_event(brand_id: int, external_id: str) -> MemberEvent | None:
    return db.session.execute(
        select(MemberEvent).where(MemberEvent.brand_id == brand_id, MemberEvent.external_id == external_id)
    ).scalar()


def _is_running(campaign: Campaign) -> bool:
    now = timeutil.utcnow()
    return (
        campaign.status == CampaignStatus.ACTIVE
        and (campaign.starts_at is None or campaign.starts_at <= now)
        and (campaign.ends_at is None or campaign.ends_at > now)
        and (campaign.draw_at is None or campaign.draw_at > now)  # entries close at the draw
    )


def _candidates(campaign: Campaign, today, now) -> list[tuple[int, int]]:  # type: ignore[no-untyped-def]
    """Prizes that may still be won now: stock, today's cap, the budget (and a passed moment) have room."""
    won_today = dict(
        db.session.execute(
            select(PrizeDay.prize_id, PrizeDay.won).where(
                PrizeDay.day == today, PrizeDay.prize_id.in_([p.id for p in campaign.prizes])
            )
        ).all()
    )
    spent, budget = db.session.execute(
        select(Campaign.budget_spent, Campaign.budget).where(Campaign.id == campaign.id)
    ).one()
    remaining = dict(
        db.session.execute(select(Prize.id, Prize.remaining).where(Prize.campaign_id == campaign.id)).all()
    )
    paced = [p.id for p in campaign.prizes if p.stock is not None] if campaign.pacing else []
    moments = open_moments(paced, now)
    candidates = []
    for prize in campaign.prizes:
        left = remaining[prize.id]
        if prize.id in paced and not moments.get(prize.id):
            continue
        if left is not None and left <= 0:
            continue
        if prize.daily_cap is not None and won_today.get(prize.id, 0) >= prize.daily_cap:
            continue
        if budget is not None and prize.value and spent + prize.value > budget:
            continue
        candidates.append((prize.id, prize.weight))
    return candidates


def _try_to_take(campaign: Campaign, prize: Prize, today, now, play_id: int) -> bool:  # type: ignore[no-untyped-def]
    """Take one unit of the prize's stock, daily cap, budget (and moment), all or none (a savepoint)."""
    session = db.session
    savepoint = session.begin_nested()
    params = {"b_prize_id": prize.id, "b_campaign_id": campaign.id, "b_today": today, "b_cost": prize.value}
    # Unlimited prizes ("better luck next time") take no row lock: most plays touch no hot row.
    ok = prize.stock is None or session.execute(_TAKE_STOCK, params).rowcount == 1
    if ok and prize.daily_cap is not None:
        insert_ignoring_duplicates(PrizeDay, {"prize_id": prize.id, "day": today})
        ok = session.execute(_TAKE_DAILY, {**params, "b_cap": prize.daily_cap}).rowcount == 1
    if ok and prize.value:
        ok = session.execute(_SPEND_BUDGET, params).rowcount == 1
    if ok and campaign.pacing and prize.stock is not None:
        ok = claim_moment(prize, play_id, now)
    if ok:
        savepoint.commit()
    else:
        savepoint.rollback()
    return ok


def play(brand_id: int, campaign_id: int, member_external_id: str) -> PlayResult:
    """One play, decided on the server: the member's play is used and the prize (if any) issued."""
    campaign = get_campaign(brand_id, campaign_id)
    if not _is_running(campaign):
        raise GameConflict(GameErrorCode.CAMPAIGN_NOT_ACTIVE, {"status": campaign.status})
    member = get_member(brand_id, member_external_id)
    brand = db.session.get(Brand, brand_id)
    assert brand is not None and campaign.seed is not None
    now = timeutil.utcnow()
    today = timeutil.local_date(now, brand.timezone)
    keys = {"campaign_id": campaign.id, "member_id": member.id}
    bound = {"b_campaign_id": campaign.id, "b_member_id": member.id}
    with write_transaction() as session:
        if session.execute(_USE_A_PLAY, bound).rowcount != 1:
            raise GameConflict(GameErrorCode.NO_PLAYS_LEFT)
        if campaign.plays_per_member_per_day is not None:
            insert_ignoring_duplicates(MemberDay, {**keys, "day": today})
            counted = session.execute(
                _COUNT_TODAY, {**bound, "b_today": today, "b_limit": campaign.plays_per_member_per_day}
            )
            if counted.rowcount != 1:
                raise GameConflict(GameErrorCode.DAILY_LIMIT_REACHED)
        the_play = Play(brand_id=brand_id, campaign_id=campaign.id, member_id=member.id)
        session.add(the_play)
        session.flush()

        if campaign.draw_at is not None:
            # A scheduled draw: the play is an entry; the winners are drawn once at draw_at.
            the_play.proof = {
                "seed_hash": campaign.seed_hash,
                "entry": True,
                "draw_at": campaign.draw_at.isoformat(),
            }
            session.flush()
            record_audit(brand_id, "entry.made", "play", the_play.id, {"campaign_id": campaign.id})
            return PlayResult(the_play, None, None, plays_left(campaign.id, member.id))

        the_roll = roll(campaign.seed, campaign.id, the_play.id)
        candidates = _candidates(campaign, today, now)
        prizes = {p.id: p for p in campaign.prizes}
        skipped: list[int] = []
        won: Prize | None = None
        while (chosen := pick(the_roll, candidates, skipped)) is not None:
            if _try_to_take(campaign, prizes[chosen], today, now, the_play.id):
                won = prizes[chosen]
                break
            skipped.append(chosen)  # ran out between reading and taking: fall to the next outcome

        voucher = None
        if won is not None and won.offer_id is not None:
            offer = session.get(Offer, won.offer_id)
            assert offer is not None
            voucher = insert_vouchers(brand, offer, 1, member.id, source="play")[0]
        the_play.prize_id = won.id if won else None
        the_play.voucher_id = voucher.id if voucher else None
        the_play.proof = {
            "seed_hash": campaign.seed_hash,
            "roll": the_roll,
            "candidates": candidates,
            "skipped": skipped,
            "prize_id": the_play.prize_id,
        }
        session.flush()
        record_audit(
            brand_id,
            "play.made",
            "play",
            the_play.id,
            {"campaign_id": campaign.id, "member": member.external_id, "prize_id": the_play.prize_id},
        )
    return PlayResult(the_play, won, voucher, plays_left(campaign.id, member.id))
