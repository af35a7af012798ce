"""After a claim the recipient is sent their voucher's own page, so they find it on any device (the
claim page shows it only to the device that claimed)."""

from __future__ import annotations

from urllib.parse import urlsplit

from gifting import claims
from gifting.queries import get_gift
from tests.gifting.test_states import code_in, events, mails_to, send
from vouchers.service import voucher_token


def test_a_claimed_gift_mails_its_voucher_page_to_the_proven_address(api, client, brand, offer):
    gift = send(api, offer_id=offer["id"], recipient={"email": "lan@example.com", "language": "en"})
    claims.request_claim_code(get_gift(brand.id, gift["id"]))
    assert [m.kind for m in mails_to("lan@example.com")] == ["gift", "gift"]  # the gift, the code
    voucher = claims.claim_gift(
        get_gift(brand.id, gift["id"]), code_in(mails_to("lan@example.com")[-1].text_body)
    )

    after = mails_to("lan@example.com")[-1]
    assert "Show my voucher" in after.text_body and after.subject.startswith("Your gift from")
    link = next(word for word in after.text_body.split() if "/v/" in word)
    path = urlsplit(link).path
    assert path == f"/v/{voucher_token(voucher.code)}"  # the new code's page, not the sender's
    assert client.get(path).status_code == 200
    kinds = [d["kind"] for d in api.get(f"/gifts/{gift['id']}").get_json()["deliveries"]]
    assert kinds == ["gift", "code", "voucher"]


def test_an_envelope_claimed_by_phone_sends_the_voucher_link_as_a_text(api, brand, make_offer):
    card = make_offer(name="Lì xì", kind="gift_card", value=100_000)
    gift = send(api, offer_id=card["id"], split={"count": 2, "total": 20_000, "mode": "equal"})
    claims.request_claim_code(get_gift(brand.id, gift["id"]), "0912 000 009")
    (code_text,) = [e for e in events("gift.delivery_requested") if e["kind"] == "code"]
    claims.claim_envelope(get_gift(brand.id, gift["id"]), "0912000009", code_in(code_text["text"]), "Bình")

    (voucher_text,) = [e for e in events("gift.delivery_requested") if e["kind"] == "voucher"]
    assert voucher_text["phone"] == "+84912000009" and "/v/" in voucher_text["link"]
    assert voucher_text["link"] in voucher_text["text"]


def test_a_link_only_gift_sends_nothing_after_its_claim(api, brand, offer):
    gift = send(api, offer_id=offer["id"], recipient={"name": "Lan"})
    claims.claim_gift(get_gift(brand.id, gift["id"]))
    assert events("gift.delivery_requested") == []
    assert [d["kind"] for d in api.get(f"/gifts/{gift['id']}").get_json()["deliveries"]] == ["gift"]
