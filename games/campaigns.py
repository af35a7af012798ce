"""Campaigns: creating them with prizes and earning rules, and moving them through their statuses."""

from __future__ import annotations

from sqlalchemy import select, update

from games.errors import GameConflict, GameErrorCode
from games.events import CAMPAIGN_ACTIVATED, CAMPAIGN_CREATED, CAMPAIGN_ENDED, CAMPAIGN_PAUSED
from games.fairness import new_seed
from games.models import Campaign, CampaignStatus, EarningRule, Prize
from games.pacing import schedule_moments
from lixi.audit import record_audit
from lixi.database import write_transaction
from lixi.errors import InvalidRequest, NotFound, invalid_field
from lixi.extensions import db
from lixi.models import scoped
from lixi.timeutil import utcnow
from vouchers.models import Offer

MAX_PACED_UNITS = 100_000

# action: (the statuses it may start from, the status it leads to, the audit action it records)
TRANSITIONS = {
    "activate": ({CampaignStatus.DRAFT, CampaignStatus.PAUSED}, CampaignStatus.ACTIVE, CAMPAIGN_ACTIVATED),
    "pause": ({CampaignStatus.ACTIVE}, CampaignStatus.PAUSED, CAMPAIGN_PAUSED),
    "end": (
        {CampaignStatus.DRAFT, CampaignStatus.ACTIVE, CampaignStatus.PAUSED},
        CampaignStatus.ENDED,
        CAMPAIGN_ENDED,
    ),
}


def create_campaign(brand_id: int, data: dict) -> Campaign:
    """A draft campaign with its prizes and earning rules (422 naming a field that breaks a rule)."""
    _check_campaign(brand_id, data)
    starts_at, ends_at, prizes = data.get("starts_at"), data.get("ends_at"), data["prizes"]
    with write_transaction() as session:
        campaign = Campaign(
            brand_id=brand_id,
            name=data["name"],
            game=data["game"],
            starts_at=starts_at,
            ends_at=ends_at,
            budget=data.get("budget"),
            plays_per_member_per_day=data.get("plays_per_member_per_day"),
            pacing=bool(data.get("pacing")),
            draw_at=data.get("draw_at"),
            prizes=[
                Prize(
                    position=position,
                    label=p["label"],
                    weight=p["weight"],
                    stock=p.get("stock"),
                    remaining=p.get("stock"),
                    daily_cap=p.get("daily_cap"),
                    offer_id=p.get("offer_id"),
                    value=p.get("value") or 0,
                )
                for position, p in enumerate(prizes)
            ],
            earning_rules=[EarningRule(**rule) for rule in data.get("earning_rules") or []],
        )
        session.add(campaign)
        session.flush()
        record_audit(brand_id, CAMPAIGN_CREATED, "campaign", campaign.id, {"name": campaign.name})
    return campaign


def _check_campaign(brand_id: int, data: dict) -> None:
    """The rules across fields the schema cannot state, and prize offers that are the brand's."""
    prizes = data["prizes"]
    if not prizes:
        raise invalid_field("prizes", "A campaign needs at least one prize.")
    starts_at, ends_at = data.get("starts_at"), data.get("ends_at")
    if starts_at and ends_at and ends_at <= starts_at:
        raise invalid_field("ends_at", "ends_at must come after starts_at.")
    if data.get("draw_at") and data["game"] != "lucky_draw":
        raise invalid_field("draw_at", "Only a lucky_draw campaign can be drawn at a set time.")
    if data.get("pacing") and not (starts_at and ends_at):
        raise invalid_field("pacing", "Pacing spreads prizes over the schedule: give starts_at and ends_at.")
    if data.get("pacing") and sum(p.get("stock") or 0 for p in prizes) > MAX_PACED_UNITS:
        # Activation draws one winning moment per unit: a stock of a billion held the database for good.
        raise invalid_field(
            "pacing", f"Pacing draws a moment per prize unit: at most {MAX_PACED_UNITS:,} units."
        )
    for position, prize in enumerate(prizes):
        if prize.get("value") and prize.get("offer_id") is None:
            # It would count against the budget and the figures while the winner gets nothing.
            message = "A prize without an offer gives the member nothing, so it has no value: add offer_id."
            raise InvalidRequest(message, {"fields": {"prizes": {str(position): {"value": [message]}}}})
    offer_ids = {p["offer_id"] for p in prizes if p.get("offer_id") is not None}
    if offer_ids:
        known = set(
            db.session.execute(
                select(Offer.id).where(Offer.brand_id == brand_id, Offer.id.in_(offer_ids))
            ).scalars()
        )
        if known != offer_ids:
            raise invalid_field("prizes", f"Unknown offers: {sorted(offer_ids - known)}.")


def get_campaign(brand_id: int, campaign_id: int) -> Campaign:
    """The brand's campaign; 404 for another brand's or none."""
    campaign = db.session.execute(scoped(Campaign, brand_id).where(Campaign.id == campaign_id)).scalar()
    if campaign is None:
        raise NotFound("No such campaign.")
    return campaign


def list_campaigns(brand_id: int) -> list[Campaign]:
    """The brand's campaigns, newest first."""
    return list(db.session.execute(scoped(Campaign, brand_id).order_by(Campaign.id.desc())).scalars())


def change_status(brand_id: int, campaign_id: int, action: str) -> Campaign:
    """activate / pause / end; the first activation draws the seed and publishes its hash."""
    allowed_from, target, audit_action = TRANSITIONS[action]
    with write_transaction() as session:
        campaign = get_campaign(brand_id, campaign_id)
        values: dict = {"status": target}
        if action == "activate" and campaign.seed is None:
            seed, seed_hash = new_seed()
            values.update(seed=seed, seed_hash=seed_hash, activated_at=utcnow())
        result = session.execute(
            update(Campaign)
            .where(Campaign.id == campaign.id, Campaign.status.in_([s.value for s in allowed_from]))
            .values(**values)
            .execution_options(synchronize_session=False)
        )
        if result.rowcount != 1:
            raise GameConflict(GameErrorCode.INVALID_TRANSITION, {"status": campaign.status})
        if "seed" in values and campaign.pacing:
            schedule_moments(campaign)
        session.refresh(campaign)
        record_audit(brand_id, audit_action, "campaign", campaign.id, {"status": target.value})
    return campaign


def prize_economics(prizes: list[dict], budget: int | None) -> dict:
    """Odds and cost of a prize table: what the builder previews and the campaign page shows.

    Each prize dict has weight, value and stock (None = unlimited). Expected cost per 1,000
    plays = 1,000 × Σ odds × value; at full stock = Σ stock × value (None if any valued prize is
    unlimited, since it has no ceiling but the budget).
    """
    total = sum(p["weight"] for p in prizes) or 1
    rows = [{**p, "odds_percent": round(100 * p["weight"] / total, 2)} for p in prizes]
    per_thousand = round(1000 * sum(p["weight"] * (p.get("value") or 0) for p in prizes) / total)
    valued = [p for p in prizes if p.get("value")]
    full_stock = (
        None if any(p.get("stock") is None for p in valued) else sum(p["stock"] * p["value"] for p in valued)
    )
    return {
        "prizes": rows,
        "cost_per_1000_plays": per_thousand,
        "cost_at_full_stock": full_stock,
        "budget": budget,
        "full_stock_over_budget": budget is not None and (full_stock is None or full_stock > budget),
    }


def campaign_economics(campaign: Campaign) -> dict:
    """prize_economics of a saved campaign's prize table and budget, as its dashboard page shows them."""
    prizes = [
        {"label": prize.label, "weight": prize.weight, "value": prize.value, "stock": prize.stock}
        for prize in campaign.prizes
    ]
    return prize_economics(prizes, campaign.budget)
