"""One-time claim codes: 6 digits sent to the gift's email (a mail) or phone (the outbox event
gift.delivery_requested, kind "code"), valid GIFT_CODE_MINUTES, locked after GIFT_CODE_TRIES wrong
tries, at most GIFT_CODE_SENDS sent per gift and address, good for that gift and address only."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from gifting import claims
from gifting.queries import get_gift
from lixi.errors import DomainError
from lixi.extensions import db
from lixi.models import MailMessage, OutboxMessage


def fresh() -> None:
    db.session.commit()
    db.session.expire_all()


def code_in(text: str) -> str:
    match = re.search(r"(?<![\d.,])\d{6}(?![\d.,])", text)
    assert match, text
    return match.group(0)


def mailed_codes(address: str) -> list[str]:
    """The codes mailed to an address, oldest first (the code mails only: kind and subject)."""
    fresh()
    query = select(MailMessage).where(MailMessage.to_address == address).order_by(MailMessage.id)
    return [code_in(m.subject) for m in db.session.execute(query).scalars() if re.search(r"\d{6}", m.subject)]


def texted_codes(phone: str) -> list[str]:
    fresh()
    query = (
        select(OutboxMessage)
        .where(OutboxMessage.topic == "gift.delivery_requested")
        .order_by(OutboxMessage.id)
    )
    payloads = [m.payload for m in db.session.execute(query).scalars()]
    return [code_in(p["text"]) for p in payloads if p["kind"] == "code" and p["phone"] == phone]


def wrong(code: str) -> str:
    return f"{(int(code) + 1) % 1_000_000:06d}"


def refusal(call, *args) -> DomainError:
    with pytest.raises(DomainError) as refused:
        call(*args)
    return refused.value


@pytest.fixture
def send(api, offer):
    def send(**recipient: str) -> int:
        response = api.post("/gifts", {"offer_id": offer["id"], "recipient": recipient})
        assert response.status_code == 201, response.get_json()
        return response.get_json()["id"]

    return send


@pytest.fixture
def gift_of(brand):
    """The gift as a fresh request would read it (the test's session is shared across calls)."""

    def gift_of(gift_id: int):
        fresh()
        return get_gift(brand.id, gift_id)

    return gift_of


def test_an_email_gifts_code_comes_by_mail_and_claims_it_once(send, gift_of):
    gift_id = send(email="thu.trang@example.com")
    assert claims.request_claim_code(gift_of(gift_id)) == "t***@example.com"
    (code,) = mailed_codes("thu.trang@example.com")
    fresh()
    mail = db.session.execute(select(MailMessage).order_by(MailMessage.id.desc())).scalars().first()
    assert code in mail.text_body and code in (mail.html_body or "")
    voucher = claims.claim_gift(gift_of(gift_id), code)
    assert voucher.held_by is None
    assert refusal(claims.claim_gift, gift_of(gift_id), code).code == "gift_claimed"


def test_a_phone_gifts_code_goes_to_the_brands_provider_through_the_outbox(send, gift_of):
    gift_id = send(phone="0912 345 678")
    masked = claims.request_claim_code(gift_of(gift_id))
    assert masked.startswith("+84") and masked.endswith("678") and "2345" not in masked
    claims.request_claim_code(gift_of(gift_id))
    first, second = texted_codes("+84912345678")
    fresh()
    event = db.session.execute(select(OutboxMessage).order_by(OutboxMessage.id.desc())).scalars().first()
    assert event.payload["gift_id"] == gift_id and event.payload["link"] is None
    assert event.payload["language"] == "vi"
    if first != second:  # a new code replaces the previous one
        assert refusal(claims.claim_gift, gift_of(gift_id), first).code == "code_invalid"
    assert claims.claim_gift(gift_of(gift_id), second).held_by is None


def test_five_wrong_codes_lock_until_a_new_code_is_sent(send, gift_of):
    gift_id = send(email="lan@example.com")
    claims.request_claim_code(gift_of(gift_id))
    (code,) = mailed_codes("lan@example.com")
    for left in (4, 3, 2, 1):
        error = refusal(claims.claim_gift, gift_of(gift_id), wrong(code))
        assert (error.code, error.status, error.details) == ("code_invalid", 422, {"tries_left": left})
    error = refusal(claims.claim_gift, gift_of(gift_id), wrong(code))  # the fifth
    assert (error.code, error.status) == ("code_locked", 409)
    # Locked: even the right code is refused now.
    assert refusal(claims.claim_gift, gift_of(gift_id), code).code == "code_locked"

    claims.request_claim_code(gift_of(gift_id))
    new = mailed_codes("lan@example.com")[-1]
    if new != code:
        assert refusal(claims.claim_gift, gift_of(gift_id), code).code == "code_invalid"
    assert claims.claim_gift(gift_of(gift_id), new).held_by is None


def test_an_expired_code_is_refused_and_a_fresh_one_works(send, gift_of, clock):
    gift_id = send(email="lan@example.com")
    claims.request_claim_code(gift_of(gift_id))
    (code,) = mailed_codes("lan@example.com")
    clock.advance(minutes=11)
    error = refusal(claims.claim_gift, gift_of(gift_id), code)
    assert (error.code, error.status) == ("code_expired", 422)
    claims.request_claim_code(gift_of(gift_id))
    assert claims.claim_gift(gift_of(gift_id), mailed_codes("lan@example.com")[-1]).held_by is None


def test_a_code_is_good_until_its_tenth_minute(send, gift_of, clock):
    gift_id = send(email="lan@example.com")
    claims.request_claim_code(gift_of(gift_id))
    (code,) = mailed_codes("lan@example.com")
    clock.advance(minutes=9, seconds=50)
    assert claims.claim_gift(gift_of(gift_id), code).held_by is None


def test_the_sixth_code_for_a_gift_is_429(send, gift_of):
    gift_id = send(email="lan@example.com")
    for _ in range(5):
        claims.request_claim_code(gift_of(gift_id))
    error = refusal(claims.request_claim_code, gift_of(gift_id))
    assert (error.code, error.status) == ("too_many_codes", 429)
    assert len(mailed_codes("lan@example.com")) == 5
    other = send(email="lan@example.com")  # the limit is per gift
    claims.request_claim_code(gift_of(other))


def test_a_code_opens_only_its_own_gift(send, gift_of):
    first = send(email="lan@example.com")
    second = send(email="lan@example.com")
    claims.request_claim_code(gift_of(first))
    (code,) = mailed_codes("lan@example.com")
    claims.request_claim_code(gift_of(second))
    if mailed_codes("lan@example.com")[-1] != code:
        assert refusal(claims.claim_gift, gift_of(second), code).code == "code_invalid"
    # A gift whose code was never asked for is not claimed with another gift's code.
    third = send(email="lan@example.com")
    assert refusal(claims.claim_gift, gift_of(third), code).code == "code_invalid"
    assert claims.claim_gift(gift_of(first), code).held_by is None


def test_a_resend_to_a_corrected_address_kills_the_old_addresss_code(api, send, gift_of):
    gift_id = send(email="lan@exmaple.com")
    claims.request_claim_code(gift_of(gift_id))
    (old,) = mailed_codes("lan@exmaple.com")
    assert api.post(f"/gifts/{gift_id}/resend", {"email": "lan@example.com"}).status_code == 200
    assert refusal(claims.claim_gift, gift_of(gift_id), old).code == "code_invalid"
    assert claims.request_claim_code(gift_of(gift_id)) == "l***@example.com"
    assert claims.claim_gift(gift_of(gift_id), mailed_codes("lan@example.com")[-1]).held_by is None


def test_a_lixi_code_proves_one_contact_only(api, brand, make_offer, gift_of):
    card = make_offer(kind="gift_card", value=100_000)
    body = {"offer_id": card["id"], "split": {"count": 2, "total": 20_000}}
    gift_id = api.post("/gifts", body).get_json()["id"]
    assert refusal(claims.request_claim_code, gift_of(gift_id), "not a contact").code == "invalid_request"
    assert claims.request_claim_code(gift_of(gift_id), "0912345678").endswith("678")
    (code,) = texted_codes("+84912345678")
    error = refusal(claims.claim_envelope, gift_of(gift_id), "+84987654321", code, "Bình")
    assert error.code == "code_invalid"
    envelope = claims.claim_envelope(gift_of(gift_id), "091 234 5678", code, "An")
    assert envelope.amount == 10_000 and envelope.claimer_contact == "+84912345678"


def test_a_recipient_reached_by_a_corrected_phone_can_claim_with_it(api, send, gift_of):
    # The email was mistyped; the sender resends to the phone, where the recipient gets the link.
    gift_id = send(email="lan@exmaple.com")
    assert api.post(f"/gifts/{gift_id}/resend", {"phone": "0907 654 321"}).status_code == 200
    masked = claims.request_claim_code(gift_of(gift_id), "0907 654 321")
    assert masked.endswith("321"), f"the code went to {masked}, not the phone the gift was resent to"
    (code,) = texted_codes("+84907654321")
    assert claims.claim_gift(gift_of(gift_id), code).held_by is None
