"""The rewards catalogue ("đổi quà"): creating rewards, per-member availability and why not,
exchanges that issue a voucher and spend the points, and refusals that change nothing."""

from __future__ import annotations

from sqlalchemy import func, select

from lixi.extensions import db
from tests.conftest import error_code
from tests.loyalty.conftest import outbox
from vouchers.models import Voucher

TIERS = [{"name": "Silver", "min_points": 0}, {"name": "Gold", "min_points": 1000}]


def _options(api, member_external_id: str | None = None) -> dict[int, dict]:
    path = "/rewards" + (f"?member_external_id={member_external_id}" if member_external_id else "")
    response = api.get(path)
    assert response.status_code == 200, response.get_json()
    return {option["id"]: option for option in response.get_json()["rewards"]}


def _reason_code(option: dict) -> str | None:
    return option.get("reason_code")


def _voucher_count() -> int:
    return db.session.execute(select(func.count(Voucher.id))).scalar()


def test_create_reward_and_refuse_bad_ones(programme, api, make_offer, make_brand):
    offer = make_offer()
    response = api.post(
        "/rewards", {"name": "Ly trà sữa", "offer_id": offer["id"], "cost_points": 500, "stock": 3}
    )
    assert response.status_code == 201, response.get_json()
    reward = response.get_json()
    assert (reward["name"], reward["offer_id"], reward["cost_points"], reward["stock"]) == (
        "Ly trà sữa",
        offer["id"],
        500,
        3,
    )
    for bad in (
        {"name": "x", "offer_id": offer["id"], "cost_points": 0},
        {"name": "x", "offer_id": offer["id"], "cost_points": -5},
        {"name": "x", "offer_id": offer["id"], "cost_points": 10, "stock": -1},
        {"name": "x", "offer_id": offer["id"], "cost_points": 10, "per_member_limit": 0},
        {"offer_id": offer["id"], "cost_points": 10},
    ):
        refused = api.post("/rewards", bad)
        assert refused.status_code == 422 and error_code(refused) == "invalid_request", bad
    missing = api.post("/rewards", {"name": "x", "offer_id": 999999, "cost_points": 10})
    assert missing.status_code == 404 and error_code(missing) == "not_found"
    assert list(_options(api)) == [reward["id"]]


def test_catalogue_says_per_member_what_they_can_take_and_why_not(
    make_programme, make_member, api, give_points, make_reward, exchange
):
    make_programme(tiers=TIERS)
    make_member("m-1")
    give_points("m-1", 300)
    cheap = make_reward(cost_points=100, per_member_limit=1)
    dear = make_reward(cost_points=1500)
    gone = make_reward(cost_points=10, stock=0)
    gold = make_reward(cost_points=50, min_tier="Gold")
    plain = make_reward(cost_points=200)

    without_member = _options(api)
    assert all(option.get("available") is None for option in without_member.values())

    options = _options(api, "m-1")
    assert options[cheap["id"]]["available"] is True and options[plain["id"]]["available"] is True
    assert options[dear["id"]]["available"] is False
    assert _reason_code(options[dear["id"]]) in (None, "insufficient_points")
    # the shortfall, in the brand's words: "còn thiếu 1.200 điểm" (or 1,200 in English)
    assert "1.200" in options[dear["id"]]["reason"] or "1,200" in options[dear["id"]]["reason"]
    assert options[gone["id"]]["available"] is False and options[gone["id"]]["reason"]
    assert _reason_code(options[gone["id"]]) in (None, "out_of_stock")
    assert options[gold["id"]]["available"] is False and "Gold" in options[gold["id"]]["reason"]
    assert _reason_code(options[gold["id"]]) in (None, "tier_required")

    assert exchange(cheap["id"], "m-1").status_code == 201
    after = _options(api, "m-1")[cheap["id"]]
    assert after["available"] is False and after["reason"]
    assert _reason_code(after) in (None, "limit_reached")
    assert api.get("/rewards?member_external_id=nobody").status_code == 404


def test_exchange_issues_a_valid_voucher_and_spends_the_points(
    programme, member, give_points, make_reward, exchange, api, balance, ledger_of, brand
):
    give_points("m-1", 250)
    reward = make_reward(cost_points=100, stock=5)
    response = exchange(reward["id"], "m-1")
    assert response.status_code == 201, response.get_json()
    body = response.get_json()
    assert (body["points_spent"], body["points"]) == (100, 150)
    voucher = body["voucher"]
    assert voucher["member_external_id"] == "m-1" and voucher["offer_id"] == reward["offer_id"]
    valid = api.post("/vouchers/validate", {"code": voucher["code"]})
    assert valid.status_code == 200 and valid.get_json()["valid"] is True
    assert balance("m-1") == 150
    spend = ledger_of("m-1")[0]
    assert (spend["kind"], spend["points"], spend["balance_after"]) == ("spend", -100, 150)
    [listed] = [o for o in api.get("/rewards").get_json()["rewards"] if o["id"] == reward["id"]]
    assert listed.get("stock_left", listed["stock"] - listed.get("taken", 0)) == 4
    assert [p for p in outbox("reward.exchanged", brand.id)], "no reward.exchanged event"


def _refused_changes_nothing(exchange, reward_id, code, balance, ledger_of):
    before = (balance("m-1"), len(ledger_of("m-1")), _voucher_count())
    response = exchange(reward_id, "m-1")
    assert response.status_code == 409 and error_code(response) == code, response.get_json()
    assert (balance("m-1"), len(ledger_of("m-1")), _voucher_count()) == before


def test_refused_exchanges_change_nothing(
    make_programme, member, give_points, make_reward, exchange, balance, ledger_of, api
):
    make_programme(tiers=TIERS)
    give_points("m-1", 120)
    _refused_changes_nothing(
        exchange, make_reward(cost_points=121)["id"], "insufficient_points", balance, ledger_of
    )
    _refused_changes_nothing(
        exchange, make_reward(cost_points=1, stock=0)["id"], "out_of_stock", balance, ledger_of
    )
    _refused_changes_nothing(
        exchange, make_reward(cost_points=1, min_tier="Gold")["id"], "tier_required", balance, ledger_of
    )
    once = make_reward(cost_points=10, per_member_limit=1, stock=5)
    assert exchange(once["id"], "m-1").status_code == 201
    _refused_changes_nothing(exchange, once["id"], "limit_reached", balance, ledger_of)
    [listed] = [o for o in api.get("/rewards").get_json()["rewards"] if o["id"] == once["id"]]
    assert listed.get("stock_left", listed["stock"] - listed.get("taken", 0)) == 4  # one taken, not two


def test_the_last_in_stock_goes_to_one_member(
    programme, make_member, give_points, make_reward, exchange, balance
):
    for who in ("a", "b"):
        make_member(who)
        give_points(who, 100)
    reward = make_reward(cost_points=40, stock=1)
    assert exchange(reward["id"], "a").status_code == 201
    late = exchange(reward["id"], "b")
    assert late.status_code == 409 and error_code(late) == "out_of_stock"
    assert (balance("a"), balance("b")) == (60, 100)


def test_exchange_of_unknown_reward_or_member_is_404(programme, member, give_points, make_reward, exchange):
    give_points("m-1", 100)
    reward = make_reward(cost_points=10)
    assert exchange(999999, "m-1").status_code == 404
    assert exchange(reward["id"], "nobody").status_code == 404
