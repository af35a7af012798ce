"""The games' part of seed-demo: a spin wheel whose prizes are the demo's offers, and plays to spend."""

from __future__ import annotations

from flask import current_app, url_for
from sqlalchemy import select

from games.campaigns import change_status, create_campaign
from games.earning import grant_plays
from games.links import member_link_token
from games.models import Campaign, CampaignStatus
from games.plays import plays_left
from lixi.demo import Demo
from lixi.extensions import db
from lixi.models import Member

DEMO_CAMPAIGN_NAME = "Vòng quay Tết"
DEMO_PLAYS = 5  # each demo member's plays after every seed-demo (the campaign's daily limit too)


def seed_campaign(demo: Demo) -> None:
    """The spin wheel, every demo member topped up to DEMO_PLAYS, and the first member's game page."""
    assert demo.brand is not None
    brand_id = demo.brand.id
    campaign = _demo_campaign(brand_id, demo.facts["offer_id"], demo.facts["lixi_offer_id"])
    for member in demo.members:
        _top_up_plays(brand_id, campaign.id, member)
    demo.facts["campaign_id"] = campaign.id
    demo.add_page("play", _play_path(brand_id, demo.members[0].external_id, campaign.id))


def _demo_campaign(brand_id: int, offer_id: int, lixi_offer_id: int) -> Campaign:
    """The demo's spin wheel (made and activated once); every prize with a value is a real voucher."""
    kept = None
    for campaign in db.session.execute(
        select(Campaign)
        .where(
            Campaign.brand_id == brand_id,
            Campaign.name == DEMO_CAMPAIGN_NAME,
            Campaign.status != CampaignStatus.ENDED,
        )
        .order_by(Campaign.id)
    ).scalars():
        if any(prize.value and prize.offer_id is None for prize in campaign.prizes):
            # An older demo's "Lì xì 10k" paid nothing yet spent the budget: end it, make the new one.
            change_status(brand_id, campaign.id, "end")
        else:
            kept = campaign
    if kept is not None:
        return kept
    campaign = create_campaign(
        brand_id,
        {
            "name": DEMO_CAMPAIGN_NAME,
            "game": "spin_wheel",
            "budget": 5_000_000,
            "plays_per_member_per_day": DEMO_PLAYS,
            "prizes": [
                {"label": "Giảm 50k", "weight": 10, "stock": 50, "offer_id": offer_id, "value": 50000},
                {"label": "Lì xì 10k", "weight": 30, "stock": 200, "offer_id": lixi_offer_id, "value": 10000},
                {"label": "Chúc may mắn", "weight": 60},  # better luck next time: no offer, no value
            ],
            "earning_rules": [
                {"event": "purchase", "plays": 1, "min_amount": 200000, "max_amount": 499999},
                {"event": "purchase", "plays": 2, "min_amount": 500000, "max_amount": 999999},
                {"event": "purchase", "plays": 3, "min_amount": 1000000},
            ],
        },
    )
    return change_status(brand_id, campaign.id, "activate")


def _top_up_plays(brand_id: int, campaign_id: int, member: Member) -> None:
    """Each run leaves every demo member DEMO_PLAYS plays (granted, so audited), never more."""
    missing = DEMO_PLAYS - plays_left(campaign_id, member.id)
    if missing > 0:
        grant_plays(brand_id, member.external_id, campaign_id, missing)


def _play_path(brand_id: int, member_external_id: str, campaign_id: int) -> str:
    token = member_link_token(brand_id, member_external_id, campaign_id)
    with current_app.test_request_context():
        return url_for("games_pages.play_page", campaign_id=campaign_id, t=token)
