"""Using plays: the draw itself, from the member's play to the issued voucher and the proof.

A play is one write transaction: the member's play, the day's limit, the prize's stock and
daily cap, the campaign's budget and the issued voucher are each taken by one conditional
statement, so none can be exceeded under any concurrency, on SQLite or PostgreSQL. On PostgreSQL
the transaction sends fewer statements (data-modifying CTEs): the use of the play, its insert and
the read of the prizes' room are one, its outcome and audit row another. A play cannot be a single
statement: its roll is derived from the play's id, in Python, between the two.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from functools import lru_cache
from typing import Any

from sqlalchemy import Row, Select, bindparam, insert, or_, select, true, update
from sqlalchemy.orm import Session

from games.errors import GameConflict, GameErrorCode
from games.events import ENTRY_MADE, PLAY_MADE, PRIZE_WON
from games.fairness import pick, roll
from games.models import Campaign, CampaignStatus, MemberDay, MemberPlays, Play, Prize, PrizeDay
from games.pacing import claim_moment, open_moments
from lixi import timeutil
from lixi.audit import audit_insert_from, audit_params, record_audit
from lixi.database import (
    insert_from,
    insert_ignoring_duplicates,
    prefixed,
    read_row,
    write_transaction,
    writes_in_ctes,
)
from lixi.errors import NotFound
from lixi.extensions import db
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
        select(_members.c.id)
        .where(
            _members.c.brand_id == bindparam("b_brand_id"),
            _members.c.external_id == bindparam("b_external_id"),
        )
        .scalar_subquery()
        .label("member_id"),
    )
    .join(_brands, _brands.c.id == _campaigns.c.brand_id)
    .where(_campaigns.c.id == bindparam("b_campaign_id"), _campaigns.c.brand_id == bindparam("b_brand_id"))
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
    .returning((_member_plays.c.granted - _member_plays.c.used).label("plays_left"))  # after this one
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


_PLAY_PREFIX = "play_"


def _enter_in_one_statement() -> Select:
    """PostgreSQL: use a play, insert it and read the prizes' room in one statement (a data-modifying
    CTE); a row per prize, each with the play's id and the plays left, or no row when the member has
    none left. Inside the play's transaction: the rest of the play still commits with it."""
    used = _USE_A_PLAY.cte("used")
    bound = ("brand_id", "campaign_id", "member_id", "created_at", "proof")
    entered = insert_from(_plays, used, _PLAY_PREFIX, bound, {}).returning(_plays.c.id).cte("entered")
    room = _PRIZE_ROOM.subquery("room")
    return select(entered.c.id, used.c.plays_left, *room.c).select_from(
        used.join(entered, true()).outerjoin(room, true())
    )


def _finish_in_one_statement() -> Select:
    """PostgreSQL: store the play's outcome and its audit row in one statement."""
    finished = (
        _FINISH_PLAY.values(
            prize_id=bindparam("prize_id"), voucher_id=bindparam("voucher_id"), proof=bindparam("proof")
        )
        .returning(_plays.c.id)
        .cte("finished")
    )
    audit = audit_insert_from(finished).cte("audit")
    return select(finished.c.id).add_cte(audit)


_ENTER = _enter_in_one_statement()
_FINISH_AND_AUDIT = _finish_in_one_statement()


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
    """The stored play: its id and the proof of its outcome."""

    id: int
    proof: dict


@dataclass(frozen=True)
class PlayResult:
    """What a play gives back: the play, the prize landed on, its voucher and the plays left."""

    play: PlayRecord
    prize: PrizeSpec | None
    voucher: Voucher | None
    plays_left: int


@dataclass(frozen=True, slots=True)
class _Choice:
    """What the roll landed on: the proof's figures and the prize taken (None if nothing had room)."""

    roll: str
    candidates: list[tuple[int, int]]
    skipped: list[int]
    won: PrizeSpec | None


def plays_left(campaign_id: int, member_id: int) -> int:
    """Read from the database, not the session's memory: the counters change by UPDATEs."""
    left = db.session.execute(
        select(MemberPlays.granted - MemberPlays.used).where(
            MemberPlays.campaign_id == campaign_id, MemberPlays.member_id == member_id
        )
    ).scalar()
    return left or 0


def _is_running(campaign: Row) -> bool:
    """Is the campaign (a _PLAYABLE row) open for plays now?"""
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
    rows = db.session.connection().execute(_PRIZE_TABLE, {"b_campaign_id": campaign_id}).all()
    return tuple(PrizeSpec(*row) for row in rows)


def _room(campaign_id: int, today: date) -> list[Row]:
    """The prizes' counters (_PRIZE_ROOM's rows), read inside the play's write transaction (under
    SQLite's write lock, it is exact)."""
    return (
        db.session.connection().execute(_PRIZE_ROOM, {"b_campaign_id": campaign_id, "b_today": today}).all()
    )


def _candidates(
    rows: list[Any], prizes: tuple[PrizeSpec, ...], pacing: bool, now: datetime
) -> list[tuple[int, int]]:
    """Prizes that may still be won now: stock, today's cap, the budget (and a passed moment) have room."""
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
    ok = prize.stock is None or session.connection().execute(_TAKE_STOCK, params).rowcount == 1
    if ok and prize.daily_cap is not None:
        insert_ignoring_duplicates(PrizeDay, {"prize_id": prize.id, "day": today})
        ok = session.connection().execute(_TAKE_DAILY, {**params, "b_cap": prize.daily_cap}).rowcount == 1
    if ok and prize.value:
        ok = session.connection().execute(_SPEND_BUDGET, params).rowcount == 1
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
    campaign, member_id = _playable(brand_id, campaign_id, member_external_id)
    assert campaign.seed is not None
    prizes = _prize_specs(campaign.id, campaign.seed)
    now = timeutil.utcnow()
    today = timeutil.local_date(now, campaign.timezone)
    play_row = {"brand_id": brand_id, "campaign_id": campaign.id, "member_id": member_id, "created_at": now}
    with write_transaction() as session:
        if writes_in_ctes() and campaign.draw_at is None and campaign.plays_per_member_per_day is None:
            play_id, left, room = _enter(session, campaign, member_id, today, play_row)
        else:
            left = _use_a_play(session, campaign, member_id, today)
            play_id = session.connection().execute(_INSERT_PLAY, play_row).scalar_one()
            if campaign.draw_at is not None:
                # A scheduled draw: the play is an entry; the winners are drawn once at draw_at.
                return PlayResult(_record_entry(session, brand_id, campaign, play_id), None, None, left)
            room = _room(campaign.id, today)
        choice = _choose_prize(campaign, prizes, play_id, room, today, now)
        voucher = _issue_voucher(session, brand_id, choice.won, member_id)
        proof = _record_proof(session, brand_id, campaign, play_id, member_external_id, choice, voucher)
        if voucher is not None:  # a prize without a voucher is "better luck next time"
            _announce_win(brand_id, campaign.id, play_id, member_external_id, choice.won, voucher)
    return PlayResult(PlayRecord(play_id, proof), choice.won, voucher, left)


def _playable(brand_id: int, campaign_id: int, member_external_id: str) -> tuple[Row, int]:
    """The running campaign (a _PLAYABLE row) and the member's id; 404 or 409 otherwise."""
    params = {"b_campaign_id": campaign_id, "b_brand_id": brand_id, "b_external_id": member_external_id}
    campaign = read_row(_PLAYABLE, params)
    if campaign is None:
        raise NotFound("No such campaign.")
    if not _is_running(campaign):
        raise GameConflict(GameErrorCode.CAMPAIGN_NOT_ACTIVE, {"status": campaign.status})
    if campaign.member_id is None:
        raise NotFound("No such member.")
    return campaign, campaign.member_id


def _enter(
    session: Session, campaign: Row, member_id: int, today: date, play_row: dict[str, Any]
) -> tuple[int, int, list[Any]]:
    """PostgreSQL, a play without a daily limit: use the play, insert it and read the prizes' room in
    one statement (_ENTER); the play's id, the plays left and the room (_PRIZE_ROOM's rows)."""
    params = {"b_campaign_id": campaign.id, "b_member_id": member_id, "b_today": today}
    rows = (
        session.connection()
        .execute(_ENTER, {**params, **prefixed(_PLAY_PREFIX, {**play_row, "proof": {}})})
        .all()
    )
    if not rows:
        raise GameConflict(GameErrorCode.NO_PLAYS_LEFT)
    return rows[0][0], rows[0][1], [tuple(row)[2:] for row in rows]


def _use_a_play(session: Session, campaign: Row, member_id: int, today: date) -> int:
    """Use one of the member's plays and count it against today's limit; the plays left after it."""
    bound = {"b_campaign_id": campaign.id, "b_member_id": member_id}
    left = session.connection().execute(_USE_A_PLAY, bound).scalar()
    if left is None:
        raise GameConflict(GameErrorCode.NO_PLAYS_LEFT)
    if campaign.plays_per_member_per_day is not None:
        insert_ignoring_duplicates(
            MemberDay, {"campaign_id": campaign.id, "member_id": member_id, "day": today}
        )
        counted = session.connection().execute(
            _COUNT_TODAY, {**bound, "b_today": today, "b_limit": campaign.plays_per_member_per_day}
        )
        if counted.rowcount != 1:
            raise GameConflict(GameErrorCode.DAILY_LIMIT_REACHED)
    return left


def _record_entry(session: Session, brand_id: int, campaign: Row, play_id: int) -> PlayRecord:
    """A lucky-draw entry: the proof says when it will be drawn; no prize yet."""
    proof = {"seed_hash": campaign.seed_hash, "entry": True, "draw_at": campaign.draw_at.isoformat()}
    session.connection().execute(
        _FINISH_PLAY, {"b_play_id": play_id, "prize_id": None, "voucher_id": None, "proof": proof}
    )
    record_audit(brand_id, ENTRY_MADE, "play", play_id, {"campaign_id": campaign.id})
    return PlayRecord(play_id, proof)


def _choose_prize(
    campaign: Row, prizes: tuple[PrizeSpec, ...], play_id: int, room: list[Any], today: date, now: datetime
) -> _Choice:
    """Roll, and take the prize it lands on; one that ran out since the read falls to the next outcome."""
    the_roll = roll(campaign.seed, campaign.id, play_id)
    candidates = _candidates(room, prizes, campaign.pacing, now)
    by_id = {p.id: p for p in prizes}
    skipped: list[int] = []
    while (chosen := pick(the_roll, candidates, skipped)) is not None:
        if _try_to_take(campaign.id, by_id[chosen], campaign.pacing, today, now, play_id):
            return _Choice(the_roll, candidates, skipped, by_id[chosen])
        skipped.append(chosen)  # ran out between reading and taking: fall to the next outcome
    return _Choice(the_roll, candidates, skipped, None)


def _issue_voucher(session: Session, brand_id: int, won: PrizeSpec | None, member_id: int) -> Voucher | None:
    """The won prize's voucher, for a prize with an offer."""
    if won is None or won.offer_id is None:
        return None
    offer, brand = session.get(Offer, won.offer_id), session.get(Brand, brand_id)
    assert offer is not None and brand is not None
    return insert_vouchers(brand, offer, 1, member_id, source="play")[0]


def _record_proof(
    session: Session,
    brand_id: int,
    campaign: Row,
    play_id: int,
    member_external_id: str,
    choice: _Choice,
    voucher: Voucher | None,
) -> dict:
    """Store the play's outcome and the proof anyone can recompute once the seed is revealed."""
    prize_id = choice.won.id if choice.won else None
    proof = {
        "seed_hash": campaign.seed_hash,
        "roll": choice.roll,
        "candidates": choice.candidates,
        "skipped": choice.skipped,
        "prize_id": prize_id,
    }
    outcome = {"b_play_id": play_id, "prize_id": prize_id, "voucher_id": voucher.id if voucher else None}
    audit_data = {"campaign_id": campaign.id, "member": member_external_id, "prize_id": prize_id}
    if writes_in_ctes():  # the outcome and its audit row in one statement
        audit = audit_params(brand_id, PLAY_MADE, "play", play_id, audit_data)
        session.connection().execute(_FINISH_AND_AUDIT, {**outcome, "proof": proof, **audit})
    else:
        session.connection().execute(_FINISH_PLAY, {**outcome, "proof": proof})
        record_audit(brand_id, PLAY_MADE, "play", play_id, audit_data)
    return proof


def _announce_win(
    brand_id: int, campaign_id: int, play_id: int, member_external_id: str, won: PrizeSpec, voucher: Voucher
) -> None:
    """Publish the win to the outbox, in the play's transaction."""
    publish(
        brand_id,
        PRIZE_WON,
        {
            "campaign_id": campaign_id,
            "play_id": play_id,
            "member_external_id": member_external_id,
            "prize": {"id": won.id, "label": won.label, "value": won.value},
            "voucher_code": voucher.code,
        },
    )
