"""Contract tests of the gifts API (API.md "Gifting"): send from an offer or a member's voucher,
validation, not found, not transferable, read, list, cancel, resend, and tenancy on every route."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit

import pytest
from flask import current_app
from sqlalchemy import event, select

from gifting.expiry import run_gift_sweep
from lixi import jobs
from lixi.audit import list_audit_events
from lixi.extensions import db
from lixi.models import OutboxMessage
from tests.conftest import error_code
from vouchers.models import Voucher

GIFT_FIELDS = {
    "id",
    "status",
    "claim_url",
    "offer_id",
    "value",
    "sender",
    "recipient",
    "message",
    "design",
    "send_at",
    "sent_at",
    "opened_at",
    "claimed_at",
    "expires_at",
    "cancelled_at",
    "returned_at",
    "claim_days",
    "deliveries",
    "batch_id",
    "row_id",
}


def send(api, who=None, **body):
    """POST /gifts (with another brand's key when `who` is given)."""
    return api.post("/gifts", body) if who is None else api.post("/gifts", body, who=who)


def sent(api, **body) -> dict:
    response = send(api, **body)
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def invalid_fields(response) -> dict:
    assert response.status_code == 422, response.get_json()
    assert error_code(response) == "invalid_request"
    return response.get_json()["error"].get("details", {}).get("fields", {})


def names_field(fields: dict, *path: str) -> bool:
    """Whether a 422's fields name this (nested marshmallow errors, or a dotted name)."""
    if ".".join(path) in fields:
        return True
    node = fields
    for part in path:
        if not isinstance(node, dict) or part not in node:
            return False
        node = node[part]
    return True


def in_a_month() -> str:
    """A send_at a month ahead (a gift is scheduled at most FURTHEST_SCHEDULE ahead)."""
    return (datetime.now(UTC) + timedelta(days=30)).isoformat()


def when(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def make_member(api, external_id: str, who=None, **profile) -> dict:
    body = {"external_id": external_id, **profile}
    response = api.post("/members", body) if who is None else api.post("/members", body, who=who)
    assert response.status_code in (200, 201), response.get_json()
    return response.get_json()


def held_voucher(gift_id: int) -> Voucher:
    db.session.commit()
    db.session.expire_all()
    return db.session.execute(select(Voucher).where(Voucher.held_by == f"gift:{gift_id}")).scalar_one()


@pytest.fixture
def gift_card(make_offer) -> dict:
    return make_offer(name="Thẻ quà 500k", kind="gift_card", value=500_000)


# ── sending ────────────────────────────────────────────────────────────────────────────


def test_a_gift_from_an_offer_holds_a_new_voucher_and_its_link_opens(api, client, offer):
    gift = sent(
        api,
        offer_id=offer["id"],
        sender={"name": "Cà Phê Sữa Đá"},
        recipient={"name": "Lan", "email": "lan@example.com", "language": "en"},
        message="Chúc mừng năm mới!",
        design="tet",
    )
    assert set(gift) >= GIFT_FIELDS
    assert gift["status"] == "sent" and gift["offer_id"] == offer["id"] and gift["value"] == 50_000
    assert gift["sender"] == {"member_external_id": None, "name": "Cà Phê Sữa Đá"}
    recipient = {"name": "Lan", "email": "lan@example.com", "phone": None, "language": "en"}
    assert recipient.items() <= gift["recipient"].items()
    assert (gift["message"], gift["design"], gift["claim_days"]) == ("Chúc mừng năm mới!", "tet", 30)
    assert gift["opened_at"] is None and gift["claimed_at"] is None and gift["cancelled_at"] is None
    # The claim deadline: claim_days after it was sent (to the end of that local day at most).
    left = when(gift["expires_at"]) - when(gift["sent_at"])
    assert timedelta(days=30) <= left <= timedelta(days=31)
    assert [(d["kind"], d["channel"], d["to"]) for d in gift["deliveries"]] == [
        ("gift", "email", "lan@example.com")
    ]
    assert set(gift["deliveries"][0]) >= {"kind", "channel", "to", "created_at", "status"}
    assert gift["deliveries"][0]["status"] == "pending"
    jobs.work(current_app, burst=True, in_process=True)  # the mail worker (to .eml files in tests)
    db.session.commit()  # end the test's read snapshot: the worker wrote in its own
    assert api.get(f"/gifts/{gift['id']}").get_json()["deliveries"][0]["status"] == "sent"

    voucher = held_voucher(gift["id"])  # the brand issued it for the gift, and the gift holds it
    assert voucher.offer_id == offer["id"] and voucher.member_id is None and voucher.status == "issued"
    assert api.get(f"/gifts/{gift['id']}").get_json()["status"] == "sent"

    link = urlsplit(gift["claim_url"])
    assert link.scheme in ("http", "https") and link.path.startswith("/g/")
    page = client.get(link.path)
    assert page.status_code == 200
    assert client.get("/g/not-a-gift").status_code == 404


def test_a_member_gives_their_own_voucher_and_it_is_held(api, offer, issue, merchant):
    make_member(api, "m-1", name="An")
    (voucher,) = issue(offer["id"], member_external_id="m-1")
    gift = sent(
        api,
        voucher_code=voucher["code"],
        sender={"member_external_id": "m-1"},
        recipient={"name": "Bình", "phone": "0901234567"},
    )
    assert gift["sender"]["member_external_id"] == "m-1"
    assert (gift["offer_id"], gift["value"], gift["status"]) == (offer["id"], 50_000, "sent")
    assert gift["recipient"]["phone"] == "+84901234567"
    assert [(d["kind"], d["channel"], d["status"]) for d in gift["deliveries"]] == [
        ("gift", "phone", "requested")
    ]

    for path, body in (
        ("/vouchers/validate", {"code": voucher["code"]}),
        ("/redemptions", {"code": voucher["code"], "merchant_id": merchant["id"]}),
    ):
        response = api.post(path, body)
        assert response.status_code == 409 and error_code(response) == "held", response.get_json()

    # The phone is the brand's provider's to text: an outbox event with the text and the link.
    events = db.session.execute(
        select(OutboxMessage).where(OutboxMessage.topic == "gift.delivery_requested")
    ).scalars()
    (event,) = [e.payload for e in events]
    assert event["gift_id"] == gift["id"] and event["kind"] == "gift" and event["phone"] == "+84901234567"
    assert event["link"] == gift["claim_url"] and gift["claim_url"] in event["text"]


@pytest.mark.parametrize("typed", ["0901234567", "+84 90 123 4567", "84901234567", "090-123-4567"])
def test_a_recipients_phone_is_normalised_to_e164(api, offer, typed):
    gift = sent(api, offer_id=offer["id"], recipient={"phone": typed})
    assert gift["recipient"]["phone"] == "+84901234567"


def test_a_link_only_gift_needs_no_email_or_phone(api, offer):
    gift = sent(api, offer_id=offer["id"], recipient={"name": "Lan"})
    assert (
        gift["status"] == "sent" and gift["recipient"]["email"] is None and gift["recipient"]["phone"] is None
    )
    assert [(d["kind"], d["channel"], d["status"]) for d in gift["deliveries"]] == [
        ("gift", "link", "shared")
    ]
    assert urlsplit(gift["claim_url"]).path.startswith("/g/")


def test_an_amount_makes_a_gift_card_of_that_balance(api, gift_card):
    gift = sent(api, offer_id=gift_card["id"], amount=200_000, recipient={"email": "lan@example.com"})
    assert gift["value"] == 200_000
    assert held_voucher(gift["id"]).balance == 200_000


# ── refusals ───────────────────────────────────────────────────────────────────────────


def _bad_bodies(offer_id: int, card_id: int) -> list[tuple[dict, tuple[str, ...]]]:
    """(body, the field the 422 names) — an empty tuple where the field is a choice of the API."""
    ok = {"offer_id": offer_id, "recipient": {"email": "lan@example.com"}}
    return [
        ({**ok, "recipient": {"email": "lan@"}}, ("recipient", "email")),
        ({**ok, "recipient": {"email": "not an email"}}, ("recipient", "email")),
        ({**ok, "recipient": {"phone": "12345"}}, ("recipient", "phone")),
        ({**ok, "recipient": {"phone": "phone"}}, ("recipient", "phone")),
        ({**ok, "message": "x" * 501}, ("message",)),
        ({**ok, "design": "neon"}, ("design",)),
        ({**ok, "claim_days": 0}, ("claim_days",)),
        ({**ok, "claim_days": 366}, ("claim_days",)),
        ({**ok, "claim_days": "30 days"}, ("claim_days",)),
        ({**ok, "send_at": "tomorrow"}, ("send_at",)),
        ({**ok, "voucher_code": "ABCD-EFGH"}, ()),  # both an offer and a voucher
        ({"recipient": {"email": "lan@example.com"}}, ()),  # neither
        ({**ok, "offer_id": "one"}, ("offer_id",)),
        ({**ok, "split": {"count": 5}}, ()),  # a split needs a gift card
        ({**ok, "offer_id": card_id, "split": {"count": 10, "total": 9_000}}, ()),  # below 10 × 1,000
        ({**ok, "offer_id": card_id, "split": {"count": 1}}, ()),
        ({**ok, "offer_id": card_id, "amount": -5}, ("amount",)),
        ({**ok, "offer_id": card_id, "amount": 50_000, "split": {"count": 2, "total": 20_000}}, ()),  # which?
        ({**ok, "brand_id": 2}, ("brand_id",)),
    ]


def test_invalid_gifts_get_422_naming_the_field(api, offer, gift_card):
    for body, field in _bad_bodies(offer["id"], gift_card["id"]):
        fields = invalid_fields(send(api, **body))
        if field:
            assert names_field(fields, *field), (body, fields)
    assert db.session.execute(select(Voucher)).first() is None  # nothing was issued for them


def test_an_unknown_or_another_brands_offer_voucher_or_sender_is_404(
    api, offer, issue, make_brand, make_offer
):
    other = make_brand("Trà Sữa")
    others_offer = api.post(
        "/offers", {"name": "x", "kind": "fixed_amount", "value": 1}, who=other
    ).get_json()
    make_member(api, "m-9", who=other)
    others_voucher = api.post("/vouchers", {"offer_id": others_offer["id"]}, who=other).get_json()[
        "vouchers"
    ][0]
    (own_voucher,) = issue(offer["id"])
    recipient = {"email": "lan@example.com"}
    for body in (
        {"offer_id": 999_999},
        {"offer_id": others_offer["id"]},
        {"voucher_code": "ZZZZ-ZZZZ"},
        {"voucher_code": others_voucher["code"]},
        {"offer_id": offer["id"], "sender": {"member_external_id": "nobody"}},
        {"voucher_code": own_voucher["code"], "sender": {"member_external_id": "m-9"}},  # the other's member
    ):
        response = send(api, recipient=recipient, **body)
        assert response.status_code == 404, (body, response.get_json())
        assert error_code(response) == "not_found"


def _refused(api, code: str, sender: str | None = "m-1"):
    body = {"voucher_code": code, "recipient": {"email": "lan@example.com"}}
    if sender:
        body["sender"] = {"member_external_id": sender}
    response = send(api, **body)
    assert response.status_code == 409, response.get_json()
    assert error_code(response) == "not_transferable"


def test_a_voucher_that_cannot_be_given_is_409_not_transferable(
    api, offer, gift_card, make_offer, issue, merchant, clock
):
    make_member(api, "m-1")
    make_member(api, "m-2")

    (used,) = issue(offer["id"], member_external_id="m-1")
    assert api.post("/redemptions", {"code": used["code"], "merchant_id": merchant["id"]}).status_code == 201
    _refused(api, used["code"])

    (voided,) = issue(offer["id"], member_external_id="m-1")
    assert api.post(f"/vouchers/{voided['code']}/void", {}).status_code == 200
    _refused(api, voided["code"])

    (spent,) = issue(gift_card["id"], member_external_id="m-1")
    body = {"code": spent["code"], "merchant_id": merchant["id"], "amount": 1000}
    assert api.post("/redemptions", body).status_code == 201
    _refused(api, spent["code"])  # a gift card only whole

    (someone_elses,) = issue(offer["id"], member_external_id="m-2")
    _refused(api, someone_elses["code"])

    (short,) = issue(make_offer(valid_days=1)["id"], member_external_id="m-1")
    clock.advance(days=3)
    _refused(api, short["code"])

    (whole,) = issue(gift_card["id"], member_external_id="m-1")  # the unspent pair of each refusal
    gift = sent(
        api, voucher_code=whole["code"], sender={"member_external_id": "m-1"}, recipient={"name": "B"}
    )
    assert gift["value"] == 500_000


def test_a_second_gift_of_a_voucher_is_refused_while_the_first_is_open(api, offer, issue):
    make_member(api, "m-1")
    (voucher,) = issue(offer["id"], member_external_id="m-1")
    body = {"voucher_code": voucher["code"], "sender": {"member_external_id": "m-1"}}
    first = sent(api, recipient={"email": "lan@example.com"}, **body)
    _refused(api, voucher["code"])
    scheduled_too = send(api, recipient={"email": "binh@example.com"}, send_at=in_a_month(), **body)
    assert scheduled_too.status_code == 409 and error_code(scheduled_too) == "not_transferable"

    cancelled = api.post(f"/gifts/{first['id']}/cancel", {})
    assert cancelled.status_code == 200, cancelled.get_json()
    # Back in the sender's wallet (with a fresh code): that one can be given again.
    db.session.commit()
    db.session.expire_all()
    mine = db.session.execute(select(Voucher).where(Voucher.offer_id == offer["id"])).scalars().all()
    usable = [v for v in mine if v.status == "issued" and v.held_by is None]
    assert len(usable) == 1 and usable[0].member.external_id == "m-1"
    again = sent(
        api, voucher_code=usable[0].code, recipient={"email": "lan@example.com"}, **{"sender": body["sender"]}
    )
    assert again["status"] == "sent"


# ── reading, listing, cancel, resend ───────────────────────────────────────────────────


def test_get_and_list_with_filters_and_pages(api, offer, issue):
    make_member(api, "m-1")
    (voucher,) = issue(offer["id"], member_external_id="m-1")
    from_member = sent(
        api, voucher_code=voucher["code"], sender={"member_external_id": "m-1"}, recipient={"name": "A"}
    )
    brands = [sent(api, offer_id=offer["id"], recipient={"name": f"B{i}"}) for i in range(3)]
    later = sent(api, offer_id=offer["id"], recipient={"name": "C"}, send_at=in_a_month())
    assert later["status"] == "scheduled"

    got = api.get(f"/gifts/{from_member['id']}")
    assert got.status_code == 200 and got.get_json()["id"] == from_member["id"]
    assert got.get_json()["claim_url"] == from_member["claim_url"]

    def ids(query: str = "") -> list[int]:
        response = api.get(f"/gifts{query}")
        assert response.status_code == 200, response.get_json()
        return [g["id"] for g in response.get_json()["gifts"]]

    every = [later["id"], *(g["id"] for g in reversed(brands)), from_member["id"]]
    assert ids() == every  # newest first
    assert ids("?status=scheduled") == [later["id"]]
    assert ids("?status=sent") == every[1:]
    assert ids("?member_external_id=m-1") == [from_member["id"]]
    assert ids(f"?before_id={brands[1]['id']}") == [brands[0]["id"], from_member["id"]]
    assert ids("?status=claimed") == []
    invalid_fields(api.get("/gifts?status=lost"))


def test_cancel_an_open_gift_once(api, offer):
    gift = sent(api, offer_id=offer["id"], recipient={"email": "lan@example.com"})
    response = api.post(f"/gifts/{gift['id']}/cancel", {})
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert body["status"] == "cancelled" and body["cancelled_at"]
    again = api.post(f"/gifts/{gift['id']}/cancel", {})
    assert again.status_code == 409 and error_code(again) == "gift_closed"
    resend = api.post(f"/gifts/{gift['id']}/resend", {})
    assert resend.status_code == 409 and error_code(resend) == "gift_closed"


def test_resend_with_a_corrected_email_or_phone(api, offer):
    gift = sent(api, offer_id=offer["id"], recipient={"email": "lan@exmaple.com"})
    response = api.post(f"/gifts/{gift['id']}/resend", {"email": "lan@example.com"})
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert body["recipient"]["email"] == "lan@example.com" and body["status"] == "sent"
    assert [(d["kind"], d["to"]) for d in body["deliveries"]][-1] == ("resend", "lan@example.com")

    response = api.post(f"/gifts/{gift['id']}/resend", {"phone": "0907 654 321"})
    assert response.status_code == 200, response.get_json()
    assert response.get_json()["recipient"]["phone"] == "+84907654321"
    assert response.get_json()["deliveries"][-1]["channel"] == "phone"

    same = api.post(f"/gifts/{gift['id']}/resend", {})  # to the same addresses again: both
    assert same.status_code == 200
    again = same.get_json()["deliveries"][len(response.get_json()["deliveries"]) :]
    assert sorted((d["kind"], d["channel"]) for d in again) == [("resend", "email"), ("resend", "phone")]

    for bad in ({"email": "lan@"}, {"phone": "12"}):
        invalid_fields(api.post(f"/gifts/{gift['id']}/resend", bad))


def test_another_brands_gift_is_404_on_every_route(api, offer, make_brand):
    gift = sent(api, offer_id=offer["id"], recipient={"email": "lan@example.com"})
    other = make_brand("Trà Sữa")
    for method, path, body in (
        ("get", f"/gifts/{gift['id']}", None),
        ("post", f"/gifts/{gift['id']}/cancel", {}),
        ("post", f"/gifts/{gift['id']}/resend", {"email": "x@example.com"}),
        ("get", "/gifts/999999", None),
        ("post", "/gifts/999999/cancel", {}),
    ):
        response = api.get(path, who=other) if method == "get" else api.post(path, body, who=other)
        assert response.status_code == 404, (path, response.get_json())
        assert error_code(response) == "not_found"
    listing = api.get("/gifts", who=other)
    assert listing.status_code == 200 and listing.get_json()["gifts"] == []
    assert api.get(f"/gifts/{gift['id']}").get_json()["status"] == "sent"  # untouched by the attempts


def test_without_a_key_it_is_401(client, offer):
    for response in (
        client.post("/api/v1/gifts", json={"offer_id": offer["id"], "recipient": {}}),
        client.get("/api/v1/gifts"),
        client.get("/api/v1/gifts/1"),
    ):
        assert response.status_code == 401 and error_code(response) == "unauthorized"


def test_a_repeat_with_the_same_idempotency_key_sends_one_gift(api, offer):
    body = {"offer_id": offer["id"], "recipient": {"email": "lan@example.com"}}
    first = api.post("/gifts", body, headers={"Idempotency-Key": "tet-1"})
    second = api.post("/gifts", body, headers={"Idempotency-Key": "tet-1"})
    assert first.status_code == second.status_code == 201
    assert first.get_json() == second.get_json()
    assert len(api.get("/gifts").get_json()["gifts"]) == 1


def test_only_a_members_own_voucher_is_given_and_as_it_is(api, offer, gift_card, issue):
    (unassigned,) = issue(offer["id"])  # the brand's, in no one's wallet: send the offer instead
    _refused(api, unassigned["code"], sender=None)
    make_member(api, "m-1", name="An")
    (card,) = issue(gift_card["id"], member_external_id="m-1")
    body = {"voucher_code": card["code"], "recipient": {"name": "B"}}
    assert invalid_fields(send(api, amount=1000, **body))  # a member gives it whole
    gift = sent(api, **body)  # no sender named: the voucher's owner sends it, under their name
    # The mail then says "An sent you a gift", not the brand's name.
    assert gift["sender"] == {"member_external_id": "m-1", "name": "An"}, "sender_name: the owner's name"
    assert gift["value"] == 500_000


def test_a_gift_is_scheduled_at_most_400_days_ahead(api, offer):
    soon = (datetime.now(UTC) + timedelta(days=399)).isoformat()
    assert sent(api, offer_id=offer["id"], send_at=soon)["status"] == "scheduled"
    later = (datetime.now(UTC) + timedelta(days=401)).isoformat()
    assert names_field(invalid_fields(send(api, offer_id=offer["id"], send_at=later)), "send_at")
    past = (datetime.now(UTC) - timedelta(days=1)).isoformat()
    assert sent(api, offer_id=offer["id"], send_at=past)["status"] == "sent"  # a time gone by: now


def test_pages_of_the_list_follow_next_before_id(api, offer):
    made = [sent(api, offer_id=offer["id"])["id"] for _ in range(5)]
    first = api.get("/gifts?limit=2").get_json()
    assert [g["id"] for g in first["gifts"]] == made[:-3:-1]
    second = api.get(f"/gifts?limit=2&before_id={first['next_before_id']}").get_json()
    third = api.get(f"/gifts?limit=2&before_id={second['next_before_id']}").get_json()
    assert [g["id"] for g in second["gifts"] + third["gifts"]] == made[-3::-1]
    assert third["next_before_id"] is None
    invalid_fields(api.get("/gifts?limit=0"))


def test_cancel_and_resend_are_audited_as_the_api_key(api, brand, offer):
    gift = sent(api, offer_id=offer["id"], recipient={"email": "lan@exmaple.com"})
    api.post(f"/gifts/{gift['id']}/resend", {"email": "lan@example.com"})
    api.post(f"/gifts/{gift['id']}/cancel", {})
    db.session.commit()
    trail = {
        e.action: e for e in list_audit_events(brand.id, action="gift.") if e.subject_id == str(gift["id"])
    }
    assert {"gift.created", "gift.sent", "gift.resent", "gift.cancelled"} <= set(trail)
    assert all(e.actor.startswith("api_key:") for e in trail.values())
    assert trail["gift.resent"].data["changed"]["email"] == ["lan@exmaple.com", "lan@example.com"]


def test_a_repeated_cancel_with_its_key_replays_the_answer(api, offer):
    gift = sent(api, offer_id=offer["id"])
    first = api.post(f"/gifts/{gift['id']}/cancel", {}, headers={"Idempotency-Key": "c-1"})
    again = api.post(f"/gifts/{gift['id']}/cancel", {}, headers={"Idempotency-Key": "c-1"})
    assert first.status_code == again.status_code == 200 and first.get_json() == again.get_json()
    fresh_key = api.post(f"/gifts/{gift['id']}/cancel", {}, headers={"Idempotency-Key": "c-2"})
    assert fresh_key.status_code == 409


@pytest.mark.parametrize("source", ["offer", "member"])
def test_a_gift_is_never_sent_after_its_voucher_expires(api, make_offer, issue, clock, source):
    short = make_offer(valid_days=2)
    body = {"recipient": {"email": "lan@example.com"}, "send_at": (clock.now + timedelta(days=5)).isoformat()}
    if source == "offer":
        body["offer_id"] = short["id"]
    else:
        make_member(api, "m-1")
        body["voucher_code"] = issue(short["id"], member_external_id="m-1")[0]["code"]
    response = send(api, **body)
    if response.status_code == 201:  # accepted: then the recipient must not be sent a dead gift
        clock.advance(days=5, minutes=1)
        run_gift_sweep()
        gift = api.get(f"/gifts/{response.get_json()['id']}").get_json()
        assert gift["deliveries"] == [], "a gift sent after its voucher expired: nothing to claim"
    else:
        assert response.status_code in (409, 422), response.get_json()


def test_a_page_of_gifts_costs_the_same_queries_however_many_it_holds(api, offer, make_offer):
    """The list loads envelopes, senders and recipients for the page at once, and leaves the
    deliveries to GET /gifts/{id}."""
    card = make_offer(name="Lì xì", kind="gift_card", value=100_000)

    def statements_of_a_page() -> int:
        db.session.commit()
        db.session.expire_all()  # the suite's one session must not hold the page's objects already
        seen: list[str] = []

        def note(_conn, _cursor, statement: str, *_args) -> None:  # type: ignore[no-untyped-def]
            seen.append(statement)

        event.listen(db.engine, "before_cursor_execute", note)
        try:
            listing = api.get("/gifts")
        finally:
            event.remove(db.engine, "before_cursor_execute", note)
        assert listing.status_code == 200
        assert all("deliveries" not in gift for gift in listing.get_json()["gifts"])
        return len(seen)

    send(api, offer_id=card["id"], split={"count": 2, "total": 2_000})
    few = statements_of_a_page()
    assert few > 0
    for _ in range(6):
        send(api, offer_id=offer["id"], recipient={"email": "lan@example.com"})
        send(api, offer_id=card["id"], split={"count": 2, "total": 2_000})
    assert len(api.get("/gifts").get_json()["gifts"]) == 13
    assert statements_of_a_page() == few, few
