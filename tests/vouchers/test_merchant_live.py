"""The merchant page against a live multi-worker server: a real camera scan in headless Chromium,
and two confirms fired together."""

from __future__ import annotations

import io
import threading
from pathlib import Path

import pytest
import requests
from PIL import Image

from tests.browser import chromium, log_in_with_form
from tests.vouchers.merchant_helpers import (
    CASHIER_EMAIL,
    PASSWORD,
    form_token,
    live_with_cashier,
    page_token,
)

pytestmark = [pytest.mark.slow, pytest.mark.live]
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
FRAME = (640, 480)


@pytest.fixture(scope="module")
def live(tmp_path_factory, redis_url, migrated):
    with live_with_cashier(
        tmp_path_factory.mktemp("merchant"), redis_url, "Lixi Café Quận 1", "Chị Mai"
    ) as lixi:
        yield lixi


def logged_in_session(live) -> tuple[requests.Session, str]:
    """A cashier's session through the real log-in form; returns it and the page's CSRF token."""
    session = requests.Session()
    page = session.get(f"{live.server.url}/merchant/login", timeout=30)
    body = {
        "brand": live.brand_slug,
        "email": CASHIER_EMAIL,
        "password": PASSWORD,
        "csrf_token": form_token(page.text),
    }
    assert session.post(f"{live.server.url}/merchant/login", data=body, timeout=30).ok
    counter = session.get(f"{live.server.url}/merchant", timeout=30)
    return session, page_token(counter.text)


def fire_together(calls) -> list[requests.Response]:
    """Run the calls at the same instant from threads (a double tap, two retries crossing)."""
    barrier = threading.Barrier(len(calls))
    results: list = [None] * len(calls)

    def run(i: int) -> None:
        barrier.wait()
        results[i] = calls[i]()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(calls))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


def test_two_confirms_fired_together_redeem_once(live):
    session, token = logged_in_session(live)
    card = live.post("/offers", {"name": "Thẻ quà 500k", "kind": "gift_card", "value": 500000}).json()
    single = live.post("/offers", {"name": "Giảm 20k", "kind": "fixed_amount", "value": 20000}).json()
    url = f"{live.server.url}/merchant/api/redeem"

    def tap(code: str, key: str, **fields: int):
        headers = {"X-CSRFToken": token, "Idempotency-Key": key}
        return lambda: session.post(url, json={"code": code, **fields}, headers=headers, timeout=60)

    for round_ in range(4):
        gift = live.post("/vouchers", {"offer_id": card["id"]}).json()["vouchers"][0]
        same_key = fire_together([tap(gift["code"], f"tap-{round_}", amount=100000)] * 2)
        assert [r.status_code for r in same_key] == [201, 201], [r.text for r in same_key]
        ids = {r.json()["redemption"]["id"] for r in same_key}
        assert len(ids) == 1  # the second answer is the first one, replayed
        assert live.get(f"/vouchers/{gift['code']}").json()["balance"] == 400000  # taken once

        voucher = live.post("/vouchers", {"offer_id": single["id"]}).json()["vouchers"][0]
        calls = [tap(voucher["code"], f"a-{round_}"), tap(voucher["code"], f"b-{round_}")]
        statuses = sorted(r.status_code for r in fire_together(calls))
        assert statuses == [201, 409]  # two different keys: the voucher still goes once


def qr_video(qr_png: bytes, path: Path, frames: int = 20) -> Path:
    """A Y4M clip (4:2:0, grey) of the QR on a white page, for Chromium's fake camera."""
    qr = Image.open(io.BytesIO(qr_png)).convert("L")
    side = min(FRAME) - 80
    frame = Image.new("L", FRAME, 255)
    frame.paste(qr.resize((side, side), Image.Resampling.NEAREST), ((FRAME[0] - side) // 2, 40))
    luma = frame.tobytes()
    chroma = bytes([128]) * (FRAME[0] // 2 * FRAME[1] // 2)
    with path.open("wb") as video:
        video.write(f"YUV4MPEG2 W{FRAME[0]} H{FRAME[1]} F10:1 Ip A1:1 C420jpeg\n".encode())
        for _ in range(frames):
            video.write(b"FRAME\n" + luma + chroma + chroma)
    return path


def test_scan_a_voucher_with_the_camera_and_redeem_it(live, tmp_path):
    offer = live.post("/offers", {"name": "Giảm 30k", "kind": "fixed_amount", "value": 30000}).json()
    live.post("/members", {"external_id": "cam-1", "name": "Nguyễn Văn An"})
    voucher = live.post("/vouchers", {"offer_id": offer["id"], "member_external_id": "cam-1"}).json()[
        "vouchers"
    ][0]
    qr_png = requests.get(voucher["qr_png_url"].replace("http://localhost", live.server.url), timeout=30)
    if not qr_png.ok:
        qr_png = requests.get(f"{live.server.url}/v/{voucher['token']}/qr.png", timeout=30)
    video = qr_video(qr_png.content, tmp_path / "voucher-qr.y4m")

    ARTIFACTS.mkdir(exist_ok=True)
    flags = (
        "--use-fake-ui-for-media-stream",
        "--use-fake-device-for-media-stream",
        f"--use-file-for-fake-video-capture={video}",
    )
    with chromium(*flags) as browser:
        page = browser.new_page(viewport={"width": 360, "height": 780}, locale="vi-VN")
        page.goto(f"{live.server.url}/merchant")
        log_in_with_form(page, live.brand_slug, CASHIER_EMAIL, PASSWORD, "Đăng nhập", "**/merchant")
        assert page.locator("[data-testid=store]").inner_text() == "Lixi Café Quận 1"

        verdict = page.locator("[data-testid=verdict][data-valid=true]")
        verdict.wait_for(timeout=30_000)  # the camera frames reach the decoder, the QR is read
        assert "30.000" in page.locator("[data-testid=verdict-value]").inner_text()
        assert page.locator("[data-testid=customer]").inner_text() == "Nguyễn Văn An"
        page.screenshot(path=str(ARTIFACTS / "merchant-scan-valid.png"), full_page=True)

        page.locator("[data-testid=redeem]").click()
        page.locator("[data-testid=redeemed]").wait_for(timeout=15_000)
        assert live.get(f"/vouchers/{voucher['code']}").json()["status"] == "redeemed"
        page.locator(f"#today li:has-text('{voucher['code'][-4:]}')").wait_for(timeout=10_000)

        page.get_by_role("button", name="Quét voucher tiếp theo").click()
        refused = page.locator("[data-testid=verdict][data-reason=already_redeemed]")
        refused.wait_for(timeout=30_000)  # the same QR, scanned again
        message = page.locator("[data-testid=verdict-message]").inner_text()
        assert message.startswith("Đã dùng tại Lixi Café Quận 1")
        page.screenshot(path=str(ARTIFACTS / "merchant-scan-already-redeemed.png"), full_page=True)


def test_the_page_says_so_when_the_camera_is_refused(live):
    with chromium("--deny-permission-prompts") as browser:
        context = browser.new_context(locale="en-US")
        page = context.new_page()
        page.goto(f"{live.server.url}/merchant/login")
        log_in_with_form(page, live.brand_slug, CASHIER_EMAIL, PASSWORD, "Log in", "**/merchant")
        status = page.locator("#camera-status")
        page.wait_for_function(
            "() => !document.querySelector('#camera-status').textContent.includes('Starting')"
        )
        assert "refused" in status.inner_text() or "No camera" in status.inner_text()
        assert page.locator("#start-camera").is_visible()
        page.fill("#manual-code", "AAAA-BBBB-CCCC-DD")  # the manual fallback still works
        page.get_by_role("button", name="Check").click()
        page.locator("[data-testid=verdict][data-valid=false]").wait_for(timeout=10_000)
