"""Earning and using plays: grants, member events, and the draw itself.

A play is one write transaction: the member's play, the day's limit, the prize's stock and
daily cap, the campaign's budget and the issued voucher are each taken by one conditional
statement, so none can be exceeded under any concurrency, on SQLite or PostgreSQL.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from functools import lru_cache

from sqlalchemy import bindparam, insert, or_, select, update
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
from lixi.errors import NotFound
from lixi.extensions import db
from lixi.members import get_member, upsert_member
from lixi.models import Brand, Member
from lixi.outbox import publish
from vouchers.models import Offer, Voucher
from vouchers.service import insert_vouchers

# The play path's statements, built once on the tables (Core: no unit of work, no ORM bulk path).
_campaigns, _brands, _members = Campaign.__table__, Brand.__table__, Member.__table__
_prizes, _prize_days, _plays = Prize.__table__, PrizeDay.__table__, Play.__table__
_member_plays, _member_days = MemberPlays.__table__, MemberDay.__table__
_PLAYABLE = (
    select(
        _campaigns.c.id,
        _campaigns.c.status,
        _campaigns.c.starts_at,
        _campaigns.c.ends_at,
        _campaigns.c.draw_at,
        _campaigns.c.seed,
        _campaigns.c.seed_hash,
        _campaigns.c.pacing,
        _campaigns.c.plays_per_member_per_day,
        _brands.c.timezone,
    )
    .join(_brands, _brands.c.id == _campaigns.c.brand_id)
    .where(_campaigns.c.id == bindparam("b_campaign_id"), _campaigns.c.brand_id == bindparam("b_brand_id"))
)
_MEMBER_ID = select(_members.c.id).where(
    _members.c.brand_id == bindparam("b_brand_id"), _members.c.external_id == bindparam("b_external_id")
)
_PRIZE_TABLE = (
    select(
        _prizes.c.id,
        _prizes.c.position,
        _prizes.c.label,
        _prizes.c.weight,
        _prizes.c.stock,
        _prizes.c.daily_cap,
        _prizes.c.offer_id,
        _prizes.c.value,
    )
    .where(_prizes.c.campaign_id == bindparam("b_campaign_id"))
    .order_by(_prizes.c.position)
)
_PRIZE_ROOM = (
    select(
        _prizes.c.id, _prizes.c.remaining, _prize_days.c.won, _campaigns.c.budget_spent, _campaigns.c.budget
    )
    .join(_campaigns, _campaigns.c.id == _prizes.c.campaign_id)
    .outerjoin(
        _prize_days, (_prize_days.c.prize_id == _prizes.c.id) & (_prize_days.c.day == bindparam("b_today"))
    )
    .where(_prizes.c.campaign_id == bindparam("b_campaign_id"))
)
_USE_A_PLAY = (
    update(_member_plays)
    .where(
        _member_plays.c.campaign_id == bindparam("b_campaign_id"),
        _member_plays.c.member_id == bindparam("b_member_id"),
        _member_plays.c.used < _member_plays.c.granted,
    )
    .values(used=_member_plays.c.used + 1)
    .returning(_member_plays.c.granted - _member_plays.c.used)  # the plays left after this one
)
_INSERT_PLAY = insert(_plays).values(proof={}).returning(_plays.c.id)
_FINISH_PLAY = update(_plays).where(_plays.c.id == bindparam("b_play_id"))
_COUNT_TODAY = (
    update(_member_days)
    .where(
        _member_days.c.campaign_id == bindparam("b_campaign_id"),
        _member_days.c.member_id == bindparam("b_member_id"),
        _member_days.c.day == bindparam("b_today"),
        _member_days.c.played < bindparam("b_limit"),
    )
    .values(played=_member_days.c.played + 1)
)
_TAKE_STOCK = (
    update(_prizes)
    .where(_prizes.c.id == bindparam("b_prize_id"), _prizes.c.remaining > 0)
    .values(remaining=_prizes.c.remaining - 1)
)
_TAKE_DAILY = (
    update(_prize_days)
    .where(_prize_days.c.prize_id == bindparam("b_prize_id"), _prize_days.c.day == bindparam("b_today"))
    .where(_prize_days.c.won < bindparam("b_cap"))
    .values(won=_prize_days.c.won + 1)
)
_SPEND_BUDGET = (
    update(_campaigns)
    .where(
        _campaigns.c.id == bindparam("b_campaign_id"),
        or_(
            _campaigns.c.budget.is_(None),
            _campaigns.c.budget_spent + bindparam("b_cost") <= _campaigns.c.budget,
        ),
    )
    .values(budget_spent=_campaigns.c.budget_spent + bindparam("b_cost"))
)


@dataclass(frozen=True)
class PrizeSpec:
    """A prize as the draw sees it (its counters live in the database, not here)."""

    id: int
    position: int
    label: str
    weight: int
    stock: int | None
    daily_cap: int | None
    offer_id: int | None
    value: int


@dataclass(frozen=True)
class PlayRecord:
    id: int
    proof: dict


@dataclass(frozen=True)
class PlayResult:
    play: PlayRecord
    prize: PrizeSpec | None
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


def _is_running(campaign) -> bool:  # type: ignore[no-untyped-def]
    """Is the campaign (an ORM row or a _PLAYABLE row) open for plays now?"""
    now = timeutil.utcnow()
    return (
        campaign.status == CampaignStatus.ACTIVE
        and (campaign.starts_at is None or campaign.starts_at <= now)
        and (campaign.ends_at is None or campaign.ends_at > now)
        and (campaign.draw_at is None or campaign.draw_at > now)  # entries close at the draw
    )


@lru_cache(maxsize=1024)
def _prize_specs(campaign_id: int, seed: str) -> tuple[PrizeSpec, ...]:
    """A campaign's prize table, cached per worker: prizes never change once a campaign has a seed
    (only drafts can be edited, and activation draws the seed), and the seed keys the cache, so a
    reused id can never hand out another campaign's prizes."""
    rows = db.session.execute(_PRIZE_TABLE, {"b_campaign_id": campaign_id}).all()
    return tuple(PrizeSpec(*row) for row in rows)


def _candidates(
    campaign_id: int, prizes: tuple[PrizeSpec, ...], pacing: bool, today: date, now: datetime
) -> list[tuple[int, int]]:
    """Prizes that may still be won now: stock, today's cap, the budget (and a passed moment) have room.

    Read inside the play's write transaction (under SQLite's write lock, it is exact)."""
    rows = db.session.execute(_PRIZE_ROOM, {"b_campaign_id": campaign_id, "b_today": today}).all()
    room = {prize_id: (left, won_today or 0) for prize_id, left, won_today, _, _ in rows}
    _, _, _, spent, budget = rows[0]
    paced = [p.id for p in prizes if p.stock is not None] if pacing else []
    moments = open_moments(paced, now)
    candidates = []
    for prize in prizes:
        left, won_today = room[prize.id]
        if prize.id in paced and not moments.get(prize.id):
            continue
        if left is not None and left <= 0:
            continue
        if prize.daily_cap is not None and won_today >= prize.daily_cap:
            continue
        if budget is not None and prize.value and spent + prize.value > budget:
            continue
        candidates.append((prize.id, prize.weight))
    return candidates


def _try_to_take(
    campaign_id: int, prize: PrizeSpec, paced: bool, today: date, now: datetime, play_id: int
) -> bool:
    """Take one unit of the prize's stock, daily cap, budget (and moment), all or none (a savepoint)."""
    if prize.stock is None and prize.daily_cap is None and not prize.value:
        return True  # "better luck next time" and other unlimited prizes take no row lock
    session = db.session
    savepoint = session.begin_nested()
    params = {"b_prize_id": prize.id, "b_campaign_id": campaign_id, "b_today": today, "b_cost": prize.value}
    ok = prize.stock is None or session.execute(_TAKE_STOCK, params).rowcount == 1
    if ok and prize.daily_cap is not None:
        insert_ignoring_duplicates(PrizeDay, {"prize_id": prize.id, "day": today})
        ok = session.execute(_TAKE_DAILY, {**params, "b_cap": prize.daily_cap}).rowcount == 1
    if ok and prize.value:
        ok = session.execute(_SPEND_BUDGET, params).rowcount == 1
    if ok and paced and prize.stock is not None:
        ok = claim_moment(prize.id, play_id, now)
    if ok:
        savepoint.commit()
    else:
        savepoint.rollback()
    return ok


def play(brand_id: int, campaign_id: int, member_external_id: str) -> PlayResult:
    """One play, decided on the server: the member's play is used and the prize (if any) issued.

    The hot path of the service: Core statements built once, the prize table cached per worker,
    and the plays left returned by the UPDATE that uses the play.
    """
    campaign = db.session.execute(_PLAYABLE, {"b_campaign_id": campaign_id, "b_brand_id": brand_id}).first()
    if campaign is None:
        raise NotFound("No such campaign.")
    if not _is_running(campaign):
        raise GameConflict(GameErrorCode.CAMPAIGN_NOT_ACTIVE, {"status": campaign.status})
    member_id = db.session.execute(
        _MEMBER_ID, {"b_brand_id": brand_id, "b_external_id": member_external_id}
    ).scalar()
    if member_id is None:
        raise NotFound("No such member.")
    assert campaign.seed is not None
    prizes = _prize_specs(campaign.id, campaign.seed)
    now = timeutil.utcnow()
    today = timeutil.local_date(now, campaign.timezone)
    bound = {"b_campaign_id": campaign.id, "b_member_id": member_id}
    with write_transaction() as session:
        left = session.execute(_USE_A_PLAY, bound).scalar()
        if left is None:
            raise GameConflict(GameErrorCode.NO_PLAYS_LEFT)
        if campaign.plays_per_member_per_day is not None:
            insert_ignoring_duplicates(
                MemberDay, {"campaign_id": campaign.id, "member_id": member_id, "day": today}
            )
            counted = session.execute(
                _COUNT_TODAY, {**bound, "b_today": today, "b_limit": campaign.plays_per_member_per_day}
            )
            if counted.rowcount != 1:
                raise GameConflict(GameErrorCode.DAILY_LIMIT_REACHED)
        play_id = session.execute(
            _INSERT_PLAY,
            {"brand_id": brand_id, "campaign_id": campaign.id, "member_id": member_id, "created_at": now},
        ).scalar_one()

        if campaign.draw_at is not None:
            # A scheduled draw: the play is an entry; the winners are drawn once at draw_at.
            proof = {"seed_hash": campaign.seed_hash, "entry": True, "draw_at": campaign.draw_at.isoformat()}
            session.execute(
                _FINISH_PLAY, {"b_play_id": play_id, "prize_id": None, "voucher_id": None, "proof": proof}
            )
            record_audit(brand_id, "entry.made", "play", play_id, {"campaign_id": campaign.id})
            return PlayResult(PlayRecord(play_id, proof), None, None, left)

        the_roll = roll(campaign.seed, campaign.id, play_id)
        candidates = _candidates(campaign.id, prizes, campaign.pacing, today, now)
        by_id = {p.id: p for p in prizes}
        skipped: list[int] = []
        won: PrizeSpec | None = None
        while (chosen := pick(the_roll, candidates, skipped)) is not None:
            if _try_to_take(campaign.id, by_id[chosen], campaign.pacing, today, now, play_id):
                won = by_id[chosen]
                break
            skipped.append(chosen)  # ran out between reading and taking: fall to the next outcome

        voucher = None
        if won is not None and won.offer_id is not None:
            offer, brand = session.get(Offer, won.offer_id), session.get(Brand, brand_id)
            assert offer is not None and brand is not None
            voucher = insert_vouchers(brand, offer, 1, member_id, source="play")[0]
        prize_id = won.id if won else None
        proof = {
            "seed_hash": campaign.seed_hash,
            "roll": the_roll,
            "candidates": candidates,
            "skipped": skipped,
            "prize_id": prize_id,
        }
        session.execute(
            _FINISH_PLAY,
            {
                "b_play_id": play_id,
                "prize_id": prize_id,
                "voucher_id": voucher.id if voucher else None,
                "proof": proof,
            },
        )
        record_audit(
            brand_id,
            "play.made",
            "play",
            play_id,
            {"campaign_id": campaign.id, "member": member_external_id, "prize_id": prize_id},
        )
        if voucher is not None:  # a prize without a voucher is "better luck next time"
            publish(
                brand_id,
                "prize.won",
                {
                    "campaign_id": campaign.id,
                    "play_id": play_id,
                    "member_external_id": member_external_id,
                    "prize": {"id": won.id, "label": won.label, "value": won.value},
                    "voucher_code": voucher.code,
                },
            )
    return PlayResult(PlayRecord(play_id, proof), won, voucher, left)
