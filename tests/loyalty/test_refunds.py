"""Refunds claw back: in proportion to the amount refunded, never more than the purchase earned,
a debt when the points were spent (paid from the next earnings), unused plays withdrawn."""

from __future__ import annotations

from tests.conftest import error_code


def _clawed(ledger_of, external_id: str) -> list[int]:
    return [e["points"] for e in reversed(ledger_of(external_id)) if e["kind"] == "clawback"]


def test_partial_refunds_claw_back_in_proportion(programme, member, purchase, refund, balance, ledger_of):
    purchase("m-1", 1000000, "bill-1")  # 100 points
    purchase("m-1", 200000, "bill-2")  # 20 points, not refunded
    assert refund("m-1", "bill-1", 250000).status_code == 201
    assert balance("m-1") == 95
    assert refund("m-1", "bill-1", 500000).status_code == 201
    assert balance("m-1") == 45
    assert _clawed(ledger_of, "m-1") == [-25, -50]


def test_parts_summing_to_the_whole_take_back_exactly_what_was_earned(
    programme, member, purchase, refund, balance, ledger_of
):
    purchase("m-1", 1000000, "bill-1")  # 100 points
    for part in (333333, 333333, 333334):  # thirds that do not divide evenly
        assert refund("m-1", "bill-1", part).status_code == 201
        assert balance("m-1") >= 0
    assert sum(_clawed(ledger_of, "m-1")) == -100
    assert all(abs(points + 33) <= 1 for points in _clawed(ledger_of, "m-1"))
    assert balance("m-1") == 0
    # anything refunded past the bill takes nothing more
    extra = refund("m-1", "bill-1", 100000)
    assert extra.status_code == 409 and error_code(extra) == "refund_exceeds_purchase"
    assert sum(_clawed(ledger_of, "m-1")) == -100 and balance("m-1") == 0


def test_a_refund_larger_than_what_is_left_is_refused(programme, member, purchase, refund, balance):
    purchase("m-1", 300000, "bill-1")  # 30
    purchase("m-1", 100000, "bill-2")  # 10
    response = refund("m-1", "bill-1", 900000)
    assert response.status_code == 409 and error_code(response) == "refund_exceeds_purchase"
    assert balance("m-1") == 40  # refused: nothing taken
    assert refund("m-1", "bill-1", 300000).status_code == 201
    assert balance("m-1") == 10  # the whole bill: what it earned, and not a point of bill-2's


def test_spent_points_become_a_debt_paid_from_the_next_earnings(
    programme, member, purchase, refund, make_reward, exchange, balance, ledger_of
):
    purchase("m-1", 1000000, "bill-1")  # 100
    reward = make_reward(cost_points=80)
    assert exchange(reward["id"], "m-1").status_code == 201
    assert refund("m-1", "bill-1", 1000000).status_code == 201  # 100 back, 80 of them spent
    assert balance("m-1") == -80
    assert [(e["kind"], e["points"], e["balance_after"]) for e in ledger_of("m-1")[:1]] == [
        ("clawback", -100, -80)
    ]
    refused = exchange(make_reward(cost_points=1)["id"], "m-1")
    assert refused.status_code == 409 and error_code(refused) == "insufficient_points"
    purchase("m-1", 500000, "bill-2")  # 50: all of it pays the debt
    assert balance("m-1") == -30
    purchase("m-1", 500000, "bill-3")  # 50: 30 pay the rest, 20 to spend
    assert balance("m-1") == 20
    assert ledger_of("m-1")[0]["balance_after"] == 20
    assert exchange(make_reward(cost_points=20)["id"], "m-1").status_code == 201  # the 20 are really there


def test_refund_of_an_unknown_purchase_takes_nothing(programme, member, purchase, refund, balance):
    purchase("m-1", 1000000, "bill-1")
    response = refund("m-1", "no-such-bill", 100000)
    assert response.status_code == 404 and error_code(response) == "not_found"
    assert balance("m-1") == 100


def test_a_repeated_refund_event_claws_back_once(programme, member, purchase, event, balance):
    purchase("m-1", 1000000, "bill-1")
    for expected in (201, 200):
        response = event("m-1", "refund", 500000, "refund-1", refund_of="bill-1")
        assert response.status_code == expected
    assert balance("m-1") == 50


def test_unused_plays_of_the_refunded_purchase_are_withdrawn(
    programme, member, purchase, refund, make_offer, make_campaign, api
):
    offer = make_offer()
    campaign = make_campaign(offer["id"], earning_rules=[{"event": "purchase", "plays": 3}])
    purchase("m-1", 500000, "bill-1")
    played = api.post(f"/campaigns/{campaign['id']}/plays", {"member_external_id": "m-1"})
    assert played.status_code == 201 and played.get_json()["plays_left"] == 2
    assert refund("m-1", "bill-1", 500000).status_code == 201
    after = api.post(f"/campaigns/{campaign['id']}/plays", {"member_external_id": "m-1"})
    assert after.status_code == 409 and error_code(after) == "no_plays_left"
    # plays granted directly stay: only what the refunded purchase gave is taken
    assert api.post("/members/m-1/plays", {"campaign_id": campaign["id"], "plays": 1}).get_json() == {
        "plays_left": 1
    }


def test_a_refund_keeps_plays_from_other_purchases(
    programme, member, purchase, refund, make_offer, make_campaign, api
):
    offer = make_offer()
    campaign = make_campaign(offer["id"], earning_rules=[{"event": "purchase", "plays": 2}])
    purchase("m-1", 500000, "bill-1")
    purchase("m-1", 500000, "bill-2")
    assert refund("m-1", "bill-1", 500000).status_code == 201
    assert api.post("/members/m-1/plays", {"campaign_id": campaign["id"], "plays": 1}).get_json() == {
        "plays_left": 3
    }


def test_points_that_already_expired_are_not_clawed_back_again(
    make_programme, member, purchase, refund, balance, clock, daily, ledger_of
):
    make_programme(expire_days=5)
    purchase("m-1", 1000000, "bill-1")  # 100, gone after five days
    clock.advance(days=7)
    daily()
    assert balance("m-1") == 0
    purchase("m-1", 300000, "bill-2")  # 30 of a later bill
    assert refund("m-1", "bill-1", 1000000).status_code == 201
    # the member lost those 100 points once already: the refund leaves the later bill's alone
    assert balance("m-1") == 30
    assert sum(e["points"] for e in ledger_of("m-1") if e["kind"] == "clawback") == 0


def test_a_refund_in_the_return_window_takes_from_the_pending_points(
    make_programme, member, purchase, refund, loyalty_of, clock, daily
):
    make_programme(pending_days=7)
    purchase("m-1", 1000000, "bill-1")  # 100 pending
    assert refund("m-1", "bill-1", 400000).status_code == 201
    assert (loyalty_of("m-1")["points"], loyalty_of("m-1")["pending_points"]) == (0, 60)
    clock.advance(days=8)
    daily()
    assert (loyalty_of("m-1")["points"], loyalty_of("m-1")["pending_points"]) == (60, 0)
