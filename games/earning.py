"""Earning plays: grants made directly, and member events that meet the running campaigns' rules."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from flask import Flask, current_app
from sqlalchemy import func, or_, select, update
from sqlalchemy.exc import IntegrityError

from games.campaigns import get_campaign
from games.errors import GameConflict, GameErrorCode
from games.events import EVENT_RECORDED, PLAYS_GRANTED
from games.models import Campaign, CampaignStatus, EarningRule, MemberEvent, MemberPlays
from games.plays import plays_left
from lixi import timeutil
from lixi.audit import record_audit
from lixi.database import insert_ignoring_duplicates, write_transaction
from lixi.errors import NotFound
from lixi.extensions import db
from lixi.members import ensure_member, get_member
from lixi.models import Member


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
            PLAYS_GRANTED,
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


@dataclass(frozen=True)
class Refund:
    """A refund event's purchase, and how much of it was refunded before and after this refund."""

    purchase: MemberEvent
    refunded_before: int
    refunded_after: int

    def share(self, whole: int, refunded: int) -> int:
        """The part of `whole` that `refunded` of the purchase's amount stands for, rounded down."""
        amount = self.purchase.amount or 0
        return whole if refunded >= amount else whole * refunded // amount

    def take_back(self, whole: int) -> int:
        """What this refund takes back of `whole`: the refunds' total share less what earlier ones took."""
        return self.share(whole, self.refunded_after) - self.share(whole, self.refunded_before)


# Called inside an event's transaction with (event, member, refund or None); returns its grants.
EventEarner = Callable[[MemberEvent, Member, Refund | None], list[dict]]
_EARNERS = "games_event_earners"


def add_event_earner(app: Flask, earner: EventEarner) -> None:
    """A domain above games (loyalty's points) earns from member events in the event's transaction."""
    app.extensions.setdefault(_EARNERS, []).append(earner)


def _earners() -> list[EventEarner]:
    return current_app.extensions.get(_EARNERS, [])


def record_event(
    brand_id: int,
    member_external_id: str,
    event_type: str,
    external_id: str,
    amount: int | None,
    refund_of: str | None = None,
) -> tuple[MemberEvent, bool]:
    """Apply a member event once: (event, created). A repeated external_id returns the first result.

    The running campaigns' rules grant plays, and each earner plugged in by a domain above
    (loyalty) adds its grants, all in the event's one transaction. A refund takes back, in
    proportion, the plays its purchase granted that are not used yet (and the earners' grants).
    """
    existing = _find_event(brand_id, external_id)
    if existing is not None:
        return existing, False
    grants = [] if refund_of else _rules_matching(brand_id, event_type, amount)
    try:
        with write_transaction() as session:
            member = ensure_member(brand_id, member_external_id)
            refund = _refund_of(brand_id, member.id, refund_of, amount) if refund_of else None
            event = MemberEvent(
                brand_id=brand_id,
                external_id=external_id,
                member_id=member.id,
                type=event_type,
                amount=amount,
                refund_of=refund_of,
                grants=[],
            )
            session.add(event)
            session.flush()
            all_grants: list[dict] = [{"campaign_id": c, "plays": p} for c, p in grants]
            for campaign_id, plays in grants:
                _add_plays(campaign_id, member.id, plays)
            if refund is not None:
                all_grants += _withdraw_plays(member.id, refund)
            for earner in _earners():
                all_grants += earner(event, member, refund)
            event.grants = all_grants
            record_audit(
                brand_id,
                EVENT_RECORDED,
                "member_event",
                external_id,
                {"type": event_type, "grants": all_grants, "refund_of": refund_of},
            )
    except IntegrityError:
        # The same external_id raced us and won: it granted; we grant nothing.
        db.session.rollback()
        existing = _find_event(brand_id, external_id)
        if existing is None:
            raise
        return existing, False
    return event, True


def _refund_of(brand_id: int, member_id: int, purchase_external_id: str, amount: int | None) -> Refund:
    """The member's purchase a refund names, locked (so two refunds of it run one after the other),
    with what was refunded of it so far: 404 without such a purchase, 409 when more than what is
    left would be refunded."""
    locked = db.session.execute(
        update(MemberEvent)
        .where(
            MemberEvent.brand_id == brand_id,
            MemberEvent.external_id == purchase_external_id,
            MemberEvent.member_id == member_id,
            MemberEvent.type == "purchase",
        )
        .values(amount=MemberEvent.amount)
        .execution_options(synchronize_session=False)
    )
    purchase = _find_event(brand_id, purchase_external_id) if locked.rowcount else None
    if purchase is None:
        raise NotFound("This member has no purchase with this external_id (refund_of).")
    refunded = db.session.execute(
        select(func.coalesce(func.sum(MemberEvent.amount), 0)).where(
            MemberEvent.brand_id == brand_id, MemberEvent.refund_of == purchase_external_id
        )
    ).scalar_one()
    left = (purchase.amount or 0) - refunded
    if amount is None or amount > left:
        raise GameConflict(GameErrorCode.REFUND_EXCEEDS_PURCHASE, {"refundable": left})
    return Refund(purchase, int(refunded), int(refunded) + amount)


def _withdraw_plays(member_id: int, refund: Refund) -> list[dict]:
    """Take back the refund's share of the plays its purchase granted, as far as they are unused."""
    withdrawn = []
    for grant in refund.purchase.grants or []:
        if "campaign_id" not in grant or grant.get("plays", 0) <= 0:
            continue
        wanted = refund.take_back(grant["plays"])
        unused = (
            db.session.execute(
                select(MemberPlays.granted - MemberPlays.used).where(
                    MemberPlays.campaign_id == grant["campaign_id"], MemberPlays.member_id == member_id
                )
            ).scalar()
            or 0
        )
        take = min(wanted, unused)
        if take <= 0:
            continue
        taken = db.session.execute(
            update(MemberPlays)
            .where(
                MemberPlays.campaign_id == grant["campaign_id"],
                MemberPlays.member_id == member_id,
                MemberPlays.granted - MemberPlays.used >= take,
            )
            .values(granted=MemberPlays.granted - take)
            .execution_options(synchronize_session=False)
        ).rowcount
        if taken:
            withdrawn.append({"campaign_id": grant["campaign_id"], "plays": -take})
    return withdrawn


def _find_event(brand_id: int, external_id: str) -> MemberEvent | None:
    return db.session.execute(
        select(MemberEvent).where(MemberEvent.brand_id == brand_id, MemberEvent.external_id == external_id)
    ).scalar()
