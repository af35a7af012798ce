"""Loyalty's messages end to end: a purchase event and the daily job's birthday send real mail to a
local SMTP server through the job worker; the unsubscribe link in the mail received stops the next
one; members with a phone get the same messages as `message.requested` events for SMS or Zalo."""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from urllib.parse import urlsplit

import pytest
from flask import Flask
from sqlalchemy import select
from werkzeug.serving import make_server

from harness.localsmtp import Inbox, html_of, text_of
from lixi import jobs
from lixi.database import write_transaction
from lixi.extensions import db
from lixi.models import MailMessage, Member
from loyalty import messages
from tests.browser import assert_accessible, chromium, log_in_with_form, watch
from tests.conftest import fresh_app
from tests.loyalty.conftest import outbox
from tests.vouchers.merchant_helpers import PASSWORD, brand_slug, form_token, make_staff

BASE = "https://loyalty.example.vn"


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


@pytest.fixture
def served(app: Flask) -> Iterator[str]:
    """The test's app on a real port, for the browser: werkzeug in a thread (a gunicorn start costs
    seconds, and these pages need no second process)."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{server.server_port}"
    app.config["PUBLIC_BASE_URL"] = url  # the mail's links point here
    yield url
    server.shutdown()
    thread.join(timeout=5)


@pytest.mark.slow
def test_a_welcome_mail_read_in_the_dashboard_and_its_unsubscribe_page_in_a_browser(
    served, api, brand, make_programme, make_member
):
    make_programme()
    make_staff(api, "mail@cafe.vn", [], role="brand_admin")
    make_member("lan", name="Lan", email="lan@example.vn", subscribed=True)  # no worker: the mail waits
    with chromium() as browser, browser.new_context(locale="vi-VN") as context:
        page = context.new_page()
        watched = watch(page)
        page.goto(f"{served}/dashboard/mail")
        log_in_with_form(
            page, brand_slug(brand.id), "mail@cafe.vn", PASSWORD, "Đăng nhập", "**/dashboard/mail"
        )
        assert_accessible(page, "mail list")
        page.get_by_role("link", name="Chào mừng bạn đến với Cà Phê Sữa Đá").click()
        text = page.locator("[data-testid=mail-text]").inner_text()
        assert_accessible(page, "one mail")
        link = re.search(rf"{re.escape(served)}/u/\S+", text).group(0)
        watched.check()

        page.goto(link)  # as the member, from the mail
        assert_accessible(page, "unsubscribe page")
        page.get_by_role("button", name="Huỷ đăng ký").click()
        page.wait_for_selector("[data-testid=unsubscribed]")
        assert_accessible(page, "unsubscribed")
        watched.check()
    db.session.commit()  # end the test's snapshot: the server's threads wrote the change
    db.session.expire_all()
    assert api.get("/members/lan").get_json()["subscribed"] is False


def test_every_message_in_english_for_an_english_brand(app, make_brand):
    brand = make_brand("Pho Corner", locale="en")
    with write_transaction():
        member = Member(
            brand_id=brand.id,
            external_id="kim",
            name="Kim",
            email="kim@example.com",
            phone="0902",
            subscribed=True,
        )
        db.session.add(member)
        db.session.flush()
        messages.welcome(member, f"{BASE}/me?t=x")
        messages.points_earned(member, 1500, 12000)
        messages.birthday(member, "200 points")
        # Buckets end at the first instant after their last day: 31 March in Ho Chi Minh City.
        messages.points_expiring(member, 300, datetime(2030, 3, 31, 17, 0, tzinfo=UTC))
        messages.monthly_statement(member, "2030-02", f"{BASE}/statement", points=12000)
    db.session.commit()
    mails = db.session.execute(select(MailMessage).order_by(MailMessage.id)).scalars().all()
    assert [m.subject for m in mails] == [
        "Welcome to Pho Corner",
        "You earned 1,500 points",
        "Happy birthday from Pho Corner",
        "300 points expire on Mar 31, 2030",
        "Your points statement for February 2030",
    ]
    assert "Your balance: 12,000 points." in mails[1].text_body
    assert "Your birthday gift: 200 points" in mails[2].html_body
    assert f"{BASE}/statement" in mails[4].text_body and "Hello Kim," in mails[4].text_body
    assert all("/u/" in m.headers["List-Unsubscribe"] for m in mails)
    sms = outbox("message.requested", brand.id)
    assert [(s["kind"], s["phone"], s["language"]) for s in sms] == [
        (kind, "0902", "en")
        for kind in ("welcome", "points_earned", "birthday", "points_expiring", "monthly_statement")
    ]
    assert sms[1]["text"] == "Pho Corner: you earned 1,500 points; your balance is 12,000 points."
    assert sms[4]["link"] == f"{BASE}/statement"
