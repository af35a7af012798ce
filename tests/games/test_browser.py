"""End to end in headless Chromium: open a member link, spin, see the recorded result and the voucher."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.browser import assert_accessible, chromium, watch
from tests.live import running_lixi

pytestmark = [pytest.mark.slow, pytest.mark.live]
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"


@pytest.fixture(scope="module")
def live(tmp_path_factory, redis_url, migrated):
    with running_lixi(tmp_path_factory.mktemp("browser"), redis_url) as lixi:
        yield lixi


@pytest.fixture(scope="module")
def browser():
    with chromium() as browser:  # one Chromium for the module's tests (each gets its own context)
        yield browser


def test_spin_the_wheel_and_open_the_won_voucher(live, browser):
    offer = live.post("/offers", {"name": "Giảm 30k", "kind": "fixed_amount", "value": 30000}).json()
    campaign = live.post(
        "/campaigns",
        {
            "name": "Vòng quay Tết",
            "game": "spin_wheel",
            "prizes": [
                {"label": "Giảm 30k", "weight": 1, "offer_id": offer["id"]},
                {"label": "Chúc may mắn", "weight": 1, "stock": 0},
            ],
        },
    ).json()
    live.post(f"/campaigns/{campaign['id']}/activate", {})
    live.post("/members", {"external_id": "b-1"})
    live.post("/members/b-1/plays", {"campaign_id": campaign["id"], "plays": 2})
    link = live.post("/members/b-1/links", {"campaign_id": campaign["id"]}).json()

    ARTIFACTS.mkdir(exist_ok=True)
    with browser.new_context(viewport={"width": 390, "height": 844}, locale="vi-VN") as context:
        page = context.new_page()
        watched = watch(page)
        page.goto(link["url"])
        assert page.locator("html").get_attribute("lang") == "vi"
        assert page.locator("[data-testid=plays-left]").inner_text() == "2"
        assert "50,0%" in page.locator("ul.odds").inner_text()  # the locale's decimal comma
        assert_accessible(page, "game page (wheel)")
        spin = page.get_by_role("button", name="Quay")
        spin.focus()
        page.keyboard.press("Enter")  # a keyboard user spins
        result = page.locator("[data-testid=result] .win")
        result.wait_for(timeout=15_000)
        assert "Giảm 30k" in result.inner_text()
        assert page.locator("[data-testid=result]").get_attribute("aria-live") == "polite"
        assert page.locator("#wheel").get_attribute("data-landed") == "0"
        assert page.locator("[data-testid=plays-left]").inner_text() == "1"
        # Focus is back on the spin button (not lost on <body> while the button was disabled).
        assert page.evaluate("document.activeElement.textContent.trim()") == "Quay"
        assert_accessible(page, "game page after a spin")
        page.screenshot(path=str(ARTIFACTS / "play-spin-wheel.png"), full_page=True)

        stats = live.get(f"/campaigns/{campaign['id']}/stats").json()
        assert stats["plays"] == 1 and stats["wins"] == 1 and stats["prizes"][0]["won"] == 1

        page.locator("a", has_text="Phiếu quà tặng của tôi").click()
        page.wait_for_url("**/wallet*")
        assert_accessible(page, "wallet")
        page.go_back()
        page.locator("a", has_text="Cách kiểm chứng").click()
        page.wait_for_url("**/fairness/*")
        assert_accessible(page, "fairness page")
        page.go_back()
        page.wait_for_url("**/play/*")

        page.get_by_role("button", name="Quay").click()
        page.locator("[data-testid=plays-left]", has_text="0").wait_for(timeout=15_000)
        # No play left: the button cannot take focus, so the won voucher's link has it.
        assert page.evaluate("document.activeElement.classList.contains('voucher-link')")

        page.locator("a.voucher-link").click()
        page.wait_for_load_state()
        assert "/v/" in page.url
        qr = page.locator("figure.qr img")
        qr.wait_for()
        assert page.evaluate("img => img.complete && img.naturalWidth > 0", qr.element_handle())
        assert "30.000" in page.locator("[data-testid=value]").inner_text()
        assert_accessible(page, "voucher page")
        page.screenshot(path=str(ARTIFACTS / "voucher-page.png"), full_page=True)
        watched.check()


def _member_link(live, game: str, member: str) -> dict:
    """A running campaign of `game` that always wins a voucher, a member with one play, and its link."""
    offer = live.post("/offers", {"name": "Lì xì 20k", "kind": "fixed_amount", "value": 20000}).json()
    prizes = [{"label": "Lì xì 20k", "weight": 1, "offer_id": offer["id"]}]
    campaign = live.post("/campaigns", {"name": f"Tết {game}", "game": game, "prizes": prizes}).json()
    live.post(f"/campaigns/{campaign['id']}/activate", {})
    live.post("/members", {"external_id": member})
    live.post(f"/members/{member}/plays", {"campaign_id": campaign["id"], "plays": 1})
    link = live.post(f"/members/{member}/links", {"campaign_id": campaign["id"]}).json()
    return {"campaign": campaign, **link}


def test_scratch_the_card_with_the_mouse(live, browser):
    link = _member_link(live, "scratch_card", "b-scratch")
    with browser.new_context(viewport={"width": 360, "height": 740}, locale="en-US") as context:
        page = context.new_page()
        watched = watch(page)
        page.goto(link["url"])
        assert page.locator("html").get_attribute("lang") == "en"
        assert_accessible(page, "game page (scratch card)")
        page.get_by_role("button", name="Get a card").click()
        canvas = page.locator("#scratch-canvas")
        canvas.wait_for()
        page.wait_for_function("() => document.querySelector('#scratch-under').textContent.includes('Lì xì')")
        assert page.locator("[data-testid=result]").is_hidden()  # nothing shown before scratching
        box = canvas.bounding_box()
        page.mouse.move(box["x"] + 5, box["y"] + 10)
        for step in range(40):  # rub across the card
            page.mouse.move(box["x"] + 5 + step * box["width"] / 40, box["y"] + 10 + (step % 5) * 25)
        result = page.locator("[data-testid=result] .win")
        result.wait_for(timeout=10_000)
        assert "Lì xì 20k" in result.inner_text()
        assert page.locator("a.voucher-link").get_attribute("href").startswith(live.server.url + "/v/")
        watched.check()
    stats = live.get(f"/campaigns/{link['campaign']['id']}/stats").json()
    assert stats["plays"] == 1 and stats["wins"] == 1


def test_pick_an_envelope(live, browser):
    link = _member_link(live, "lucky_draw", "b-envelope")
    with browser.new_context(viewport={"width": 360, "height": 740}, locale="vi-VN") as context:
        page = context.new_page()
        watched = watch(page)
        page.goto(link["url"])
        assert_accessible(page, "game page (envelopes)")
        envelope = page.locator("button.envelope").nth(2)
        envelope.click()
        page.locator("[data-testid=result] .win").wait_for(timeout=10_000)
        assert "opened" in (envelope.get_attribute("class") or "")
        assert page.locator("[data-testid=plays-left]").inner_text() == "0"
        assert page.locator("button.envelope:enabled").count() == 0
        watched.check()


def test_without_javascript_the_form_shows_the_server_result(live, browser):
    link = _member_link(live, "spin_wheel", "b-nojs")
    with browser.new_context(java_script_enabled=False, locale="en-US") as context:
        page = context.new_page()
        page.goto(link["url"])
        page.get_by_role("button", name="Spin").click()
        page.wait_for_load_state()
        assert "Lì xì 20k" in page.locator("[data-testid=result] .win").inner_text()
        assert page.locator("[data-testid=plays-left]").inner_text() == "0"
        assert page.locator("#wheel").get_attribute("data-landed") == "0"
