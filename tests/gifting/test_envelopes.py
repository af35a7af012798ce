"""Lì xì envelopes: the split (a property test), and through the API and the claim service a
gift of ten envelopes claimed by different people, one each, and what is left at expiry."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from gifting import claims
from gifting.envelopes import split_amounts
from gifting.expiry import run_gift_sweep
from gifting.queries import get_gift
from lixi.contacts import normalize_phone
from lixi.errors import DomainError
from lixi.extensions import db
from lixi.models import MailMessage, OutboxMessage
from tests.conftest import error_code
from vouchers.models import Voucher

# ── the split ──────────────────────────────────────────────────────────────────────────


@st.composite
def splits(draw) -> tuple[int, int, int]:
    count = draw(st.integers(min_value=2, max_value=100))
    floor = draw(st.sampled_from([1, 7, 1000, 5000]))
    total = draw(st.integers(min_value=max(1, count * floor), max_value=count * floor + 5_000_000))
    return total, count, floor


@settings(max_examples=150, deadline=None)
@given(splits(), st.sampled_from(["equal", "random"]))
def test_envelopes_sum_to_the_total_each_at_least_the_floor(split, mode):
    total, count, floor = split
    amounts = split_amounts(total, count, mode, floor)
    assert len(amounts) == count
    assert sum(amounts) == total
    assert all(isinstance(amount, int) and amount >= floor for amount in amounts)
    # Whole thousands of đồng when the total and the floor are: the unit amounts move by.
    unit = 1000 if total % 1000 == 0 and floor % 1000 == 0 else 1
    assert all(amount % unit == 0 for amount in amounts)
    if mode == "equal":
        assert max(amounts) - min(amounts) <= unit


def test_random_envelopes_differ_and_equal_ones_do_not():
    equal = split_amounts(100_000, 10, "equal", 1000)
    assert equal == [10_000] * 10
    draws = {tuple(split_amounts(100_000, 10, "random", 1000)) for _ in range(5)}
    assert len(draws) > 1  # random amounts are drawn, not fixed
    assert all(len(set(amounts)) > 1 for amounts in draws)


@pytest.mark.parametrize("mode", ["equal", "random"])
def test_a_total_below_count_times_floor_is_refused(mode):
    assert sum(split_amounts(10_000, 10, mode, 1000)) == 10_000  # exactly the floors: allowed
    with pytest.raises(ValueError):
        split_amounts(9_999, 10, mode, 1000)


# ── lì xì through the API ──────────────────────────────────────────────────────────────


def fresh() -> None:
    db.session.commit()
    db.session.expire_all()


def code_sent_to(contact: str) -> str:
    """The last one-time code sent to an email (its mail) or a phone (the outbox event)."""
    fresh()
    if "@" in contact:
        mail = (
            db.session.execute(
                select(MailMessage).where(MailMessage.to_address == contact).order_by(MailMessage.id.desc())
            )
            .scalars()
            .first()
        )
        assert mail is not None, f"no mail to {contact}"
        text = mail.text_body
    else:
        events = db.session.execute(
            select(OutboxMessage)
            .where(OutboxMessage.topic == "gift.delivery_requested")
            .order_by(OutboxMessage.id.desc())
        ).scalars()
        phone = normalize_phone(contact)
        event = next(e for e in events if e.payload["kind"] == "code" and e.payload["phone"] == phone)
        text = event.payload["text"]
    match = re.search(r"(?<![\d.,])\d{6}(?![\d.,])", text)
    assert match, text
    return match.group(0)


def claim_envelope(gift_id: int, brand_id: int, contact: str, name: str):
    gift = get_gift(brand_id, gift_id)
    claims.request_claim_code(gift, contact)
    code = code_sent_to(contact)
    return claims.claim_envelope(get_gift(brand_id, gift_id), contact, code, name)


@pytest.fixture
def gift_card(make_offer) -> dict:
    return make_offer(name="Lì xì", kind="gift_card", value=100_000)


def send_lixi(api, **body) -> dict:
    response = api.post("/gifts", {"recipient": {"name": "Nhà mình"}, "design": "tet", **body})
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def test_ten_envelopes_one_each_then_empty(api, brand, gift_card):
    gift = send_lixi(api, offer_id=gift_card["id"], split={"count": 10, "total": 200_000, "mode": "random"})
    split = gift["split"]
    assert (split["count"], split["mode"], split["total"], split["claimed"]) == (10, "random", 200_000, 0)
    assert sorted(e["position"] for e in split["envelopes"]) == list(range(1, 11))
    assert sum(e["amount"] for e in split["envelopes"]) == 200_000 == gift["value"]
    assert all(e["amount"] >= 1000 for e in split["envelopes"])

    # Half prove an email, half a phone: each gets an envelope and a gift card of its amount.
    people = [f"ban{i}@example.com" if i % 2 else f"+8490100000{i}" for i in range(10)]
    vouchers = []
    for i, contact in enumerate(people):
        envelope = claim_envelope(gift["id"], brand.id, contact, f"Bạn {i}")
        assert envelope.claimer_name == f"Bạn {i}" and envelope.claimed_at is not None
        assert envelope.voucher.balance == envelope.amount and envelope.voucher.held_by is None
        vouchers.append(envelope.voucher.code)
    assert len(set(vouchers)) == 10

    seen = api.get(f"/gifts/{gift['id']}").get_json()["split"]
    assert seen["claimed"] == 10
    assert sorted(e["claimer_name"] for e in seen["envelopes"]) == sorted(f"Bạn {i}" for i in range(10))
    for code in vouchers:  # each new gift card is spendable
        response = api.post("/vouchers/validate", {"code": code})
        assert response.status_code == 200, response.get_json()

    with pytest.raises(DomainError) as refused:
        claim_envelope(gift["id"], brand.id, "ban-muon@example.com", "Đến muộn")
    assert refused.value.code == "envelopes_empty"


def test_a_person_claims_one_envelope_only(api, brand, gift_card):
    gift = send_lixi(api, offer_id=gift_card["id"], split={"count": 3, "total": 30_000, "mode": "equal"})
    first = claim_envelope(gift["id"], brand.id, "an@example.com", "An")
    assert first.amount == 10_000
    for contact in ("an@example.com", "AN@example.com"):  # the same address, however written
        with pytest.raises(DomainError) as refused:
            claim_envelope(gift["id"], brand.id, contact, "An lần nữa")
        assert refused.value.code == "envelope_taken"
    assert api.get(f"/gifts/{gift['id']}").get_json()["split"]["claimed"] == 1


def test_a_wrong_code_does_not_open_an_envelope(api, brand, gift_card):
    gift = send_lixi(api, offer_id=gift_card["id"], split={"count": 2, "total": 20_000, "mode": "equal"})
    claims.request_claim_code(get_gift(brand.id, gift["id"]), "an@example.com")
    right = code_sent_to("an@example.com")
    wrong = f"{(int(right) + 1) % 1_000_000:06d}"
    with pytest.raises(DomainError) as refused:
        claims.claim_envelope(get_gift(brand.id, gift["id"]), "an@example.com", wrong, "An")
    assert refused.value.code == "code_invalid"
    # The code proves this contact only: another person cannot use it.
    with pytest.raises(DomainError):
        claims.claim_envelope(get_gift(brand.id, gift["id"]), "binh@example.com", right, "Bình")
    assert api.get(f"/gifts/{gift['id']}").get_json()["split"]["claimed"] == 0


def test_split_needs_a_gift_card_and_a_total_above_the_floors(api, make_offer, gift_card):
    fixed = make_offer()
    for body in (
        {"offer_id": fixed["id"], "split": {"count": 5}},
        {"offer_id": gift_card["id"], "split": {"count": 10, "total": 9_999}},  # floor 1,000 each
        {"offer_id": gift_card["id"], "split": {"count": 1}},
        {"offer_id": gift_card["id"], "split": {"count": 101, "total": 1_000_000}},
        {"offer_id": gift_card["id"], "split": {"count": 3, "mode": "lucky"}},
    ):
        response = api.post("/gifts", {"recipient": {}, **body})
        assert response.status_code == 422, (body, response.get_json())
        assert error_code(response) == "invalid_request"


def held_gift_card_of(gift_id: int) -> Voucher:
    fresh()
    return db.session.execute(select(Voucher).where(Voucher.held_by == f"gift:{gift_id}")).scalar_one()


def test_a_members_leftover_returns_to_the_sender_at_expiry(api, brand, gift_card, issue, clock):
    api.post("/members", {"external_id": "m-1", "name": "Bà Ngoại", "email": "ngoai@example.com"})
    (card,) = issue(gift_card["id"], member_external_id="m-1")
    gift = send_lixi(
        api,
        voucher_code=card["code"],
        sender={"member_external_id": "m-1"},
        claim_days=7,
        split={"count": 4, "mode": "equal"},
    )
    assert gift["value"] == 100_000
    claim_envelope(gift["id"], brand.id, "chau1@example.com", "Cháu 1")
    claim_envelope(gift["id"], brand.id, "chau2@example.com", "Cháu 2")
    assert api.post("/vouchers/validate", {"code": card["code"]}).status_code == 409  # held

    clock.advance(days=8)
    run_gift_sweep()
    seen = api.get(f"/gifts/{gift['id']}").get_json()
    assert seen["status"] == "returned" and seen["returned_at"]

    fresh()
    returned = db.session.get(Voucher, get_gift(brand.id, gift["id"]).returned_voucher_id)
    assert returned.balance == 50_000 and returned.member.external_id == "m-1"
    assert returned.code != card["code"] and returned.held_by is None
    assert api.post("/vouchers/validate", {"code": card["code"]}).status_code == 404
    response = api.post("/vouchers/validate", {"code": returned.code})
    assert response.status_code == 200, response.get_json()
    assert response.get_json()["voucher"]["balance"] == 50_000
    with pytest.raises(DomainError) as refused:
        claim_envelope(gift["id"], brand.id, "chau3@example.com", "Cháu 3")
    assert refused.value.code == "gift_closed"


def test_a_brands_leftover_is_voided_at_expiry(api, brand, gift_card, clock):
    gift = send_lixi(
        api, offer_id=gift_card["id"], claim_days=3, split={"count": 2, "total": 100_000, "mode": "equal"}
    )
    held = held_gift_card_of(gift["id"])
    claim_envelope(gift["id"], brand.id, "an@example.com", "An")

    clock.advance(days=4)  # past the end of the local day three days after sending
    run_gift_sweep()
    seen = api.get(f"/gifts/{gift['id']}").get_json()
    assert seen["status"] in ("expired", "returned")
    fresh()
    held = db.session.get(Voucher, held.id)
    assert held.status == "voided" and held.held_by is None
    assert get_gift(brand.id, gift["id"]).returned_voucher_id is None
    assert api.post("/vouchers/validate", {"code": held.code}).status_code in (404, 409)


def test_the_split_shows_at_the_time_it_was_made(api, gift_card, clock):
    clock.now = datetime(2030, 1, 1, tzinfo=UTC)
    gift = send_lixi(api, offer_id=gift_card["id"], split={"count": 5, "total": 50_000, "mode": "equal"})
    assert [e["amount"] for e in gift["split"]["envelopes"]] == [10_000] * 5
    assert all(e["claimed_at"] is None and e["claimer_name"] is None for e in gift["split"]["envelopes"])


def test_cancel_a_members_lixi_gives_back_what_is_left(api, brand, gift_card, issue):
    api.post("/members", {"external_id": "m-1", "name": "Ông Nội"})
    lan = api.post("/members", {"external_id": "m-2", "phone": "0912 000 002"}).get_json()
    (card,) = issue(gift_card["id"], member_external_id="m-1")
    gift = send_lixi(api, voucher_code=card["code"], split={"count": 5, "mode": "equal"})
    envelope = claim_envelope(gift["id"], brand.id, "0912000002", "Lan")
    assert envelope.claimer_member_id == lan["id"] and envelope.voucher.member_id == lan["id"]

    response = api.post(f"/gifts/{gift['id']}/cancel", {})
    assert response.status_code == 200 and response.get_json()["status"] == "cancelled"
    fresh()
    back = db.session.get(Voucher, get_gift(brand.id, gift["id"]).returned_voucher_id)
    assert back.balance == 80_000 and back.member.external_id == "m-1" and back.held_by is None
    assert api.post("/vouchers/validate", {"code": back.code}).status_code == 200
    assert (
        api.post("/vouchers/validate", {"code": envelope.voucher.code}).status_code == 200
    )  # Lan keeps hers
    with pytest.raises(DomainError) as refused:
        claim_envelope(gift["id"], brand.id, "binh@example.com", "Bình")
    assert refused.value.code == "gift_closed"


def test_a_scheduled_lixi_opens_no_envelope_yet(api, brand, gift_card, clock):
    send_at = (clock.now + timedelta(hours=1)).isoformat()
    gift = send_lixi(api, offer_id=gift_card["id"], send_at=send_at, split={"count": 2, "total": 2_000})
    with pytest.raises(DomainError) as refused:
        claims.request_claim_code(get_gift(brand.id, gift["id"]), "an@example.com")
    assert refused.value.code == "not_sent_yet"


def test_an_envelope_claimed_is_a_gift_received_by_that_member(api, brand, gift_card):
    api.post("/members", {"external_id": "m-2", "email": "lan@example.com"})
    gift = send_lixi(api, offer_id=gift_card["id"], split={"count": 2, "total": 2_000})
    assert api.get("/gifts?member_external_id=m-2").get_json()["gifts"] == []
    claim_envelope(gift["id"], brand.id, "lan@example.com", "Lan")
    listed = api.get("/gifts?member_external_id=m-2").get_json()["gifts"]
    # As gifts_of_member counts it (the member's page): list_gifts' member filter should match.
    assert [g["id"] for g in listed] == [gift["id"]], "GET /gifts?member_external_id= misses envelopes"
