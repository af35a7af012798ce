"""Mail end to end: a real RQ worker on real Redis delivers to a local SMTP server (aiosmtpd); the
development backend writes .eml files; member mail carries a working one-click unsubscribe."""

from __future__ import annotations

import email
import email.policy
import re
import time
from collections.abc import Iterator
from urllib.parse import urlsplit

import pytest
from flask import Flask
from redis.exceptions import RedisError
from sqlalchemy import select

from harness.localredis import free_port
from harness.localsmtp import Inbox, html_of, text_of
from lixi import jobs, mail
from lixi.audit import list_audit_events
from lixi.database import write_transaction
from lixi.extensions import db
from lixi.mail import CANCELLED, FAILED, PENDING, SENT, queue_mail, queue_member_mail, sweep_mail
from lixi.models import MailMessage, Member
from tests.conftest import fresh_app
from tests.vouchers.merchant_helpers import form_token, logged_in, make_staff


@pytest.fixture
def smtp_port() -> int:
    return free_port()


@pytest.fixture
def app(migrated: str, redis_url: str, smtp_port: int, tmp_path) -> Iterator[Flask]:
    """Mail to the test's SMTP port (nothing listens until a test starts an Inbox on it), a tiny back-off."""
    overrides = {
        "SMTP_URL": f"smtp://127.0.0.1:{smtp_port}",
        "MAIL_RETRY_BASE_SECONDS": 0.01,
        "MAIL_TIMEOUT_SECONDS": 2.0,
        "MAIL_FILE_DIR": str(tmp_path / "mail"),
        "PUBLIC_BASE_URL": "https://lixi.example.vn",
    }
    with fresh_app(migrated, redis_url, **overrides) as app:
        yield app


@pytest.fixture
def inbox(smtp_port: int) -> Iterator[Inbox]:
    server = Inbox(smtp_port)
    yield server
    server.stop()


def work(app: Flask) -> None:
    jobs.work(app, burst=True, in_process=True)


def fresh() -> None:
    """End the test's read snapshot and forget its objects, to see the worker's writes."""
    db.session.commit()
    db.session.expire_all()


def mails() -> list[MailMessage]:
    fresh()
    return list(db.session.execute(select(MailMessage).order_by(MailMessage.id)).scalars())


def queue(brand_id: int, subject: str = "Xin chào", to: str = "lan@example.vn") -> int:
    with write_transaction():
        return queue_mail(brand_id, to, subject, "Nội dung", "<p>Nội dung</p>", "test")


def make_member(api, external_id: str = "m-1", **fields) -> Member:
    body = {"external_id": external_id, "name": "Lan", "email": f"{external_id}@example.vn", **fields}
    response = api.post("/members", body)
    assert response.status_code in (200, 201), response.get_json()
    fresh()
    member = db.session.execute(select(Member).where(Member.id == response.get_json()["id"])).scalar_one()
    return member


def queue_points_mail(member: Member, points: int = 50) -> int | None:
    with write_transaction():
        return queue_member_mail(
            member, "points_earned", "points_earned", f"+{points}", points=points, balance=points, link=None
        )


def test_a_committed_mail_is_received_once_and_a_rolled_back_one_never(app, brand, inbox):
    queue(brand.id, "Đã lưu")
    with pytest.raises(RuntimeError), write_transaction():
        queue_mail(brand.id, "lan@example.vn", "Bỏ đi", "x", None, "test")
        raise RuntimeError("the change fails: its mail goes with it")

    work(app)

    assert [m["Subject"] for m in inbox.messages] == ["Đã lưu"]
    received = inbox.messages[0]
    assert received["To"] == "lan@example.vn" and received["From"] == app.config["MAIL_FROM"]
    assert text_of(received).strip() == "Nội dung"
    assert html_of(received).strip() == "<p>Nội dung</p>"
    (row,) = mails()  # the rolled-back mail left no row
    assert (row.status, row.attempts, row.message_id) == (SENT, 1, received["Message-ID"])

    sweep_mail(grace_seconds=0)  # nothing pending: a sweep sends nothing twice
    mail.send_mail(row.id)  # nor does a duplicate job
    work(app)
    assert len(inbox.messages) == 1


def test_smtp_down_is_retried_with_backoff_and_delivered_when_it_is_back(app, brand, smtp_port):
    queue(brand.id, "Thử lại")
    work(app)  # nothing listens on the port: the try fails and is scheduled again
    (row,) = mails()
    assert (row.status, row.attempts) == (PENDING, 1)
    assert "Connection" in (row.last_error or "") and row.next_attempt_at is not None

    server = Inbox(smtp_port)
    try:
        # RQ's scheduler releases the retry once its whole second has begun.
        time.sleep(max(0.0, int(row.next_attempt_at.timestamp()) + 1 - time.time()) + 0.05)
        work(app)
        assert [m["Subject"] for m in server.messages] == ["Thử lại"]
    finally:
        server.stop()
    (row,) = mails()
    assert (row.status, row.attempts, row.last_error) == (SENT, 2, None)


def test_a_nudge_lost_with_redis_is_swept_up(app, brand, inbox, monkeypatch):
    def redis_down(*args, **kwargs):
        raise RedisError("Redis is down")

    monkeypatch.setattr(mail, "enqueue", redis_down)
    queue(brand.id, "Quét")  # commits although the nudge fails
    monkeypatch.undo()
    work(app)
    assert inbox.messages == []  # no job was queued

    assert sweep_mail(grace_seconds=60) == {"enqueued": 0}  # not overdue yet: the normal path's time
    assert sweep_mail(grace_seconds=0) == {"enqueued": 1}
    work(app)
    assert [m["Subject"] for m in inbox.messages] == ["Quét"]


def test_a_refused_recipient_fails_at_once(app, brand, smtp_port):
    server = Inbox(smtp_port, refuse=True)
    try:
        queue(brand.id, to="nobody@example.vn")
        work(app)
    finally:
        server.stop()
    (row,) = mails()
    assert (row.status, row.attempts, row.next_attempt_at) == (FAILED, 1, None)
    assert "550" in (row.last_error or "")


def test_without_smtp_mail_is_written_to_files_and_read_in_the_dashboard(
    app, api, brand, make_brand, tmp_path
):
    app.config["SMTP_URL"] = ""
    other = make_brand("Trà Sữa")
    queue(brand.id, "Thư của quán")
    queue(other.id, "Thư của quán khác")
    work(app)

    files = sorted((tmp_path / "mail").glob("*.eml"))
    assert len(files) == 2
    written = email.message_from_bytes(files[0].read_bytes(), policy=email.policy.default)
    assert written["Subject"] == "Thư của quán"
    assert text_of(written).strip() == "Nội dung"
    assert [m.status for m in mails()] == [SENT, SENT]
    own, others = mails()

    make_staff(api, "admin@cafe.vn", [], role="brand_admin")
    admin = logged_in(app, "dashboard", "admin@cafe.vn")
    listing = admin.get("/dashboard/mail").get_data(as_text=True)
    assert "Thư của quán" in listing and "Thư của quán khác" not in listing
    assert 'data-testid="mail-to-files"' in listing
    page = admin.get(f"/dashboard/mail/{own.id}")
    assert page.status_code == 200 and "Nội dung" in page.get_data(as_text=True)
    html = admin.get(f"/dashboard/mail/{own.id}/html")
    assert html.get_data(as_text=True) == "<p>Nội dung</p>"
    assert html.headers["Content-Security-Policy"].startswith("sandbox")
    assert admin.get(f"/dashboard/mail/{others.id}").status_code == 404  # another brand's mail
    assert admin.get(f"/dashboard/mail/{others.id}/html").status_code == 404
    assert app.test_client().get("/dashboard/mail").status_code == 302  # staff only: to the log-in


def test_member_mail_needs_an_email_and_consent(app, api, brand, inbox):
    unsubscribed = make_member(api, "m-1")
    no_email = make_member(api, "m-2", email=None, subscribed=True)
    assert unsubscribed.subscribed is False  # consent is not assumed
    audited = list_audit_events(brand.id, action="member.")
    consents = [(event.subject_id, event.data.get("subscribed")) for event in audited]
    assert (str(no_email.id), True) in consents and (str(unsubscribed.id), None) in consents
    assert queue_points_mail(unsubscribed) is None
    assert queue_points_mail(no_email) is None
    with write_transaction():  # a welcome needs no consent
        assert queue_member_mail(unsubscribed, "welcome", "welcome", "Hi", consent_required=False, link="x")
    work(app)
    assert [m["To"] for m in inbox.messages] == ["m-1@example.vn"]


@pytest.mark.parametrize(
    ("locale", "words"), [("vi", ("Số dư của bạn", "Huỷ đăng ký")), ("en", ("Your balance", "Unsubscribe"))]
)
def test_member_mail_is_in_the_brands_language_with_a_one_click_unsubscribe(
    app, client, make_brand, inbox, locale, words
):
    brand = make_brand("Phở 24", locale=locale)

    class Api:  # the brand's key
        def post(self, path, body):
            return client.post(f"/api/v1{path}", json=body, headers=brand.headers)

    member = make_member(Api(), "m-9", subscribed=True)
    assert member.subscribed is True
    assert queue_points_mail(member, 1200)
    work(app)
    (received,) = inbox.messages
    text = text_of(received)
    html = html_of(received)
    assert all(word in text and word in html for word in words)
    assert "1.200" in text if locale == "vi" else "1,200" in text

    # RFC 8058: the link in the header is the one in the body, and one POST of the form ends it.
    link = re.search(r"https://lixi\.example\.vn/u/\S+", text).group(0)
    assert received["List-Unsubscribe"].strip() == f"<{link}>"  # (folded onto its own line: RFC 5322)
    assert received["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert link in html
    path = urlsplit(link).path

    page = client.get(path)  # a link scanner's GET changes nothing
    assert page.status_code == 200 and 'data-testid="unsubscribe"' in page.get_data(as_text=True)
    fresh()
    assert db.session.get(Member, member.id).subscribed is True
    assert client.post(path, data={}).status_code == 400  # the page's button needs its CSRF token
    done = client.post(path, data={"csrf_token": form_token(page.get_data(as_text=True))})
    assert done.status_code == 200 and 'data-testid="unsubscribed"' in done.get_data(as_text=True)
    fresh()
    member = db.session.get(Member, member.id)
    assert member.subscribed is False
    (audit,) = list_audit_events(brand.id, action="member.unsubscribed")
    assert audit.actor == f"member:{member.id}"

    assert queue_points_mail(member) is None  # consent taken back: no more points mail
    work(app)
    assert len(inbox.messages) == 1


def test_the_one_click_post_needs_no_csrf_token_but_a_valid_link(app, api, brand, client):
    member = make_member(api, "m-3", subscribed=True)
    waiting = queue_points_mail(member)  # queued, not sent yet
    link = mail.unsubscribe_url(member)
    path = urlsplit(link).path
    assert client.post(path + "x", data={"List-Unsubscribe": "One-Click"}).status_code == 404  # tampered
    answer = client.post(path, data={"List-Unsubscribe": "One-Click"})  # as a mail provider sends it
    assert answer.status_code == 200
    fresh()
    assert db.session.get(Member, member.id).subscribed is False
    work(app)  # the mail that was waiting goes nowhere (nothing listens on the SMTP port: it was not tried)
    (row,) = mails()
    assert (row.id, row.status, row.attempts) == (waiting, CANCELLED, 0)
    again = client.post(path, data={"List-Unsubscribe": "One-Click"})  # twice: still fine, audited once
    assert again.status_code == 200
    assert len(list_audit_events(brand.id, action="member.unsubscribed")) == 1


def test_a_mail_no_server_would_take_fails_without_a_try(app, brand):
    with write_transaction():
        injected = {"X-Note": "a\nBcc: b@x.vn"}  # a header carrying another one
        queue_mail(brand.id, "lan@example.vn", "Hỏng", "x", None, "test", headers=injected)
    work(app)  # nothing listens on the SMTP port either: it was never tried
    (row,) = mails()
    assert (row.status, row.attempts, row.next_attempt_at) == (FAILED, 0, None)
    assert "linefeed" in (row.last_error or "")
    assert sweep_mail(grace_seconds=0) == {"enqueued": 0}  # and is not picked up again
