"""Referrals: a code per member, `referred_by` ties a new member, both sides rewarded once on the
referee's first purchase, self-referral and more than max_per_referrer refused, the states."""

from __future__ import annotations

from sqlalchemy import select

from lixi.extensions import db
from lixi.members import get_member
from tests.conftest import error_code
from tests.loyalty.conftest import outbox
from vouchers.models import Voucher

REFERRAL = {"referrer_points": 50, "referee_points": 30, "max_per_referrer": 2}


def _states(api, referrer_external_id: str) -> list[str]:
    """The states of the member's referrals, from GET /members/{id}/referrals (newest first)."""
    response = api.get(f"/members/{referrer_external_id}/referrals")
    assert response.status_code == 200, response.get_json()
    return [referral["state"] for referral in response.get_json()["referrals"]]


def _referral_points(ledger_of, external_id: str) -> list[int]:
    return [e["points"] for e in ledger_of(external_id) if e["kind"] == "referral"]


def test_referral_rewarded_once_on_the_first_purchase(
    make_programme, make_member, loyalty_of, purchase, ledger_of, api, brand
):
    make_programme(referral=REFERRAL)
    make_member("alice", phone="0901111111", email="alice@example.com")
    code = loyalty_of("alice")["referral_code"]
    created = api.post("/members", {"external_id": "bob", "referred_by": code})
    assert created.status_code == 201, created.get_json()
    assert _states(api, "alice") == ["joined"]
    assert _referral_points(ledger_of, "alice") == [] and _referral_points(ledger_of, "bob") == []

    purchase("bob", 100000)  # 10 points of its own, and the referral rewards
    assert _referral_points(ledger_of, "alice") == [50]
    assert _referral_points(ledger_of, "bob") == [30]
    assert loyalty_of("bob")["points"] == 40
    assert _states(api, "alice") == ["rewarded"]
    [referral] = api.get("/members/alice/referrals").get_json()["referrals"]
    assert referral["referee_external_id"] == "bob" and referral["purchased_at"] and referral["rewarded_at"]
    assert len(outbox("referral.rewarded", brand.id)) == 1

    purchase("bob", 100000)  # the second purchase: nothing more
    assert _referral_points(ledger_of, "alice") == [50]
    assert _referral_points(ledger_of, "bob") == [30]
    assert len(outbox("referral.rewarded", brand.id)) == 1


def test_codes_are_distinct_and_unknown_codes_refused(make_programme, make_member, loyalty_of, api):
    make_programme(referral=REFERRAL)
    make_member("a")
    make_member("b")
    assert loyalty_of("a")["referral_code"] != loyalty_of("b")["referral_code"]
    refused = api.post("/members", {"external_id": "c", "referred_by": "NO-SUCH-CODE"})
    assert refused.status_code in (404, 422), refused.get_json()


def test_self_referral_is_refused(make_programme, make_member, loyalty_of, api, brand):
    make_programme(referral=REFERRAL)
    make_member("alice", phone="0901111111", email="alice@example.com")
    code = loyalty_of("alice")["referral_code"]
    for body in (
        {"external_id": "alice", "referred_by": code},  # the same member
        {"external_id": "alias-1", "phone": "0901111111", "referred_by": code},  # the same phone
        {"external_id": "alias-2", "email": "alice@example.com", "referred_by": code},  # the same email
        {"external_id": "alias-3", "phone": "+84 901 111 111", "referred_by": code},  # written otherwise
        {"external_id": "alias-4", "email": "Alice@Example.com", "referred_by": code},
    ):
        response = api.post("/members", body)
        assert response.status_code == 422, (body, response.get_json())
        assert error_code(response)
    assert _states(api, "alice") == []


def test_no_more_than_max_per_referrer(make_programme, make_member, loyalty_of, api, brand):
    make_programme(referral=REFERRAL)
    make_member("alice")
    code = loyalty_of("alice")["referral_code"]
    for n in (1, 2):
        assert api.post("/members", {"external_id": f"friend-{n}", "referred_by": code}).status_code == 201
    third = api.post("/members", {"external_id": "friend-3", "referred_by": code})
    assert third.status_code in (409, 422), third.get_json()
    assert len(_states(api, "alice")) == 2


def test_referral_voucher_rewards(make_programme, make_offer, make_member, loyalty_of, purchase, api, brand):
    gift = make_offer(name="Quà giới thiệu")
    make_programme(referral={"referrer_offer_id": gift["id"], "referee_offer_id": gift["id"]})
    make_member("alice")
    api.post("/members", {"external_id": "bob", "referred_by": loyalty_of("alice")["referral_code"]})
    purchase("bob", 100000)
    purchase("bob", 100000)
    for who in ("alice", "bob"):
        member = get_member(brand.id, who)
        vouchers = db.session.execute(
            select(Voucher).where(Voucher.member_id == member.id, Voucher.offer_id == gift["id"])
        ).scalars()
        assert len(list(vouchers)) == 1, who
