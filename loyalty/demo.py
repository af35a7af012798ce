"""Loyalty's part of seed-demo: a programme with Silver/Gold/Platinum (Bạc, Vàng, Bạch Kim), a goal
of 10,000 members, rewards of the demo's offers, points for the demo members, and their page."""

from __future__ import annotations

from datetime import date

from flask import current_app, url_for
from sqlalchemy import select

from games.earning import record_event
from lixi.demo import Demo
from lixi.extensions import db
from lixi.member_links import member_token
from lixi.timeutil import utcnow
from loyalty.models import Reward
from loyalty.programme import find_programme, save_programme
from loyalty.rewards import create_reward
from loyalty.schemas import ProgrammeSchema

# Each demo member's purchases (external ids fixed, so a second seed-demo earns nothing twice).
DEMO_PURCHASES = {"demo-001": (450_000, 1_200_000, 350_000), "demo-002": (250_000,)}


def programme_settings(offer_id: int) -> dict:
    today = utcnow().date()
    return ProgrammeSchema().load(
        {
            "name": "Lixi Rewards",
            "earn": [
                {"event": "purchase", "points_per": {"amount": 10_000, "points": 1}},
                {"event": "survey_completed", "points": 20},
                {"event": "social_share", "points": 5},
            ],
            "expire_days": 365,
            "point_value": 100,
            "tiers": [
                {"name": "Bạc", "min_points": 0},
                {"name": "Vàng", "min_points": 1_000},
                {"name": "Bạch Kim", "min_points": 5_000},
            ],
            "tier_multipliers": {"Vàng": 1.5, "Bạch Kim": 2},
            "tier_grace_days": 30,
            "referral": {"referrer_points": 100, "referee_points": 50, "max_per_referrer": 20},
            "birthday": {"points": 200, "offer_id": offer_id},
            "member_goal": 10_000,
            "member_goal_date": date(today.year + 1, 12, 31).isoformat(),
        }
    )


def seed_loyalty(demo: Demo) -> None:
    """Before the game (its purchases would earn plays beyond the demo's top-up)."""
    assert demo.brand is not None
    brand_id = demo.brand.id
    if find_programme(brand_id) is None:
        save_programme(brand_id, programme_settings(demo.facts["lixi_offer_id"]))
    named = set(db.session.execute(select(Reward.name).where(Reward.brand_id == brand_id)).scalars())
    for name, offer_key, cost, stock in (
        ("Lì xì 10k", "lixi_offer_id", 100, 500),
        ("Giảm 50k", "offer_id", 400, 100),
    ):
        if name not in named:
            create_reward(
                brand_id,
                {"name": name, "offer_id": demo.facts[offer_key], "cost_points": cost, "stock": stock},
            )
    for member in demo.members:
        for number, amount in enumerate(DEMO_PURCHASES.get(member.external_id, ()), start=1):
            record_event(
                brand_id, member.external_id, "purchase", f"demo-bill-{member.external_id}-{number}", amount
            )


def add_member_page(demo: Demo) -> None:
    """The first demo member's own page (after the game's page in what seed-demo prints)."""
    assert demo.brand is not None
    first = demo.members[0]
    brand_id = demo.brand.id
    with current_app.test_request_context():
        demo.add_page("me", url_for("loyalty_pages.member_home", t=member_token(brand_id, first.id, None)))
