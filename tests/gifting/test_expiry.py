"""Expiry with the fake clock: an unclaimed gift past its deadline goes back to the sending member
with a fresh code, or is voided (a brand's); one reminder GIFT_REMINDER_DAYS before the deadline;
cancel before a claim (the same two ways back), and no cancel or resend once claimed."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from gifting import claims
from gifting.expiry import run_gift_sweep
from gifting.queries import get_gift
from lixi.errors import DomainError
from lixi.extensions import db
from tests.conftest import error_code
from tests.gifting.test_states import events, fresh, mails_to, when
from vouchers.models import Voucher


def voucher(voucher_id: int) -> Voucher:
    fresh()
    found = db.session.get(Voucher, voucher_id)
    assert found is not None
    return found


def wallet(member_external_id: str) -> list[Voucher]:
    """The member's usable vouchers (issued, not held)."""
    fresh()
    query = select(Voucher).where(Voucher.status == "issued", Voucher.held_by.is_(None)).order_by(Voucher.id)
    return [
        v
        for v in db.session.execute(query).scalars()
        if v.member and v.member.external_id == member_external_id
    ]


@pytest.fixture
def from_member(api, offer, issue):
    """A gift of member m-1's own voucher: (the gift JSON, the voucher as issued)."""

    def make(**body) -> tuple[dict, dict]:
        api.post("/members", {"external_id": "m-1", "name": "An"})
        (mine,) = issue(offer["id"], member_external_id="m-1")
        body = {"recipient": {"email": "lan@example.com"}, **body}
        response = api.post(
            "/gifts", {"voucher_code": mine["code"], "sender": {"member_external_id": "m-1"}, **body}
        )
        assert response.status_code == 201, response.get_json()
        return response.get_json(), mine

    return make


@pytest.fixture
def from_brand(api, offer):
    def make(**body) -> dict:
        body = {"recipient": {"email": "lan@example.com"}, **body}
        response = api.post("/gifts", {"offer_id": offer["id"], **body})
        assert response.status_code == 201, response.get_json()
        return response.get_json()

    return make


def test_a_members_unclaimed_gift_returns_to_their_wallet_with_a_fresh_code(api, brand, from_member, clock):
    gift, mine = from_member(claim_days=7)
    assert wallet("m-1") == []  # held by the gift
    # 00:00 UTC on 1 January is 07:00 in Vietnam: the deadline is the end of 8 January there.
    deadline = when(gift["expires_at"])
    assert deadline == datetime(2030, 1, 8, 17, 0, tzinfo=UTC)

    clock.now = deadline - timedelta(minutes=1)
    assert run_gift_sweep()["returned"] == 0
    assert api.get(f"/gifts/{gift['id']}").get_json()["status"] == "sent"

    clock.now = deadline
    assert run_gift_sweep()["returned"] == 1
    assert run_gift_sweep()["returned"] == 0  # once
    seen = api.get(f"/gifts/{gift['id']}").get_json()
    assert seen["status"] == "returned" and when(seen["returned_at"]) == deadline

    (back,) = wallet("m-1")
    assert back.code != mine["code"] and back.offer_id == mine["offer_id"]
    assert api.post("/vouchers/validate", {"code": mine["code"]}).status_code == 404
    response = api.post("/vouchers/validate", {"code": back.code})
    assert response.status_code == 200, response.get_json()
    assert response.get_json()["voucher"]["member_external_id"] == "m-1"

    (expired,) = events("gift.expired")
    (returned,) = events("gift.returned")
    assert expired["gift_id"] == returned["gift_id"] == gift["id"]
    assert returned["returned_voucher_id"] == back.id and returned["voided"] is False
    with pytest.raises(DomainError) as refused:
        claims.claim_gift(get_gift(brand.id, gift["id"]), None)
    assert refused.value.code == "gift_closed"


def test_a_brands_unclaimed_gift_is_voided_and_leaves_the_liability(api, brand, from_brand, clock):
    gift = from_brand(claim_days=1)
    fresh()
    held = db.session.execute(select(Voucher).where(Voucher.held_by == f"gift:{gift['id']}")).scalar_one()
    assert held.status == "issued"

    clock.advance(days=2)
    run_gift_sweep()
    seen = api.get(f"/gifts/{gift['id']}").get_json()
    assert seen["status"] in ("expired", "returned")
    gone = voucher(held.id)
    assert gone.status == "voided" and gone.voided_at is not None and gone.held_by is None
    response = api.post("/vouchers/validate", {"code": gone.code})
    assert response.status_code == 409 and error_code(response) == "voided"
    (returned,) = events("gift.returned")
    assert returned["voided"] is True and returned["returned_voucher_id"] is None


def test_a_claimed_gift_does_not_expire(api, brand, from_member, clock):
    gift, _ = from_member(recipient={"name": "Lan"}, claim_days=3)
    claimed = claims.claim_gift(get_gift(brand.id, gift["id"]), None)
    clock.advance(days=30)
    assert run_gift_sweep() == {"sent": 0, "reminded": 0, "returned": 0}
    assert api.get(f"/gifts/{gift['id']}").get_json()["status"] == "claimed"
    assert voucher(claimed.id).status == "issued" and wallet("m-1") == []


def test_one_reminder_three_days_before_the_deadline(api, from_brand, clock):
    gift = from_brand(claim_days=7)
    deadline = when(gift["expires_at"])
    assert len(mails_to("lan@example.com")) == 1  # the gift

    clock.now = deadline - timedelta(days=3, minutes=1)
    assert run_gift_sweep()["reminded"] == 0
    clock.now = deadline - timedelta(days=3)
    assert run_gift_sweep()["reminded"] == 1
    clock.advance(days=1)
    assert run_gift_sweep()["reminded"] == 0
    clock.now = deadline - timedelta(minutes=1)
    assert run_gift_sweep()["reminded"] == 0

    first, reminder = mails_to("lan@example.com")
    assert reminder.subject != first.subject
    seen = api.get(f"/gifts/{gift['id']}").get_json()
    assert [d["kind"] for d in seen["deliveries"]] == ["gift", "reminder"]
    assert seen["status"] == "sent"


def test_a_phone_gets_its_reminder_through_the_outbox_and_a_claimed_gift_none(api, brand, from_brand, clock):
    by_phone = from_brand(recipient={"phone": "0912345678"}, claim_days=5)
    claimed = from_brand(recipient={"name": "Lan", "email": "lan@example.com"}, claim_days=5)
    claims.request_claim_code(get_gift(brand.id, claimed["id"]))
    code = re.search(r"\d{6}", mails_to("lan@example.com")[-1].subject).group(0)
    claims.claim_gift(get_gift(brand.id, claimed["id"]), code)

    clock.now = when(by_phone["expires_at"]) - timedelta(days=2)
    assert run_gift_sweep()["reminded"] == 1
    reminders = [e for e in events("gift.delivery_requested") if e["kind"] == "reminder"]
    assert [(e["gift_id"], e["phone"]) for e in reminders] == [(by_phone["id"], "+84912345678")]
    assert by_phone["claim_url"].split("/g/")[1] in reminders[0]["text"]


def test_a_link_only_gift_gets_no_reminder(api, from_brand, clock):
    gift = from_brand(recipient={"name": "Lan"}, claim_days=5)
    clock.now = when(gift["expires_at"]) - timedelta(days=1)
    assert run_gift_sweep()["reminded"] == 0


def test_cancel_gives_a_members_voucher_back_and_voids_a_brands(api, from_member, from_brand):
    gift, mine = from_member()
    response = api.post(f"/gifts/{gift['id']}/cancel", {})
    assert response.status_code == 200 and response.get_json()["status"] == "cancelled"
    (back,) = wallet("m-1")
    assert back.code != mine["code"]
    assert api.post("/vouchers/validate", {"code": mine["code"]}).status_code == 404
    assert api.post("/vouchers/validate", {"code": back.code}).status_code == 200

    brands = from_brand()
    fresh()
    held = db.session.execute(select(Voucher).where(Voucher.held_by == f"gift:{brands['id']}")).scalar_one()
    assert api.post(f"/gifts/{brands['id']}/cancel", {}).status_code == 200
    assert voucher(held.id).status == "voided"
    assert [e["gift_id"] for e in events("gift.cancelled")] == [gift["id"], brands["id"]]


def test_a_cancelled_scheduled_gift_is_never_sent(api, from_brand, clock):
    gift = from_brand(send_at=(clock.now + timedelta(hours=1)).isoformat())
    assert api.post(f"/gifts/{gift['id']}/cancel", {}).status_code == 200
    clock.advance(hours=2)
    assert run_gift_sweep()["sent"] == 0
    assert api.get(f"/gifts/{gift['id']}").get_json()["status"] == "cancelled"
    assert mails_to("lan@example.com") == [] and events("gift.sent") == []


def test_no_cancel_or_resend_once_claimed_or_returned(api, brand, from_brand, clock):
    claimed = from_brand(recipient={"name": "Lan"})
    claims.claim_gift(get_gift(brand.id, claimed["id"]), None)
    for path, body in ((f"/gifts/{claimed['id']}/cancel", {}), (f"/gifts/{claimed['id']}/resend", {})):
        response = api.post(path, body)
        assert response.status_code == 409 and error_code(response) == "gift_claimed", response.get_json()

    expired = from_brand(claim_days=1)
    clock.advance(days=3)
    run_gift_sweep()
    for path in (f"/gifts/{expired['id']}/cancel", f"/gifts/{expired['id']}/resend"):
        response = api.post(path, {})
        assert response.status_code == 409 and error_code(response) == "gift_closed", response.get_json()


def test_the_claim_deadline_is_never_after_the_vouchers_own_expiry(api, make_offer, issue):
    api.post("/members", {"external_id": "m-1"})
    (mine,) = issue(make_offer(valid_days=5)["id"], member_external_id="m-1")
    body = {"voucher_code": mine["code"], "recipient": {"name": "Lan"}, "claim_days": 30}
    gift = api.post("/gifts", body).get_json()
    assert when(gift["expires_at"]) == when(mine["expires_at"])


def test_past_the_deadline_it_cannot_be_claimed_even_before_the_sweep(api, brand, from_brand, clock):
    gift = from_brand(recipient={"name": "Lan"}, claim_days=2)
    clock.now = when(gift["expires_at"])
    with pytest.raises(DomainError) as refused:
        claims.claim_gift(get_gift(brand.id, gift["id"]), None)
    assert refused.value.code == "gift_closed"
    clock.now = when(gift["expires_at"]) - timedelta(seconds=1)
    assert claims.claim_gift(get_gift(brand.id, gift["id"]), None).held_by is None


def test_a_scheduled_gift_resent_to_a_new_address_goes_there_when_due(api, from_brand, clock):
    gift = from_brand(
        recipient={"email": "lan@exmaple.com"}, send_at=(clock.now + timedelta(days=1)).isoformat()
    )
    response = api.post(f"/gifts/{gift['id']}/resend", {"email": "lan@example.com"})
    assert response.status_code == 200 and response.get_json()["deliveries"] == []  # not sent yet
    assert response.get_json()["status"] == "scheduled"
    clock.advance(days=1)
    run_gift_sweep()
    assert mails_to("lan@exmaple.com") == [] and len(mails_to("lan@example.com")) == 1


def test_a_short_gift_is_not_reminded_right_after_it_was_sent(api, from_brand, clock):
    gift = from_brand(claim_days=2)  # its whole window is within GIFT_REMINDER_DAYS (3)
    clock.advance(minutes=1)
    assert run_gift_sweep()["reminded"] == 0, "a reminder a minute after the gift itself"
    assert len(mails_to("lan@example.com")) == 1
    assert api.get(f"/gifts/{gift['id']}").get_json()["reminded_at"] is None
