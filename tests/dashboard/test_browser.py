"""End to end in headless Chromium: build a campaign in the dashboard, activate it, watch it live."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from lixi.liveserver import unlimited_env
from tests.browser import chromium
from tests.conftest import POSTGRES
from tests.live import start_live_lixi
from tests.vouchers.merchant_helpers import PASSWORD

pytestmark = [pytest.mark.slow, pytest.mark.live]
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"


@pytest.fixture(scope="module")
def live(tmp_path_factory, redis_url, migrated):
    folder = tmp_path_factory.mktemp("dashboard")
    database_url = os.environ["DATABASE_URL"] if POSTGRES else f"sqlite:///{folder / 'live.db'}"
    env = unlimited_env(database_url, redis_url, DASHBOARD_REFRESH_SECONDS="0.5")
    lixi = start_live_lixi(env, workers=2, threads=4)
    admin = {"email": "marketing@live.vn", "password": PASSWORD, "role": "brand_admin", "merchant_ids": []}
    assert lixi.post("/staff", admin).status_code == 201
    yield lixi
    lixi.server.stop()


def test_build_a_campaign_activate_it_and_watch_the_figures(live):
    offer_big = live.post("/offers", {"name": "Giảm 100k", "kind": "fixed_amount", "value": 100000}).json()
    offer_small = live.post("/offers", {"name": "Giảm 20k", "kind": "fixed_amount", "value": 20000}).json()
    ARTIFACTS.mkdir(exist_ok=True)
    with chromium() as browser:
        page = browser.new_page(viewport={"width": 1366, "height": 900}, locale="en-US")
        page.goto(f"{live.server.url}/dashboard")
        page.fill("input[name=email]", "marketing@live.vn")
        page.fill("input[name=password]", PASSWORD)
        page.get_by_role("button", name="Log in").click()
        page.wait_for_url("**/dashboard")

        page.goto(f"{live.server.url}/dashboard/campaigns/new")
        page.fill("input[name=name]", "Vòng quay Tết 2027")
        page.select_option("select[name=game]", "spin_wheel")
        page.fill("input[name=budget]", "5000000")
        rows = page.locator("tr.prize-row")
        prizes = [
            ("Giảm 100k", "1", "10", str(offer_big["id"])),
            ("Giảm 20k", "4", "100", str(offer_small["id"])),
            ("Chúc may mắn", "15", "", ""),
        ]
        for i, (label, weight, stock, offer_id) in enumerate(prizes):
            row = rows.nth(i)
            row.locator("[name=prize_label]").fill(label)
            row.locator("[name=prize_weight]").fill(weight)
            row.locator("[name=prize_stock]").fill(stock)
            if offer_id:
                row.locator("[name=prize_offer_id]").select_option(offer_id)  # fills in the value
        odds = page.locator("[data-testid=odds]")
        assert [odds.nth(i).inner_text() for i in range(3)] == ["5.00%", "20.00%", "75.00%"]
        assert rows.nth(0).locator("[name=prize_value]").input_value() == "100000"
        # 1,000 plays: 50 × 100,000 + 200 × 20,000 = 9,000,000; full stock 10 × 100k + 100 × 20k = 3,000,000.
        assert "9,000,000" in page.locator("[data-testid=cost-per-1000]").inner_text()
        assert "3,000,000" in page.locator("[data-testid=cost-full]").inner_text()
        assert "within the budget" in page.locator("[data-testid=budget-check]").inner_text()
        page.screenshot(path=str(ARTIFACTS / "dashboard-campaign-builder.png"), full_page=True)
        page.get_by_role("button", name="Save as draft").click()
        page.wait_for_url("**/dashboard/campaigns/*")
        assert page.locator("[data-testid=status]").get_attribute("data-status") == "draft"

        page.get_by_role("button", name="Activate").click()
        page.wait_for_load_state()
        assert page.locator("[data-testid=status]").get_attribute("data-status") == "active"
        assert len(page.locator("[data-testid=seed-hash]").inner_text()) == 64
        campaign_id = int(page.url.rstrip("/").split("/")[-1])
        assert page.locator("[data-testid=kpi-plays]").inner_text() == "0"

        # Members play through the API while the page is open.
        for n in range(6):
            member = f"dash-{n}"
            live.post("/members", {"external_id": member})
            live.post(f"/members/{member}/plays", {"campaign_id": campaign_id, "plays": 2})
            for _ in range(2):
                assert (
                    live.post(f"/campaigns/{campaign_id}/plays", {"member_external_id": member}).status_code
                    == 201
                )
        stats = live.get(f"/campaigns/{campaign_id}/stats").json()
        page.wait_for_function(
            "document.querySelector('[data-testid=kpi-plays]').textContent === '12'", timeout=15_000
        )
        assert page.locator("[data-testid=kpi-wins]").inner_text() == str(stats["wins"])
        time_chart_total = page.evaluate(
            "Chart.getChart('chart-time').data.datasets[0].data.reduce((a, b) => a + b, 0)"
        )
        assert time_chart_total == 12
        won = page.evaluate("Chart.getChart('chart-prizes').data.datasets[0].data")
        assert won == [p["won"] for p in stats["prizes"]]
        assert page.locator("[data-testid=effectiveness]").is_visible()
        page.screenshot(path=str(ARTIFACTS / "dashboard-campaign-live.png"), full_page=True)
