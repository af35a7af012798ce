"""The dashboard's gifts from a file: upload → the dry run → send → progress → results CSV, a file the
pages refuse, CSRF, another brand's batch (404), and the flow in Chromium."""

from __future__ import annotations

import csv
import io
import re
from pathlib import Path

import pytest
from sqlalchemy import func, select, update

from gifting.models import Gift, GiftBatch
from harness.liveserver import flask_command
from lixi.extensions import db
from lixi.jobs import work
from lixi.models import AuditEvent
from tests.browser import assert_accessible, chromium, log_in_with_form, watch
from tests.live import running_lixi
from tests.vouchers.merchant_helpers import PASSWORD, logged_in, page_token

ADMIN = "admin@brand-a.vn"
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"


def make_admin(brand_id: int, email: str = ADMIN) -> None:
    from lixi.staff import create_staff

    create_staff(brand_id, email, PASSWORD, "brand_admin", "Admin", [])


def upload(client, token: str, data: bytes, **fields: str):
    form = {"csrf_token": token, "design": "tet", "sender_name": "Công ty ABC", "claim_days": "30", **fields}
    form["file"] = (io.BytesIO(data), "nhan-vien.csv")
    return client.post("/dashboard/gifts/batches", data=form, content_type="multipart/form-data")


def test_upload_check_send_follow_the_progress_and_download_the_results(app, brand, make_offer):
    offer = make_offer()
    card = make_offer(name="Thẻ quà", kind="gift_card", value=500_000)
    make_admin(brand.id)
    client = logged_in(app, "dashboard", ADMIN)
    page = client.get("/dashboard/gifts/batches")
    assert page.status_code == 200 and "Thẻ quà" in page.get_data(as_text=True)  # the gift-card choice
    token = page_token(page.get_data(as_text=True))
    data = (
        "row_id,name,email,phone,offer_id,amount,message,send_at\n"
        f"NV1,An,an@example.com,,{offer['id']},,Chúc mừng năm mới,\n"
        "NV2,Bình,,0912345678,,200000,,\n"
        f"NV3,Chi,not-an-email,,{offer['id']},,,\n"
    ).encode()
    checked = upload(client, token, data, gift_card_offer_id=str(card["id"]))
    assert checked.status_code == 302
    batch_page = checked.headers["Location"]
    batch_id = int(batch_page.rsplit("/", 1)[1])

    dry_run = client.get(batch_page).get_data(as_text=True)
    assert 'data-testid="rows-ok">2<' in dry_run and 'data-testid="rows-bad">1<' in dry_run
    # Each bad row with its line and reason, in the page's language.
    assert re.search(r'data-line="4">.*?Địa chỉ email không hợp lệ', dry_run, re.S)
    in_english = client.get(f"{batch_page}?lang=en").get_data(as_text=True)
    assert re.search(r'data-line="4">.*?Not a valid email address', in_english, re.S)
    assert "250.000" in dry_run  # the total value, 50,000 + 200,000 ₫
    assert 'data-testid="send"' in dry_run
    assert db.session.scalar(select(func.count()).select_from(Gift)) == 0  # a dry run sends nothing

    send_url = f"{batch_page}/send"
    assert client.post(send_url, data={}).status_code == 400  # no CSRF token: refused
    sent = client.post(send_url, data={"csrf_token": token})
    assert sent.status_code == 302 and sent.headers["Location"] == batch_page
    assert client.post(send_url, data={"csrf_token": token}).status_code == 302  # a double click
    queued = client.get(batch_page).get_data(as_text=True)
    assert '<progress id="gift-batch-progress" max="2" value="0"' in queued
    assert 'data-testid="refresh"' in queued and "js/gift_batch.js" in queued
    assert client.get(f"{batch_page}/progress.json").get_json()["status"] == "queued"

    work(app, burst=True, in_process=True)
    db.session.rollback()  # the test's long-lived session drops its read snapshot
    progress = client.get(f"{batch_page}/progress.json").get_json()
    expected = {"status": "done", "done": 2, "total": 2, "sent": 2, "skipped": 0, "bad": 1, "error": None}
    assert progress == expected
    done = client.get(batch_page).get_data(as_text=True)
    assert '<progress id="gift-batch-progress" max="2" value="2"' in done
    assert 'id="gift-batch-csv" hidden' not in done
    results = client.get(f"{batch_page}/results.csv")
    disposition = results.headers["Content-Disposition"]
    assert disposition == f'attachment; filename="lixi-gifts-{batch_id}-results.csv"'
    rows = list(csv.DictReader(io.StringIO(results.get_data(as_text=True))))
    assert [(r["row_id"], r["status"]) for r in rows] == [("NV1", "sent"), ("NV2", "sent"), ("NV3", "bad")]
    assert rows[0]["claim_url"].startswith("http") and "/g/" in rows[0]["claim_url"]
    assert rows[2]["claim_url"] == ""
    assert db.session.scalar(select(func.count()).select_from(Gift)) == 2  # sent once, though clicked twice
    actors = db.session.execute(
        select(AuditEvent.action, AuditEvent.actor).where(AuditEvent.action.like("gift_batch.%"))
    ).all()
    assert sorted(action for action, _ in actors) == [
        "gift_batch.checked",
        "gift_batch.sent",
        "gift_batch.started",
    ]
    assert {actor for _, actor in actors} == {actors[0].actor} and actors[0].actor.startswith("staff:")

    # A sending that failed (say the database went away) is tried again from its page.
    db.session.execute(
        update(GiftBatch).where(GiftBatch.id == batch_id).values(status="failed", error="boom")
    )
    db.session.commit()
    failed = client.get(batch_page).get_data(as_text=True)
    assert 'data-testid="retry-form"' in failed and "boom" in failed
    assert client.post(send_url, data={"csrf_token": token}).status_code == 302
    assert client.get(f"{batch_page}/progress.json").get_json()["status"] == "queued"
    work(app, burst=True, in_process=True)
    db.session.rollback()
    assert client.get(f"{batch_page}/progress.json").get_json()["status"] == "done"
    assert db.session.scalar(select(func.count()).select_from(Gift)) == 2  # nothing sent twice

    # The same file again: every row already sent or bad, nothing to send.
    again = upload(client, token, data, gift_card_offer_id=str(card["id"]))
    page = client.get(again.headers["Location"]).get_data(as_text=True)
    assert 'data-testid="rows-skipped">2<' in page and 'data-testid="send"' not in page
    listing = client.get("/dashboard/gifts/batches").get_data(as_text=True)
    assert listing.count("nhan-vien.csv") == 2


def test_a_file_the_page_refuses_is_shown_with_its_reason(app, brand, offer):
    make_admin(brand.id)
    client = logged_in(app, "dashboard", ADMIN)
    token = page_token(client.get("/dashboard/gifts/batches").get_data(as_text=True))
    refused = upload(client, token, b"row_id,name,emial,offer_id\nA1,An,a@example.com,1\n")
    assert refused.status_code == 422 and "Unknown columns: emial" in refused.get_data(as_text=True)
    no_file = client.post("/dashboard/gifts/batches", data={"csrf_token": token, "design": "tet"})
    assert no_file.status_code == 422
    sample = client.get("/dashboard/gifts/batches/sample.csv").get_data(as_text=True)
    assert sample.startswith("row_id,name,email,phone,offer_id,amount,message,send_at\r\n")
    assert upload(client, token, sample.encode()).status_code == 302  # the sample file itself is readable


def test_a_file_bigger_than_other_forms_is_taken_up_to_its_own_limit(app, brand, offer):
    make_admin(brand.id)
    client = logged_in(app, "dashboard", ADMIN)
    token = page_token(client.get("/dashboard/gifts/batches").get_data(as_text=True))
    message = "Chúc mừng năm mới! " * 20  # 380 characters, 460 bytes
    lines = [f"B{i},Name,b{i}@example.com,,{offer['id']},,{message}," for i in range(3_000)]
    data = ("row_id,name,email,phone,offer_id,amount,message,send_at\n" + "\n".join(lines)).encode()
    assert len(data) > app.config["MAX_CONTENT_LENGTH"]  # what any other form may send
    checked = upload(client, token, data)
    assert checked.status_code == 302
    assert client.get(checked.headers["Location"]).status_code == 200
    app.config["GIFT_BULK_MAX_BYTES"] = len(data) - 1
    assert upload(client, token, data).status_code == 413
    assert (
        client.post("/dashboard/offers", data={"csrf_token": token, "name": "x" * len(data)}).status_code
        == 413
    )


def test_an_admin_gets_404_for_another_brands_batch(app, brand, make_brand, offer):
    from gifting.bulk import check_batch

    data = f"row_id,email,offer_id\nB1,b1@example.com,{offer['id']}\n".encode()
    theirs = check_batch(brand.id, "theirs.csv", data, None, "plain", None, 30)
    other = make_brand("Brand B")
    make_admin(other.id, "admin@brand-b.vn")
    client = logged_in(app, "dashboard", "admin@brand-b.vn")
    token = page_token(client.get("/dashboard/gifts/batches").get_data(as_text=True))
    base = f"/dashboard/gifts/batches/{theirs.id}"
    for path in (base, f"{base}/progress.json", f"{base}/results.csv"):
        assert client.get(path).status_code == 404, path
    assert client.post(f"{base}/send", data={"csrf_token": token}).status_code == 404
    assert "theirs.csv" not in client.get("/dashboard/gifts/batches").get_data(as_text=True)
    db.session.rollback()
    from gifting.bulk import get_batch

    assert get_batch(brand.id, theirs.id).status == "checked"  # nothing started by the other brand


@pytest.mark.slow
@pytest.mark.live
def test_the_flow_in_chromium_passes_axe_and_the_csp_and_the_bar_follows_the_job(
    tmp_path, redis_url, migrated
):
    """Upload, the dry run, send, and the progress bar that the page's script moves to the end while
    a worker sends (then the results link appears), in Vietnamese, each page checked by axe-core."""
    admin = {"email": "hr@live.vn", "password": PASSWORD, "role": "brand_admin", "merchant_ids": []}
    with running_lixi(tmp_path, redis_url) as live, chromium() as browser:
        assert live.post("/staff", admin).status_code == 201
        offer = live.post("/offers", {"name": "Quà Tết 50k", "kind": "fixed_amount", "value": 50_000}).json()
        lines = [
            f"NV{i},Nhân viên {i},nv{i}@example.com,,{offer['id']},,Chúc mừng năm mới!," for i in range(30)
        ]
        upload_file = tmp_path / "nhan-vien.csv"
        upload_file.write_text(
            "row_id,name,email,phone,offer_id,amount,message,send_at\n"
            + "\n".join(lines)
            + "\nNV99,Lỗi,,,1,,,\n",
            encoding="utf-8",
        )
        with browser.new_context(viewport={"width": 1366, "height": 900}, locale="vi-VN") as context:
            page = context.new_page()
            watched = watch(page)
            page.goto(f"{live.server.url}/dashboard/login?lang=vi")
            log_in_with_form(page, live.brand_slug, admin["email"], PASSWORD, "Đăng nhập", "**/dashboard")

            page.goto(f"{live.server.url}/dashboard/gifts/batches")
            assert_accessible(page, "gifts from a file")
            page.set_input_files("input[name=file]", str(upload_file))
            page.get_by_role("button", name="Kiểm tra tệp").click()
            page.wait_for_url(re.compile(r".*/dashboard/gifts/batches/\d+$"))
            assert page.locator("[data-testid=rows-ok]").inner_text() == "30"
            reason = page.locator(
                "[data-testid=bad-rows] tr[data-line='32'] [data-testid=reason]"
            ).inner_text()
            assert reason == "Cần có email hoặc số điện thoại."
            assert_accessible(page, "the dry run")
            page.screenshot(path=str(ARTIFACTS / "dashboard-gift-batch-check-vi.png"), full_page=True)
            page.get_by_role("button", name="Gửi 30 quà").click()

            page.wait_for_selector("#gift-batch")
            assert page.locator("[data-testid=batch-status]").get_attribute("data-status") == "queued"
            assert_accessible(page, "the progress page")
            flask_command(live.server.env, "worker", "--burst", "--in-process")  # sends the 30 gifts
            page.wait_for_function(
                "() => document.getElementById('gift-batch-progress').value === 30"
                " && !document.getElementById('gift-batch-csv').hidden"
            )
            assert page.locator("[data-testid=batch-status]").inner_text() == "Xong"
            assert page.locator("#gift-batch-refresh").is_hidden()
            results = page.request.get(
                live.server.url + page.locator("[data-testid=csv]").get_attribute("href")
            )
            statuses = [row["status"] for row in csv.DictReader(io.StringIO(results.text()))]
            assert statuses == ["sent"] * 30 + ["bad"]
            page.screenshot(path=str(ARTIFACTS / "dashboard-gift-batch-vi.png"), full_page=True)
            watched.check()
