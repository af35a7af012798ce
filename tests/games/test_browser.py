"""End to end in headless Chromium: open a member link, spin, see the recorded result and the voucher."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from lixi.liveserver import unlimited_env
from tests.browser import chromium
from tests.conftest import POSTGRES
from tests.live import start_live_lixi

pytestmark = [pytest.mark.slow, pytest.mark.live]
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"


@pytest.fixture(scope="module")
def live(tmp_path_factory, redis_url, migrated):
    folder = tmp_path_factory.mktemp("browser")
    database_url = os.environ["DATABASE_URL"] if POSTGRES else f"sqlite:///{folder / 'live.db'}"
    lixi = start_live_lixi(unlimited_env(database_url, redis_url), workers=2, threads=4)
    yield lixi
    lixi.server.stop()


def test_spin_the_wheel_and_open_the_won_voucher(live):
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
    live.post("/members/b-1/plays", {"campaign_id": campaign["id"], "plays": 1})
    link = live.post("/members/b-1/links", {"campaign_id": campaign["id"]}).json()

    ARTIFACTS.mkdir(exist_ok=True)
    with chromium() as browser:
        page = browser.new_page(viewport={"width": 390, "height": 844}, locale="vi-VN")
        page.goto(link["url"])
        assert page.locator("[data-testid=plays-left]").inner_text() == "1"
        page.get_by_role("button", name="Quay").click()
        result = page.locator("[data-testid=result] .win")
        result.wait_for(timeout=15_000)
        assert "Giảm 30k" in result.inner_text()
        assert page.locator("#wheel").get_attribute("data-landed") == "0"
        assert page.locator("[data-testid=plays-left]").inner_text() == "0"
        page.screenshot(path=str(ARTIFACTS / "play-spin-wheel.png"), full_page=True)

        stats = live.get(f"/campaigns/{campaign['id']}/stats").json()
        assert stats["plays"] == 1 and stats["wins"] == 1 and stats["prizes"][0]["won"] == 1

        page.locator("a.voucher-link").click()
        page.wait_for_load_state()
        assert "/v/" in page.url
        qr = page.locator("figure.qr img")
        qr.wait_for()
        assert page.evaluate("img => img.complete && img.naturalWidth > 0", qr.element_handle())
        assert "30.000" in page.locator("[data-testid=value]").inner_text()
        page.screenshot(path=str(ARTIFACTS / "voucher-page.png"), full_page=True)
