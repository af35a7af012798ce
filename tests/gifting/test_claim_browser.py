"""The claim page in headless Chromium on a phone-sized screen: a gift made by the API is mailed
through the job worker to a local SMTP server; its link opens the page, the envelope opens on the
card, the code from the second mail claims the gift, and the voucher's QR shows. axe-core and the
CSP are checked on each state of the page."""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from email.message import EmailMessage
from pathlib import Path

import pytest
from flask import Flask
from werkzeug.serving import make_server

from harness.localsmtp import Inbox, text_of
from lixi import jobs
from lixi.extensions import db
from tests.browser import assert_accessible, chromium, watch
from tests.conftest import fresh_app

pytestmark = pytest.mark.slow
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
PHONE = {"width": 390, "height": 844}
CODE = re.compile(r"\b(\d{6})\b")


@pytest.fixture
def app(migrated: str, redis_url: str, inbox: Inbox, tmp_path) -> Iterator[Flask]:
    overrides = {"SMTP_URL": inbox.url, "MAIL_TIMEOUT_SECONDS": 5.0, "MAIL_FILE_DIR": str(tmp_path / "mail")}
    with fresh_app(migrated, redis_url, **overrides) as app:
        yield app


@pytest.fixture
def served(app: Flask) -> Iterator[str]:
    """The test's app on a real port (werkzeug in a thread: the job worker runs in this process, so
    the mail goes out when the test says); the mail's links point at it."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{server.server_port}"
    app.config["PUBLIC_BASE_URL"] = url
    yield url
    server.shutdown()
    thread.join(timeout=5)


def deliver(app: Flask, inbox: Inbox, to: str, count: int) -> EmailMessage:
    """Run the job worker until the queue is empty; the newest of the `count` mails to `to`."""
    jobs.work(app, burst=True, in_process=True)
    mails = [message for message in inbox.messages if message["To"] == to]
    assert len(mails) == count, [message["Subject"] for message in mails]
    return mails[-1]


def test_a_recipient_opens_the_envelope_and_claims_with_the_code_from_the_mail(
    app, served, inbox, api, gift_offer
):
    body = {
        "offer_id": gift_offer["id"],
        "sender": {"name": "Minh"},
        "recipient": {"name": "Lan", "email": "lan@example.vn"},
        "message": "Chúc mừng năm mới! An khang thịnh vượng.",
        "design": "tet",
    }
    gift = api.post("/gifts", body).get_json()
    gift_mail = deliver(app, inbox, "lan@example.vn", 1)
    link = re.search(rf"{re.escape(served)}/g/\S+", text_of(gift_mail)).group(0)
    assert link == gift["claim_url"]

    ARTIFACTS.mkdir(exist_ok=True)
    with chromium() as browser, browser.new_context(viewport=PHONE, locale="vi-VN") as context:
        page = context.new_page()
        watched = watch(page)
        page.goto(link)
        assert page.locator("h1").inner_text() == "Quà tặng từ Minh"
        card = page.locator(".gift-card")
        assert not card.is_visible()  # still in its envelope
        assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
        assert_accessible(page, "the closed envelope")
        page.screenshot(path=str(ARTIFACTS / "gift-envelope.png"), full_page=True)

        page.get_by_text("Mở bao lì xì").click()
        card.wait_for(state="visible")
        assert page.locator("[data-testid=gift-message]").inner_text() == body["message"]
        assert page.locator("[data-testid=gift-value]").inner_text() == "500.000\xa0₫"
        page.wait_for_function("() => document.querySelector('.gift-card-art').naturalWidth > 0")
        page.wait_for_timeout(800)  # the card's rise has ended: axe reads the colours as they stay
        assert_accessible(page, "the open card")
        page.screenshot(path=str(ARTIFACTS / "gift-card.png"), full_page=True)

        page.get_by_role("button", name="Gửi mã cho tôi").click()
        page.locator("[data-testid=code-sent]").wait_for()
        assert "l***@example.vn" in page.locator("[data-testid=code-sent]").inner_text()
        code_mail = deliver(app, inbox, "lan@example.vn", 2)
        code = CODE.search(text_of(code_mail)).group(1)
        page.get_by_label("Mã 6 chữ số").fill(code)
        assert_accessible(page, "the code form")
        page.get_by_role("button", name="Nhận quà").click()

        page.locator("[data-testid=claimed]").wait_for()
        page.wait_for_function("() => document.querySelector('[data-testid=voucher-qr]').naturalWidth > 0")
        assert page.url == link  # back on the claim page, which now shows the voucher
        assert page.locator("[data-testid=claimed] h2").inner_text() == "Món quà là của bạn!"
        assert_accessible(page, "the claimed voucher")
        page.screenshot(path=str(ARTIFACTS / "gift-claimed.png"), full_page=True)

        page.reload()  # this phone remembers what it claimed
        assert page.locator("[data-testid=voucher-qr]").is_visible()
        page.get_by_role("link", name="Mở voucher").click()
        page.wait_for_url("**/v/**")
        assert page.locator("[data-testid=status]").inner_text() == "Sẵn sàng sử dụng"
        watched.check()

    db.session.commit()  # end the test's snapshot: the server's threads claimed it
    db.session.expire_all()
    assert api.get(f"/gifts/{gift['id']}").get_json()["status"] == "claimed"


def test_without_javascript_the_envelope_opens_and_the_gift_is_claimed(app, served, api, gift_offer):
    body = {"offer_id": gift_offer["id"], "recipient": {"name": "Lan"}, "design": "birthday"}
    gift = api.post("/gifts", body).get_json()  # no address: the link is the delivery
    with chromium() as browser, browser.new_context(viewport=PHONE, java_script_enabled=False) as context:
        page = context.new_page()
        watched = watch(page)
        page.goto(gift["claim_url"] + "?lang=en")
        assert page.locator("h1").inner_text() == "A gift from Cà Phê Sữa Đá"
        page.get_by_text("Open the envelope").click()  # a <details>: no script needed
        page.locator(".gift-card").wait_for(state="visible")
        page.get_by_role("button", name="Claim my gift").click()
        page.locator("[data-testid=voucher-qr]").wait_for()
        assert page.locator("[data-testid=claimed] h2").inner_text() == "The gift is yours!"
        assert page.locator("[data-testid=voucher-qr]").evaluate("img => img.naturalWidth") > 0
        watched.check()


def test_a_lixi_is_opened_by_two_people_and_the_board_shows_them(app, served, inbox, api, gift_offer):
    body = {
        "offer_id": gift_offer["id"],
        "sender": {"name": "Bà Ngoại"},
        "design": "tet",
        "message": "Lì xì đầu năm",
        "split": {"count": 4, "total": 200000, "mode": "random"},
    }
    gift = api.post("/gifts", body).get_json()
    with chromium() as browser, browser.new_context(viewport=PHONE, locale="vi-VN") as context:
        page = context.new_page()
        watched = watch(page)
        for count, (name, email) in enumerate((("An", "an@example.vn"), ("Bình", "binh@example.vn")), 1):
            context.clear_cookies()  # another phone
            page.goto(gift["claim_url"])
            assert page.title() == "Lì xì từ Bà Ngoại · Cà Phê Sữa Đá"
            page.get_by_text("Mở bao lì xì").click()
            page.get_by_label("Tên của bạn (hiện trên bảng lì xì)").fill(name)
            page.get_by_label("Email hoặc số điện thoại của bạn").fill(email)
            page.get_by_role("button", name="Gửi mã cho tôi").click()
            page.locator("[data-testid=code-sent]").wait_for()
            code = CODE.search(text_of(deliver(app, inbox, email, 1))).group(1)
            page.get_by_label("Mã 6 chữ số").fill(code)
            page.get_by_role("button", name="Mở bao lì xì của tôi").click()
            page.locator("[data-testid=claimed]").wait_for()
            assert page.locator("[data-testid=claimed] h2").inner_text().startswith("Bạn nhận được ")
            left = page.locator("[data-testid=envelopes-left]").inner_text()
            assert left == f"Còn {4 - count} trên 4 bao lì xì"
        board = page.locator("[data-testid=board]").inner_text()
        assert "An" in board and "Bình" in board and board.count("chưa mở") == 2
        assert page.locator(".lixi-envelope.is-mine").count() == 1
        assert_accessible(page, "a lì xì's board")
        page.screenshot(path=str(ARTIFACTS / "gift-lixi-board.png"), full_page=True)
        watched.check()
