"""Gift mail end to end: a real RQ worker on real Redis delivers to a local SMTP server (aiosmtpd);
the mail is in the recipient's language with the card and the claim link, the link opens the claim
page, the code mail's code claims the gift, and a resend reaches the corrected address."""

from __future__ import annotations

import re
from collections.abc import Iterator
from email.message import EmailMessage
from urllib.parse import urlsplit

import pytest
from flask import Flask
from flask.testing import FlaskClient

from harness.localsmtp import Inbox, html_of, text_of
from lixi import jobs
from lixi.extensions import db
from tests.conftest import fresh_app
from tests.vouchers.merchant_helpers import form_token

BASE = "https://lixi.example.vn"
CLAIM_LINK = re.compile(re.escape(BASE) + r"/g/[A-Za-z0-9._~-]+")


@pytest.fixture
def app(migrated: str, redis_url: str, inbox: Inbox, tmp_path) -> Iterator[Flask]:
    """Mail goes to the local SMTP server; links are absolute on a public address."""
    overrides = {
        "SMTP_URL": inbox.url,
        "MAIL_RETRY_BASE_SECONDS": 0.01,
        "MAIL_TIMEOUT_SECONDS": 2.0,
        "MAIL_FILE_DIR": str(tmp_path / "mail"),
        "PUBLIC_BASE_URL": BASE,
    }
    with fresh_app(migrated, redis_url, **overrides) as app:
        yield app


def work(app: Flask) -> None:
    """The job worker, in this process, until the queue is empty: it sends what was queued."""
    jobs.work(app, burst=True, in_process=True)


def received(inbox: Inbox, to: str) -> list[EmailMessage]:
    return [message for message in inbox.messages if message["To"] == to]


def send_gift(api, make_offer, **body: object) -> dict:
    offer = make_offer(name="Thẻ quà Tết", kind="gift_card", value=200000)
    response = api.post("/gifts", {"offer_id": offer["id"], "design": "tet", **body})
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def claim_path(message: EmailMessage, gift: dict) -> str:
    """The claim link of a gift mail: the gift's, in the text and in the HTML alike; its path."""
    links = set(CLAIM_LINK.findall(text_of(message)))
    assert links == {gift["claim_url"]}, links
    assert gift["claim_url"] in html_of(message)
    return urlsplit(gift["claim_url"]).path


# Each language's subject and words of the gift mail; the first word is never in the other's.
SUBJECTS = {"vi": "Minh gửi tặng bạn một món quà", "en": "Minh sent you a gift"}
WORDS = {
    "vi": ("Mở quà", "Chào Lan,", "Minh đã gửi tặng bạn một món quà."),
    "en": ("Open your gift", "Hello Lan,", "Minh sent you a gift."),
}


@pytest.mark.parametrize("language", ["vi", "en"])
def test_a_gift_mail_arrives_in_the_recipients_language_and_its_link_opens_the_claim_page(
    app, api, client: FlaskClient, make_offer, inbox, language
):
    gift = send_gift(
        api,
        make_offer,
        sender={"name": "Minh"},
        recipient={"name": "Lan", "email": "lan@example.vn", "language": language},
        message="Chúc mừng năm mới!",
    )
    assert gift["status"] == "sent"
    work(app)

    (mail,) = received(inbox, "lan@example.vn")
    assert mail.get_body(("plain",)) is not None and mail.get_body(("html",)) is not None
    text, html = text_of(mail), html_of(mail)
    assert "Chúc mừng năm mới!" in text and "Chúc mừng năm mới!" in html
    assert mail["Subject"] == SUBJECTS[language]
    # The card, by its absolute URL (mail has no page to resolve a path against), and it is there.
    card = re.search(r'<img src="(' + re.escape(BASE) + r'/static/gifting/cards/tet\.(?:png|svg))"', html)
    assert card, html
    picture = client.get(urlsplit(card.group(1)).path)
    assert picture.status_code == 200 and picture.mimetype.startswith("image/")
    for word in WORDS[language]:
        assert word in text and word in html, (word, text)
    other = WORDS["en" if language == "vi" else "vi"][0]
    assert other not in text and other not in html  # and not the other language's

    path = claim_path(mail, gift)
    assert api.get(f"/gifts/{gift['id']}").get_json()["status"] == "sent"  # nobody opened it yet
    page = client.get(path)
    assert page.status_code == 200 and "Chúc mừng năm mới!" in page.get_data(as_text=True)
    assert api.get(f"/gifts/{gift['id']}").get_json()["status"] == "opened"
    assert client.get(path[:-2] + "xx").status_code == 404  # a link with a broken token opens nothing


def test_the_code_mail_claims_the_gift_and_a_wrong_code_does_not(app, api, client, make_offer, inbox):
    gift = send_gift(api, make_offer, recipient={"name": "Lan", "email": "lan@example.vn"})
    work(app)
    (mail,) = received(inbox, "lan@example.vn")
    path = claim_path(mail, gift)

    token = form_token(client.get(path).get_data(as_text=True))
    asked = client.post(f"{path}/code", data={"csrf_token": token})
    assert asked.status_code in (200, 302, 303), asked.get_data(as_text=True)
    work(app)
    first, second = received(inbox, "lan@example.vn")
    assert second["Message-ID"] != first["Message-ID"]
    # In the gift's language (Vietnamese by default), the code first in the subject and in both parts.
    subject = re.fullmatch(r"(\d{6}) là mã để mở quà của bạn", second["Subject"])
    assert subject, second["Subject"]
    code = subject.group(1)
    assert code in text_of(second) and code in html_of(second)

    wrong = f"{(int(code) + 1) % 1_000_000:06d}"
    refused = client.post(f"{path}/claim", data={"csrf_token": token, "code": wrong})
    assert refused.status_code in (409, 422), refused.status_code
    assert api.get(f"/gifts/{gift['id']}").get_json()["status"] == "opened"

    claimed = client.post(f"{path}/claim", data={"csrf_token": token, "code": code}, follow_redirects=True)
    assert claimed.status_code == 200, claimed.get_data(as_text=True)
    assert api.get(f"/gifts/{gift['id']}").get_json()["status"] == "claimed"


def test_a_resend_to_a_corrected_address_arrives_there_and_is_recorded(app, api, make_offer, inbox):
    gift = send_gift(api, make_offer, recipient={"name": "Lan", "email": "lan@exampel.vn"})
    work(app)
    assert len(received(inbox, "lan@exampel.vn")) == 1

    resent = api.post(f"/gifts/{gift['id']}/resend", {"email": "lan@example.vn"})
    assert resent.status_code == 200, resent.get_json()
    work(app)
    (mail,) = received(inbox, "lan@example.vn")
    assert len(received(inbox, "lan@exampel.vn")) == 1  # nothing more to the wrong address
    claim_path(mail, gift)

    # The suite's requests share one app context: end its read snapshot to see the worker's writes.
    db.session.commit()
    db.session.expire_all()
    after = api.get(f"/gifts/{gift['id']}").get_json()
    assert after["recipient"]["email"] == "lan@example.vn"
    deliveries = [(d["kind"], d["channel"], d["to"], d["status"]) for d in after["deliveries"]]
    assert deliveries == [
        ("gift", "email", "lan@exampel.vn", "sent"),  # the server took both: each mail is "sent"
        ("resend", "email", "lan@example.vn", "sent"),
    ]
