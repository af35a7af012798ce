"""PUT/GET /api/v1/loyalty and what one event earns: fixed and per-amount rules, bands,
tier multipliers, exactly once per (event, rule), pending points and end-of-day expiry."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from tests.conftest import error_code
from tests.loyalty.conftest import PER_10K, outbox, points_granted, when

FULL = {
    "name": "Bông Sen Vàng",
    "earn": [
        {"event": "purchase", "points_per": {"amount": 10000, "points": 1}, "min_amount": 50000},
        {"event": "signup", "points": 20},
    ],
    "pending_days": 7,
    "expire_days": 365,
    "point_value": 100,
    "tiers": [{"name": "Silver", "min_points": 0}, {"name": "Gold", "min_points": 1000}],
    "tier_multipliers": {"Gold": 1.5},
    "referral": {"referrer_points": 50, "referee_points": 30, "max_per_referrer": 10},
    "birthday": {"points": 100},
}


def test_get_is_404_before_the_programme_exists(api):
    response = api.get("/loyalty")
    assert response.status_code == 404 and error_code(response) == "not_found"


def test_get_returns_what_put_set(api, put):
    response = put("/loyalty", FULL)
    assert response.status_code == 200, response.get_json()
    for answer in (response.get_json(), api.get("/loyalty").get_json()):
        assert answer["name"] == FULL["name"]
        assert answer["pending_days"] == 7 and answer["expire_days"] == 365
        assert Decimal(str(answer["point_value"])) == 100
        assert [(t["name"], t["min_points"]) for t in answer["tiers"]] == [("Silver", 0), ("Gold", 1000)]
        assert {k: Decimal(str(v)) for k, v in answer["tier_multipliers"].items()} == {"Gold": Decimal("1.5")}
        purchase_rule, signup_rule = answer["earn"]
        assert purchase_rule["event"] == "purchase" and purchase_rule["min_amount"] == 50000
        assert purchase_rule["points_per"] == {"amount": 10000, "points": 1}
        assert signup_rule["event"] == "signup" and signup_rule["points"] == 20
        assert answer["referral"]["referrer_points"] == 50 and answer["referral"]["max_per_referrer"] == 10
        assert answer["birthday"]["points"] == 100


def test_put_again_replaces_the_settings(api, put):
    assert put("/loyalty", FULL).status_code == 200
    assert put("/loyalty", {"name": "Plain", "earn": [PER_10K]}).status_code == 200
    answer = api.get("/loyalty").get_json()
    assert answer["name"] == "Plain" and len(answer["earn"]) == 1
    assert answer["expire_days"] is None  # the default: points never expire


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"earn": [PER_10K]}, "name"),
        ({"name": "x", "earn": [{"event": "purchase"}]}, "earn"),  # neither points nor points_per
        ({"name": "x", "earn": [{"event": "purchase", "points": -5}]}, "earn"),
        ({"name": "x", "earn": [{"event": "purchase", "points_per": {"amount": 0, "points": 1}}]}, "earn"),
        ({"name": "x", "earn": [{"event": "teleport", "points": 1}]}, "earn"),
        (
            {"name": "x", "earn": [{"event": "purchase", "points": 1, "min_amount": 9, "max_amount": 1}]},
            "earn",
        ),
        ({"name": "x", "earn": [PER_10K], "pending_days": -1}, "pending_days"),
        ({"name": "x", "earn": [PER_10K], "expire_days": 0}, "expire_days"),
        (
            {
                "name": "x",
                "earn": [PER_10K],
                "tiers": [{"name": "A", "min_points": 0}, {"name": "A", "min_points": 5}],
            },
            "tiers",
        ),
        (
            {
                "name": "x",
                "earn": [PER_10K],
                "tiers": [{"name": "A", "min_points": 0}],
                "tier_multipliers": {"Z": 2},
            },
            "tier_multipliers",
        ),
        ({"name": "x", "earn": [PER_10K], "referral": {"referrer_points": -1}}, "referral"),
        ({"name": "x", "earn": [PER_10K], "birthday": {"points": "many"}}, "birthday"),
    ],
)
def test_bad_bodies_are_422_with_the_field(api, put, body, field):
    response = put("/loyalty", body)
    assert response.status_code == 422, response.get_json()
    assert error_code(response) == "invalid_request"
    assert field in response.get_json()["error"]["details"]["fields"], response.get_json()
    assert api.get("/loyalty").status_code == 404  # nothing was saved


def test_fixed_and_per_amount_rules_with_bands(make_programme, member, event):
    make_programme(
        earn=[
            {"event": "purchase", "points_per": {"amount": 10000, "points": 1}, "min_amount": 50000},
            {"event": "purchase", "points": 10, "min_amount": 1000000, "max_amount": 1999999},
            {"event": "survey_completed", "points": 5},
        ]
    )
    cases = [  # (type, amount, points)
        ("purchase", 49999, 0),  # under the band
        ("purchase", 50000, 5),
        ("purchase", 129999, 12),  # whole points only, rounded down
        ("purchase", 1500000, 150 + 10),  # both rules
        ("purchase", 2000000, 200),  # above the fixed rule's band
        ("survey_completed", None, 5),
        ("social_share", None, 0),  # no rule for it
    ]
    for number, (type_, amount, points) in enumerate(cases):
        response = event("m-1", type_, amount, f"case-{number}")
        assert response.status_code == 201, response.get_json()
        assert points_granted(response) == points, (type_, amount)


def test_tier_multiplier_applies_to_what_gold_earns(make_programme, member, purchase, loyalty_of):
    make_programme(
        tiers=[{"name": "Silver", "min_points": 0}, {"name": "Gold", "min_points": 100}],
        tier_multipliers={"Gold": 1.5},
    )
    assert points_granted_of(purchase("m-1", 500000)) == 50  # Silver: ×1
    assert loyalty_of("m-1")["tier"] == "Silver"
    assert points_granted_of(purchase("m-1", 500000)) == 50  # crosses 100 with this one: the next earns more
    assert loyalty_of("m-1")["tier"] == "Gold"
    assert points_granted_of(purchase("m-1", 500000)) == 75  # Gold: ×1.5


def points_granted_of(body: dict) -> int:
    return sum(grant.get("points", 0) for grant in body["grants"])


def test_an_event_earns_once_a_repeat_returns_the_same_grants(
    make_programme, member, event, balance, ledger_of, brand
):
    make_programme(earn=[PER_10K, {"event": "purchase", "points": 3}])
    first = event("m-1", "purchase", 200000, "bill-1")
    assert first.status_code == 201 and points_granted(first) == 23
    published = len(outbox("points.earned", brand.id))
    assert published >= 1
    again = event("m-1", "purchase", 200000, "bill-1")
    assert again.status_code == 200
    assert again.get_json()["grants"] == first.get_json()["grants"]
    assert len(outbox("points.earned", brand.id)) == published
    assert balance("m-1") == 23
    earned = [e for e in ledger_of("m-1") if e["event_external_id"] == "bill-1"]
    assert sum(e["points"] for e in earned) == 23
    assert len(earned) == 2  # one entry per (event, rule)


def test_pending_points_become_available_after_pending_days(
    make_programme, member, purchase, loyalty_of, clock, daily, ledger_of
):
    make_programme(pending_days=14)
    body = purchase("m-1", 300000, "bill-p")
    assert [g.get("kind") for g in body["grants"] if "points" in g] == ["pending"]
    assert (loyalty_of("m-1")["points"], loyalty_of("m-1")["pending_points"]) == (0, 30)
    [entry] = ledger_of("m-1")
    assert entry["kind"] == "pending" and when(entry["available_at"]) > clock.now
    clock.advance(days=13)
    daily()
    assert (loyalty_of("m-1")["points"], loyalty_of("m-1")["pending_points"]) == (0, 30)
    clock.advance(days=1, hours=18)  # past the 14 days, and past the end of that local day
    daily()
    assert (loyalty_of("m-1")["points"], loyalty_of("m-1")["pending_points"]) == (30, 0)
    daily()  # releasing twice releases once
    assert loyalty_of("m-1")["points"] == 30


def test_pending_points_cannot_be_spent(make_programme, member, purchase, make_reward, exchange, balance):
    make_programme(pending_days=3)
    purchase("m-1", 1000000)
    reward = make_reward(cost_points=50)
    response = exchange(reward["id"], "m-1")
    assert response.status_code == 409 and error_code(response) == "insufficient_points"
    assert balance("m-1") == 0


def test_expiry_at_the_end_of_the_local_day(
    make_programme, member, purchase, loyalty_of, clock, daily, ledger_of
):
    make_programme(expire_days=30)
    # 18:00 UTC on 1 January is 01:00 on 2 January in Ho Chi Minh City: the local day is the 2nd.
    clock.now = datetime(2030, 1, 1, 18, 0, tzinfo=UTC)
    purchase("m-1", 400000, "bill-e")
    end = datetime(2030, 2, 1, 17, 0, tzinfo=UTC)  # 24:00 on 1 February, local
    [earned] = ledger_of("m-1")
    assert when(earned["expires_at"]) == end
    clock.now = datetime(2030, 2, 1, 16, 59, 30, tzinfo=UTC)  # 23:59:30 local: still there
    daily()
    assert loyalty_of("m-1")["points"] == 40
    # a day away: `expiring` (the points expiring soon) lists them with the exact end
    assert [(e["points"], when(e["expires_at"])) for e in loyalty_of("m-1")["expiring"]] == [(40, end)]
    clock.now = datetime(2030, 2, 1, 17, 0, 30, tzinfo=UTC)  # 00:00:30 on the 2nd, local: gone
    daily()
    assert loyalty_of("m-1")["points"] == 0
    expired = [e for e in ledger_of("m-1") if e["kind"] == "expire"]
    assert [(e["points"], e["balance_after"]) for e in expired] == [(-40, 0)]
    daily()  # expiring twice takes nothing more
    assert len([e for e in ledger_of("m-1") if e["kind"] == "expire"]) == 1


def test_a_spend_draws_from_the_soonest_expiring_points(
    make_programme, member, purchase, make_reward, exchange, balance, clock, daily, ledger_of
):
    make_programme(expire_days=30)
    purchase("m-1", 1000000, "early")  # 100 points, expiring first
    clock.advance(days=10)
    purchase("m-1", 500000, "late")  # 50 points, expiring ten days later
    reward = make_reward(cost_points=120)
    assert exchange(reward["id"], "m-1").status_code == 201
    assert balance("m-1") == 30
    clock.advance(days=21, hours=12)  # past the early bucket's end: it was spent, nothing expires
    daily()
    assert balance("m-1") == 30
    assert not [e for e in ledger_of("m-1") if e["kind"] == "expire"]
    clock.advance(days=10)  # past the late bucket's end: its 30 left expire
    daily()
    assert balance("m-1") == 0
    assert [e["points"] for e in ledger_of("m-1") if e["kind"] == "expire"] == [-30]


def test_points_expiring_is_published_once_per_bucket_days_before(
    make_programme, member, purchase, clock, daily, brand
):
    make_programme(expire_days=30, expiring_notice_days=3)
    clock.now = datetime(2030, 1, 1, 18, 0, tzinfo=UTC)  # 2 January, local: ends 24:00 on 1 February
    purchase("m-1", 400000)
    clock.now = datetime(2030, 1, 29, 16, 0, tzinfo=UTC)  # 3 days and an hour before: not yet
    daily()
    assert outbox("points.expiring", brand.id) == []
    clock.now = datetime(2030, 1, 29, 18, 0, tzinfo=UTC)
    daily()
    daily()
    [notice] = outbox("points.expiring", brand.id)
    assert notice["points"] == 40 and notice["member_external_id"] == "m-1"
    assert when(notice["expires_at"]) == datetime(2030, 2, 1, 17, 0, tzinfo=UTC)
