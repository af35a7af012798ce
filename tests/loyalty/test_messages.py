"""Loyalty's messages end to end: a purchase event and the daily job's birthday send real mail to a
local SMTP server through the job worker; the unsubscribe link in the mail received stops the next
one; members with a phone get the same messages as `message.requested` events for SMS or Zalo."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime
from urllib.parse import urlsplit

import pytest
from flask import Flask

from harness.localredis import free_port
from harness.localsmtp import Inbox, html_of, text_of
from lixi import jobs
from lixi.extensions import db
from tests.conftest import fresh_app
from tests.loyalty.conftest import outbox
from tests.vouchers.merchant_helpers import form_token

BASE = "https://loyalty.example.vn"


@pytest.fixture
def inbox() -> Iterator[Inbox]:
    server = Inbox(free_port())
    yield server
    server.stop()


@pytest.fixture
def app(migrated: str, redis_url: str, inbox: Inbox) -> Iterator[Flask]:
    with fresh_app(migrated, redis_url, SMTP_URL=inbox.url, PUBLIC_BASE_URL=BASE) as app:
        yield app


def work(app: Flask) -> None:
    jobs.work(app, burst=True, in_process=True)


def subjects(inbox: Inbox) -> list[str]:
    return [message["Subject"] for message in inbox.messages]


def message_requests(brand_id: int) -> list[tuple[str, str]]:
    db.session.commit()  # a fresh read of the outbox
    return [(p["kind"], p["member_external_id"]) for p in outbox("message.requested", brand_id)]


def test_points_earned_and_birthday_mail_until_the_member_unsubscribes(
    app, client, clock, brand, make_programme, make_member, purchase, daily, inbox
):
    make_programme(birthday={"points": 200})
    clock.now = datetime(2030, 3, 14, 17, 5, tzinfo=UTC)  # 00:05 on 15 March in Asia/Ho_Chi_Minh
    make_member(
        "an", name="An", email="an@example.vn", phone="0901000001", birthday="1990-03-15", subscribed=True
    )
    make_member("binh", name="Bình", email="binh@example.vn", birthday="1991-03-15")  # not subscribed
    purchase("an", 500_000)  # 1 point per 10,000 ₫: 50 points
    purchase("binh", 500_000)
    daily()  # both birthdays today
    work(app)

    # Welcome to both (no consent needed); points and birthday only to the member who subscribed.
    assert sorted(subjects(inbox)) == sorted(
        [
            "Chào mừng bạn đến với Cà Phê Sữa Đá",
            "Chào mừng bạn đến với Cà Phê Sữa Đá",
            "Bạn vừa được cộng 50 điểm",
            "Cà Phê Sữa Đá chúc mừng sinh nhật bạn",
        ]
    )
    by_subject = {message["Subject"]: message for message in inbox.messages}
    earned = by_subject["Bạn vừa được cộng 50 điểm"]
    assert earned["To"] == "an@example.vn"
    assert "Số dư của bạn: 50 điểm." in text_of(earned) and "+50" in html_of(earned)
    greeting = by_subject["Cà Phê Sữa Đá chúc mừng sinh nhật bạn"]
    assert greeting["To"] == "an@example.vn" and "200" in text_of(greeting)
    assert f"{BASE}/me?t=" in html_of(greeting)  # the member's page
    assert ("points_earned", "an") in message_requests(brand.id)  # the SMS/Zalo twin, for the phone
    assert ("birthday", "an") in message_requests(brand.id)

    # Follow the unsubscribe link of the greeting as the member would: the page, then its button.
    assert greeting["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    link = re.search(rf"{re.escape(BASE)}/u/\S+", text_of(greeting)).group(0)
    assert greeting["List-Unsubscribe"].strip() == f"<{link}>"
    page = client.get(urlsplit(link).path)
    assert page.status_code == 200
    done = client.post(urlsplit(link).path, data={"csrf_token": form_token(page.get_data(as_text=True))})
    assert done.status_code == 200 and 'data-testid="unsubscribed"' in done.get_data(as_text=True)

    requested = len(message_requests(brand.id))
    purchase("an", 300_000)  # earns 30 points: no mail, no SMS any more
    work(app)
    assert len(inbox.messages) == 4
    assert len(message_requests(brand.id)) == requested
