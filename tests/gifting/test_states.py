"""A gift's states through the API, the sweep and the claim service: scheduled → sent at its time,
sent → opened on the first look at the claim page, claimed under a new code (the sender's code
dead from that moment), with their outbox events and audit rows."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit

import pytest
from sqlalchemy import select

from gifting import claims
from gifting.expiry import run_gift_sweep
from gifting.queries import get_gift, gifts_of_member
from lixi.audit import list_audit_events
from lixi.errors import DomainError
from lixi.extensions import db
from lixi.models import MailMessage, OutboxMessage
from tests.conftest import error_code
from vouchers.models import Voucher


def fresh() -> None:
    """End the test's read snapshot and forget its objects, to see what the services wrote."""
    db.session.commit()
    db.session.expire_all()


def events(topic: str) -> list[dict]:
    fresh()
    query = select(OutboxMessage).where(OutboxMessage.topic == topic).order_by(OutboxMessage.id)
    return [message.payload for message in db.session.execute(query).scalars()]


def mails_to(address: str) -> list[MailMessage]:
    fresh()
    query = select(MailMessage).where(MailMessage.to_address == address).order_by(MailMessage.id)
    return list(db.session.execute(query).scalars())


def code_in(text: str) -> str:
    match = re.search(r"(?<![\d.,])\d{6}(?![\d.,])", text)
    assert match, text
    return match.group(0)


def send(api, **body) -> dict:
    response = api.post("/gifts", body)
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def when(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def claim_with_mailed_code(brand_id: int, gift_id: int, email: str) -> Voucher:
    claims.request_claim_code(get_gift(brand_id, gift_id))
    code = code_in(mails_to(email)[-1].text_body)
    return claims.claim_gift(get_gift(brand_id, gift_id), code)


@pytest.fixture
def member(api) -> dict:
    body = {"external_id": "m-1", "name": "An", "email": "an@example.com", "phone": "0901000001"}
    response = api.post("/members", body)
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def test_a_scheduled_gift_is_sent_by_the_sweep_at_its_time(api, brand, offer, clock):
    send_at = clock.now + timedelta(hours=2)
    gift = send(
        api, offer_id=offer["id"], recipient={"email": "lan@example.com"}, send_at=send_at.isoformat()
    )
    assert gift["status"] == "scheduled" and gift["sent_at"] is None and gift["expires_at"] is None
    assert when(gift["send_at"]) == send_at and gift["deliveries"] == []
    assert mails_to("lan@example.com") == [] and events("gift.sent") == []
    with pytest.raises(DomainError) as refused:
        claims.claim_gift(get_gift(brand.id, gift["id"]), None)
    assert refused.value.code == "not_sent_yet"

    clock.advance(hours=1, minutes=59)
    run_gift_sweep()
    assert api.get(f"/gifts/{gift['id']}").get_json()["status"] == "scheduled"  # not yet

    clock.advance(minutes=2)
    run_gift_sweep()
    run_gift_sweep()  # a second sweep sends nothing twice
    seen = api.get(f"/gifts/{gift['id']}").get_json()
    assert seen["status"] == "sent" and when(seen["sent_at"]) == clock.now
    assert when(seen["expires_at"]) - clock.now >= timedelta(days=30)
    assert [d["kind"] for d in seen["deliveries"]] == ["gift"]
    (mail,) = mails_to("lan@example.com")
    link = urlsplit(seen["claim_url"]).path  # the host is PUBLIC_BASE_URL's (unset in tests)
    assert link in mail.text_body and link in (mail.html_body or "")
    (event,) = events("gift.sent")
    assert event["gift_id"] == gift["id"]


def test_send_at_without_an_offset_is_the_brands_local_time(api, offer, clock):
    gift = send(api, offer_id=offer["id"], recipient={"name": "Lan"}, send_at="2030-01-02T09:00:00")
    assert when(gift["send_at"]) == datetime(2030, 1, 2, 2, 0, tzinfo=UTC)  # 09:00 in UTC+7
    assert gift["status"] == "scheduled"


def test_the_first_look_at_the_claim_page_opens_the_gift_once(api, client, offer):
    gift = send(api, offer_id=offer["id"], recipient={"email": "lan@example.com"})
    path = urlsplit(gift["claim_url"]).path
    assert client.get(path).status_code == 200
    opened = api.get(f"/gifts/{gift['id']}").get_json()
    assert opened["status"] == "opened" and opened["opened_at"]
    assert client.get(path).status_code == 200
    assert api.get(f"/gifts/{gift['id']}").get_json()["opened_at"] == opened["opened_at"]
    assert [e["gift_id"] for e in events("gift.opened")] == [gift["id"]]


def test_open_gift_refuses_a_forged_token_and_marks_once(api, offer):
    gift = send(api, offer_id=offer["id"], recipient={"name": "Lan"})
    token = urlsplit(gift["claim_url"]).path.rsplit("/", 1)[-1]
    with pytest.raises(DomainError) as refused:
        claims.open_gift(token[:-1] + ("A" if token[-1] != "A" else "B"))
    assert refused.value.status == 404
    assert claims.open_gift(token).status == "opened"
    assert claims.open_gift(token).status == "opened"
    assert len(events("gift.opened")) == 1


def test_a_claim_hands_a_new_code_to_the_recipient_member_and_kills_the_senders(
    api, brand, offer, issue, merchant, member
):
    api.post("/members", {"external_id": "m-2", "name": "Lan", "email": "lan@example.com"})
    (voucher,) = issue(offer["id"], member_external_id="m-1")
    old = voucher["code"]
    gift = send(
        api,
        voucher_code=old,
        sender={"member_external_id": "m-1", "name": "An"},
        recipient={"name": "Lan", "email": "lan@example.com"},
    )
    # While the gift is open nobody can use the voucher, the sender included.
    validate = api.post("/vouchers/validate", {"code": old})
    assert validate.status_code == 409 and error_code(validate) == "held"
    redeem = api.post("/redemptions", {"code": old, "merchant_id": merchant["id"]})
    assert redeem.status_code == 409 and error_code(redeem) == "held"

    claimed = claim_with_mailed_code(brand.id, gift["id"], "lan@example.com")
    new = claimed.code
    assert new != old and claimed.held_by is None and claimed.member.external_id == "m-2"

    assert api.get(f"/vouchers/{old}").status_code == 404
    for path, body in (
        ("/vouchers/validate", {"code": old}),
        ("/vouchers/validate", {"code": voucher["token"]}),  # the old signed token (the old QR) too
        ("/redemptions", {"code": old, "merchant_id": merchant["id"]}),
    ):
        response = api.post(path, body)
        assert response.status_code == 404 and error_code(response) == "not_found", (
            path,
            response.get_json(),
        )
    fine = api.post("/vouchers/validate", {"code": new})
    assert fine.status_code == 200, fine.get_json()
    assert fine.get_json()["voucher"]["member_external_id"] == "m-2"
    assert api.post("/redemptions", {"code": new, "merchant_id": merchant["id"]}).status_code == 201

    seen = api.get(f"/gifts/{gift['id']}").get_json()
    assert seen["status"] == "claimed" and seen["claimed_at"]
    (event,) = events("gift.claimed")
    assert event["gift_id"] == gift["id"]
    with pytest.raises(DomainError) as refused:
        claims.claim_gift(get_gift(brand.id, gift["id"]), None)
    assert refused.value.code == "gift_claimed"


def test_a_recipient_found_by_phone_gets_it_in_their_wallet(api, brand, offer, member):
    gift = send(api, offer_id=offer["id"], recipient={"phone": "+84 90 100 0001"})
    assert claims.needs_code(get_gift(brand.id, gift["id"]))
    claims.request_claim_code(get_gift(brand.id, gift["id"]))
    (event,) = [e for e in events("gift.delivery_requested") if e["kind"] == "code"]
    assert event["phone"] == "+84901000001" and event["gift_id"] == gift["id"]
    voucher = claims.claim_gift(get_gift(brand.id, gift["id"]), code_in(event["text"]))
    assert voucher.member_id == member["id"]  # stored as 0901000001: the same number


def test_a_link_only_gift_is_claimed_without_a_code_by_whoever_has_the_link(api, brand, offer, member):
    gift = send(api, offer_id=offer["id"], recipient={"name": "Ai đó"})
    assert not claims.needs_code(get_gift(brand.id, gift["id"]))
    voucher = claims.claim_gift(get_gift(brand.id, gift["id"]), None)
    assert voucher.member_id is None and voucher.held_by is None
    assert api.post("/vouchers/validate", {"code": voucher.code}).status_code == 200


def test_a_gift_with_an_email_is_not_claimed_without_its_code(api, brand, offer):
    gift = send(api, offer_id=offer["id"], recipient={"email": "lan@example.com"})
    assert claims.needs_code(get_gift(brand.id, gift["id"]))
    with pytest.raises(DomainError) as refused:
        claims.claim_gift(get_gift(brand.id, gift["id"]), None)
    assert (refused.value.code, refused.value.status) == ("code_required", 422)
    assert api.get(f"/gifts/{gift['id']}").get_json()["status"] == "sent"


def test_each_change_is_audited_and_published(api, brand, offer, clock):
    gift = send(api, offer_id=offer["id"], recipient={"email": "lan@example.com"})
    claims.open_gift(urlsplit(gift["claim_url"]).path.rsplit("/", 1)[-1])
    claim_with_mailed_code(brand.id, gift["id"], "lan@example.com")
    cancelled = send(api, offer_id=offer["id"], recipient={"name": "B"})
    assert api.post(f"/gifts/{cancelled['id']}/cancel", {}).status_code == 200
    expiring = send(api, offer_id=offer["id"], recipient={"name": "C"}, claim_days=1)
    clock.advance(days=2)
    run_gift_sweep()

    fresh()
    trail = [(e.action, e.subject_id) for e in reversed(list_audit_events(brand.id, action="gift"))]
    first = str(gift["id"])
    for action in ("gift.created", "gift.sent", "gift.opened", "gift.claimed"):
        assert (action, first) in trail, (action, trail)
    assert ("gift.cancelled", str(cancelled["id"])) in trail
    assert ("gift.expired", str(expiring["id"])) in trail
    assert ("gift.claimed", str(cancelled["id"])) not in trail

    for topic, gift_ids in (
        ("gift.sent", [gift["id"], cancelled["id"], expiring["id"]]),
        ("gift.opened", [gift["id"]]),
        ("gift.claimed", [gift["id"]]),
        ("gift.cancelled", [cancelled["id"]]),
        ("gift.expired", [expiring["id"]]),
    ):
        assert [e["gift_id"] for e in events(topic)] == gift_ids, topic
    # A brand's gift has no one to go back to: "returned" says it was voided.
    (returned,) = events("gift.returned")
    assert returned["gift_id"] == expiring["id"] and returned["voided"] is True
    assert returned["returned_voucher_id"] is None


def test_the_mails_and_texts_speak_the_recipients_language(api, brand, offer):
    said = {}
    for language, phone in (("vi", "+84901000001"), ("en", "+84901000002")):
        email = f"{language}@example.com"
        recipient = {"name": "Lan", "email": email, "phone": phone, "language": language}
        gift = send(api, offer_id=offer["id"], sender={"name": "An"}, recipient=recipient, design="tet")
        claims.request_claim_code(get_gift(brand.id, gift["id"]))
        gift_mail, code_mail = mails_to(email)
        assert re.search(
            r"/static/gifting/cards/tet\.(png|svg)", gift_mail.html_body or ""
        )  # the card chosen
        # The gift's text (the claim code also goes to the phone: one code to every address).
        (text,) = [
            e for e in events("gift.delivery_requested") if e["phone"] == phone and e["kind"] == "gift"
        ]
        assert text["language"] == language
        code_subject = code_mail.subject.replace(code_in(code_mail.subject), "<code>")
        said[language] = (gift_mail.subject, code_subject, text["text"].replace(gift["claim_url"], "<link>"))
    for vi, en in zip(said["vi"], said["en"], strict=True):
        # Each of gifting/delivery.py's subjects and texts needs its msgid in the Vietnamese catalogue.
        assert vi != en and "gift" not in vi.lower(), f"untranslated in Vietnamese: {vi!r}"


def test_a_members_sent_and_received_gifts(api, brand, offer, issue, member):
    receiver = api.post("/members", {"external_id": "m-2", "email": "lan@example.com"}).get_json()
    (voucher,) = issue(offer["id"], member_external_id="m-1")
    gift = send(api, voucher_code=voucher["code"], recipient={"email": "lan@example.com"})
    assert gift["sender"]["member_external_id"] == "m-1"  # the voucher's owner, unnamed in the body
    claim_with_mailed_code(brand.id, gift["id"], "lan@example.com")
    other = send(api, offer_id=offer["id"], recipient={"name": "B"})

    fresh()
    sent_by_1, received_by_1 = gifts_of_member(brand.id, member["id"])
    sent_by_2, received_by_2 = gifts_of_member(brand.id, receiver["id"])
    assert ([g.id for g in sent_by_1], received_by_1) == ([gift["id"]], [])
    assert (sent_by_2, [g.id for g in received_by_2]) == ([], [gift["id"]])
    listed = api.get("/gifts?member_external_id=m-2").get_json()["gifts"]
    assert [g["id"] for g in listed] == [gift["id"]] and other["id"] != gift["id"]
    missing = api.get("/gifts?member_external_id=nobody")
    assert missing.status_code == 404 and error_code(missing) == "not_found"


def test_a_scheduled_gifts_link_opens_nothing_before_its_time(api, brand, offer, clock):
    send_at = (clock.now + timedelta(days=1)).isoformat()
    gift = send(api, offer_id=offer["id"], recipient={"name": "Lan"}, send_at=send_at)
    token = urlsplit(gift["claim_url"]).path.rsplit("/", 1)[-1]
    assert claims.open_gift(token).status == "scheduled"
    assert events("gift.opened") == []
    clock.advance(days=1)
    run_gift_sweep()
    assert claims.open_gift(token).status == "opened"


def test_what_the_sender_typed_is_escaped_in_the_mail(api, offer):
    recipient = {"name": "<b>Lan</b>", "email": "lan@example.com"}
    sender = {"name": "An\r\nBcc: evil@example.com"}
    send(api, offer_id=offer["id"], sender=sender, recipient=recipient, message="<script>alert(1)</script>")
    (mail,) = mails_to("lan@example.com")
    assert "<script>" not in mail.html_body and "&lt;script&gt;" in mail.html_body
    assert "<b>Lan</b>" not in mail.html_body
    assert "\n" not in mail.subject and "\r" not in mail.subject  # no header of the sender's making


def test_a_held_voucher_is_not_voided_behind_its_gifts_back(api, brand, offer):
    gift = send(api, offer_id=offer["id"], recipient={"name": "Lan"})
    fresh()
    held = db.session.execute(select(Voucher).where(Voucher.held_by == f"gift:{gift['id']}")).scalar_one()
    response = api.post(f"/vouchers/{held.code}/void", {})
    if response.status_code == 200:  # voided: then the gift must not hand a dead voucher over
        with pytest.raises(DomainError):
            claims.claim_gift(get_gift(brand.id, gift["id"]), None)
        assert api.get(f"/gifts/{gift['id']}").get_json()["status"] != "claimed"
    else:  # refused like validate and redeem: cancel the gift instead
        assert response.status_code == 409 and error_code(response) == "held", response.get_json()
        assert claims.claim_gift(get_gift(brand.id, gift["id"]), None).status == "issued"
