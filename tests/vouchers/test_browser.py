"""The voucher and merchant pages in headless Chromium: axe-core, the CSP (with the wasm scanner
running), keyboard focus after a redemption, and the header on a 412 px phone."""

from __future__ import annotations

from pathlib import Path

import pytest
from PIL import Image

from tests.browser import assert_accessible, chromium, log_in_with_form, watch
from tests.vouchers.merchant_helpers import CASHIER_EMAIL, PASSWORD, live_with_cashier

pytestmark = [pytest.mark.slow, pytest.mark.live]
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
PHONE = {"width": 412, "height": 915}  # a common Android phone


@pytest.fixture(scope="module")
def live(tmp_path_factory, redis_url, migrated):
    folder = tmp_path_factory.mktemp("merchant-browser")
    with live_with_cashier(folder, redis_url, "Lixi Café Quận Bình Thạnh", "Anh Tú") as lixi:
        yield lixi


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    """One Chromium whose fake camera films a blank page: the scanner starts (the ponyfill compiles
    its wasm under the page's CSP) and reads nothing, so codes are typed."""
    clip = tmp_path_factory.mktemp("camera") / "blank.y4m"
    width, height = 320, 240
    frame = Image.new("L", (width, height), 255).tobytes() + bytes([128]) * (width * height // 2)
    with clip.open("wb") as video:
        video.write(f"YUV4MPEG2 W{width} H{height} F10:1 Ip A1:1 C420jpeg\n".encode())
        for _ in range(5):
            video.write(b"FRAME\n" + frame)
    flags = (
        "--use-fake-ui-for-media-stream",
        "--use-fake-device-for-media-stream",
        f"--use-file-for-fake-video-capture={clip}",
    )
    with chromium(*flags) as browser:
        yield browser


def log_in(page, live, button: str) -> None:
    page.goto(f"{live.server.url}/merchant/login")
    assert_accessible(page, "merchant log-in")
    log_in_with_form(page, live.brand_slug, CASHIER_EMAIL, PASSWORD, button, "**/merchant")


def test_redeem_by_keyboard_focus_returns_to_the_code_field(live, browser):
    offer = live.post("/offers", {"name": "Giảm 25k", "kind": "fixed_amount", "value": 25000}).json()
    vouchers = live.post("/vouchers", {"offer_id": offer["id"], "count": 2}).json()["vouchers"]
    with browser.new_context(viewport=PHONE, locale="vi-VN") as context:
        page = context.new_page()
        watched = watch(page)
        log_in(page, live, "Đăng nhập")
        page.wait_for_function("() => document.getElementById('counter').dataset.scanner === 'ready'")
        assert_accessible(page, "merchant counter")

        code = page.locator("#manual-code")
        code.focus()
        # Inputs keep a visible focus ring (the field's outline used to be removed).
        ring = code.evaluate(
            "el => { const s = getComputedStyle(el); return [s.outlineStyle, s.outlineWidth]; }"
        )
        assert ring[0] != "none" and float(ring[1].rstrip("px")) >= 2, ring
        for voucher in vouchers:
            code.fill(voucher["code"])
            page.keyboard.press("Enter")  # check
            page.locator("[data-testid=verdict][data-valid=true]").wait_for(timeout=15_000)
            assert page.locator("#verdict").get_attribute("aria-live") == "polite"
            assert_accessible(page, "merchant counter with a verdict")
            page.locator("[data-testid=redeem]").focus()
            page.keyboard.press("Enter")  # redeem
            page.locator("[data-testid=redeemed]").wait_for(timeout=15_000)
            # Focus is back in the (emptied) code field, ready for the next voucher, not on <body>.
            assert page.evaluate("document.activeElement.id") == "manual-code"
            assert code.input_value() == ""
        assert live.get(f"/vouchers/{vouchers[1]['code']}").json()["status"] == "redeemed"
        assert_accessible(page, "merchant counter after redeeming")
        watched.check()


def test_the_merchant_header_fits_a_412px_phone(live, browser):
    with browser.new_context(viewport=PHONE, locale="vi-VN") as context:
        page = context.new_page()
        watched = watch(page)
        log_in(page, live, "Đăng nhập")
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "merchant-header-412.png"))
        logout = page.get_by_role("button", name="Đăng xuất")
        line = float(logout.evaluate("el => parseFloat(getComputedStyle(el).lineHeight)"))
        assert logout.bounding_box()["height"] < 1.5 * line  # "Đăng xuất" on one line
        bar = page.locator("header.topbar").bounding_box()
        languages = [page.get_by_role("link", name=name) for name in ("English", "Tiếng Việt")]
        for item in (logout, *languages):
            box = item.bounding_box()
            assert box["x"] >= 0 and box["x"] + box["width"] <= PHONE["width"], box
            assert box["height"] < 1.5 * line
        tops = {round(item.bounding_box()["y"]) for item in (logout, *languages)}
        assert len(tops) == 1, tops  # the links share one row
        assert bar["height"] < 4 * line  # two rows at most: the brand and store, then the links
        store = page.locator("[data-testid=store]").bounding_box()
        assert store["x"] + store["width"] <= PHONE["width"]  # the store's name is shown, not cut
        assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
        watched.check()


def test_the_not_found_page_passes_axe_and_the_csp(live, browser):
    with browser.new_context(viewport=PHONE, locale="vi-VN") as context:
        page = context.new_page()
        watched = watch(page, allowed_statuses=(404,))
        response = page.goto(f"{live.server.url}/v/not-a-voucher")
        assert response.status == 404 and response.headers["x-frame-options"] == "DENY"
        assert page.locator("html").get_attribute("lang") == "vi"
        assert_accessible(page, "404 page")
        watched.check()
