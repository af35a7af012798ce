"""Earning plays: grants made directly, and member events that meet the running campaigns' rules."""

from __future__ import annotations

from sqlalchemy import or_, select, update
from sqlalchemy.exc import IntegrityError

from games.campaigns import get_campaign
from games.events import EVENT_RECORDED, PLAYS_GRANTED
from games.models import Campaign, CampaignStatus, EarningRule, MemberEvent, MemberPlays
from games.plays import plays_left
from lixi import timeutil
from lixi.audit import record_audit
from lixi.database import insert_ignoring_duplicates, write_transaction
from lixi.extensions import db
from lixi.members import get_member, upsert_member


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
                EVENT_RECORDED,
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
