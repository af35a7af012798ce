"""Cross-tenant: every loyalty endpoint answers 404 for another brand's member, reward or programme."""

from __future__ import annotations

import pytest

from tests.conftest import error_code


@pytest.fixture
def rival(make_brand, make_programme, make_member):
    """A second brand with its own programme and its member "r-1"."""
    other = make_brand("Trà Sữa Đối Thủ")
    make_programme(who=other)
    make_member("r-1", who=other)
    return other


def _is_404(response) -> None:
    assert response.status_code == 404, (response.status_code, response.get_json())
    assert error_code(response) == "not_found"


def test_programme_is_per_brand(api, make_brand, make_programme):
    make_programme()
    other = make_brand("Khác")
    _is_404(api.get("/loyalty", who=other))


def test_another_brands_member_is_404_everywhere(
    programme, rival, api, make_reward, adjust, give_points, balance, brand
):
    give_points("r-1", 100, who=rival)
    reward = make_reward(cost_points=10)
    _is_404(api.get("/members/r-1/loyalty"))
    _is_404(api.get("/members/r-1/ledger"))
    _is_404(api.get("/members/r-1/referrals"))
    _is_404(adjust("r-1", 5))
    _is_404(adjust("r-1", -5))
    _is_404(api.get("/rewards?member_external_id=r-1"))
    _is_404(api.post(f"/rewards/{reward['id']}/exchanges", {"member_external_id": "r-1"}))
    _is_404(api.post("/members/r-1/links", {}))
    assert balance("r-1", who=rival) == 100


def test_another_brands_reward_and_offer_are_404(
    programme, rival, api, make_member, give_points, make_reward
):
    make_member("m-1")
    give_points("m-1", 100)
    theirs = make_reward(cost_points=10, who=rival)
    _is_404(api.post(f"/rewards/{theirs['id']}/exchanges", {"member_external_id": "m-1"}))
    assert theirs["id"] not in [r["id"] for r in api.get("/rewards").get_json()["rewards"]]
    _is_404(api.post("/rewards", {"name": "x", "offer_id": theirs["offer_id"], "cost_points": 5}))


def test_another_brands_referral_code_and_purchase_are_not_ours(
    programme, rival, api, loyalty_of, purchase, refund, balance, make_member
):
    code = loyalty_of("r-1", who=rival)["referral_code"]
    tied = api.post("/members", {"external_id": "newcomer", "referred_by": code})
    assert tied.status_code in (404, 422), tied.get_json()
    purchase("r-1", 1000000, "their-bill", who=rival)
    make_member("m-1")
    response = refund("m-1", "their-bill", 1000000)
    assert response.status_code == 404 and error_code(response) == "not_found"
    assert balance("r-1", who=rival) == 100


def test_no_programme_no_points(api, make_member, event, make_brand):
    make_member("m-1")
    response = event("m-1", "purchase", 1000000)
    assert response.status_code == 201
    assert not [g for g in response.get_json()["grants"] if g.get("points")]
