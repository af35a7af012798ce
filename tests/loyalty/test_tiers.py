"""Tiers over a year with the fake clock: upgrade at once on the earning that crosses a threshold,
downgrade only by the daily job once the rolling window is below and the grace has passed."""

from __future__ import annotations

from lixi.members import get_member
from loyalty.tiers import tier_changes
from tests.loyalty.conftest import outbox

TIERS = [
    {"name": "Silver", "min_points": 0},
    {"name": "Gold", "min_points": 1000},
    {"name": "Platinum", "min_points": 5000},
]


def test_tiers_up_and_down_over_a_year(make_programme, member, purchase, loyalty_of, clock, daily, brand):
    make_programme(tiers=TIERS, tier_window_days=365, tier_grace_days=30)
    start = loyalty_of("m-1")
    assert (start["tier"], start["next_tier"], start["points_to_next_tier"]) == ("Silver", "Gold", 1000)

    purchase("m-1", 9000000)  # 900 points
    progress = loyalty_of("m-1")
    assert (progress["tier"], progress["points_to_next_tier"]) == ("Silver", 100)
    assert outbox("tier.upgraded", brand.id) == []

    clock.advance(days=20)
    purchase("m-1", 2000000)  # 200 more: 1,100 in the window, Gold at once
    gold = loyalty_of("m-1")
    assert (gold["tier"], gold["next_tier"], gold["points_to_next_tier"]) == ("Gold", "Platinum", 3900)
    [upgraded] = outbox("tier.upgraded", brand.id)
    assert "Gold" in str(upgraded)

    # A year after the first bill the window holds 200 points: still Gold until the daily job says.
    clock.advance(days=346)
    purchase("m-1", 100000)  # a purchase never downgrades
    assert loyalty_of("m-1")["tier"] == "Gold"
    daily()  # finds the window below: the grace of 30 days starts
    assert loyalty_of("m-1")["tier"] == "Gold"
    clock.advance(days=25)
    daily()
    assert loyalty_of("m-1")["tier"] == "Gold"
    assert outbox("tier.downgraded", brand.id) == []
    clock.advance(days=6)
    daily()
    assert loyalty_of("m-1")["tier"] == "Silver"
    [downgraded] = outbox("tier.downgraded", brand.id)
    assert "Silver" in str(downgraded)
    daily()  # once
    assert len(outbox("tier.downgraded", brand.id)) == 1

    member_row = get_member(brand.id, "m-1")
    history = [(c.from_tier, c.to_tier) for c in tier_changes(brand.id, member_row.id)]
    assert sorted(history) == sorted([("Silver", "Gold"), ("Gold", "Silver")])


def test_back_above_within_the_grace_keeps_the_tier(
    make_programme, member, purchase, loyalty_of, clock, daily, brand
):
    make_programme(tiers=TIERS, tier_window_days=365, tier_grace_days=30)
    purchase("m-1", 10000000)  # 1,000: Gold
    assert loyalty_of("m-1")["tier"] == "Gold"
    clock.advance(days=366)
    daily()  # below: grace starts
    clock.advance(days=10)
    purchase("m-1", 10000000)  # back to 1,000 in the window (×1 unless Gold earns more)
    clock.advance(days=25)
    daily()
    assert loyalty_of("m-1")["tier"] == "Gold"
    assert outbox("tier.downgraded", brand.id) == []


def test_a_big_earning_can_jump_two_tiers(make_programme, member, purchase, loyalty_of, brand):
    make_programme(tiers=TIERS)
    purchase("m-1", 60000000)  # 6,000 points
    assert loyalty_of("m-1")["tier"] == "Platinum"
    assert loyalty_of("m-1")["next_tier"] is None
    assert "Platinum" in str(outbox("tier.upgraded", brand.id))


def test_a_purchase_never_downgrades_even_without_grace(
    make_programme, member, purchase, loyalty_of, clock, daily, brand
):
    make_programme(tiers=TIERS, tier_window_days=365, tier_grace_days=0)
    purchase("m-1", 10000000)  # 1,000: Gold
    clock.advance(days=400)  # the window is empty: Gold is owed nothing, but only the review may say so
    purchase("m-1", 100000)
    assert loyalty_of("m-1")["tier"] == "Gold"
    assert outbox("tier.downgraded", brand.id) == []
    daily()
    assert loyalty_of("m-1")["tier"] == "Silver"
    assert len(outbox("tier.downgraded", brand.id)) == 1
