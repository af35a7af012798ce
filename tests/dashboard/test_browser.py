"""End to end in headless Chromium: build a campaign in the dashboard, activate it, watch it live."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.browser import assert_accessible, chromium, log_in_with_form, watch
from tests.live import running_lixi
from tests.vouchers.merchant_helpers import PASSWORD

pytestmark = [pytest.mark.slow, pytest.mark.live]
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"


@pytest.fixture(scope="module")
def live(tmp_path_factory, redis_url, migrated):
    folder = tmp_path_factory.mktemp("dashboard")
    admin = {"email": "marketing@live.vn", "password": PASSWORD, "role": "brand_admin", "merchant_ids": []}
    with running_lixi(folder, redis_url, DASHBOARD_REFRESH_SECONDS="0.5") as lixi:
        assert lixi.post("/staff", admin).status_code == 201
        yield lixi


@pytest.fixture(scope="module")
def browser():
    with chromium() as browser:  # one Chromium for the module's tests (each gets its own context)
        yield browser


def log_in(page, live, button: str = "Log in") -> None:
    page.goto(f"{live.server.url}/dashboard")
    log_in_with_form(page, live.brand_slug, "marketing@live.vn", PASSWORD, button, "**/dashboard")


def test_build_a_campaign_activate_it_and_watch_the_figures(live, browser):
    offer_big = live.post("/offers", {"name": "Giảm 100k", "kind": "fixed_amount", "value": 100000}).json()
    offer_small = live.post("/offers", {"name": "Giảm 20k", "kind": "fixed_amount", "value": 20000}).json()
    ARTIFACTS.mkdir(exist_ok=True)
    with browser.new_context(viewport={"width": 1366, "height": 900}, locale="en-US") as context:
        page = context.new_page()
        watched = watch(page)
        log_in(page, live)

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
        assert_accessible(page, "campaign builder")
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
            "() => document.querySelector('[data-testid=kpi-plays]').textContent === '12'", timeout=15_000
        )
        assert page.locator("[data-testid=kpi-wins]").inner_text() == str(stats["wins"])
        time_chart_total = page.evaluate(
            "Chart.getChart('chart-time').data.datasets[0].data.reduce((a, b) => a + b, 0)"
        )
        assert time_chart_total == 12
        won = page.evaluate("Chart.getChart('chart-prizes').data.datasets[0].data")
        assert won == [p["won"] for p in stats["prizes"]]
        assert page.locator("[data-testid=effectiveness]").is_visible()
        assert_accessible(page, "campaign page")
        page.screenshot(path=str(ARTIFACTS / "dashboard-campaign-live.png"), full_page=True)
        watched.check()


def _boxes(page) -> list[dict]:
    """Each chart's figure: its caption's and canvas's boxes (page coordinates)."""
    return page.evaluate(
        """() => Array.from(document.querySelectorAll('.charts figure')).map((figure) => {
             const box = (el) => { const r = el.getBoundingClientRect();
                                   return {top: r.top, bottom: r.bottom, left: r.left, right: r.right}; };
             return {id: figure.querySelector('canvas').id, caption: box(figure.querySelector('figcaption')),
                     canvas: box(figure.querySelector('canvas')), figure: box(figure)};
           })"""
    )


DASHBOARD_PAGES = [
    "",
    "/campaigns",
    "/campaigns/new",
    "/offers",
    "/stores",
    "/staff",
    "/issues",
    "/exports",
    "/api-keys",
    "/webhooks",
    "/audit",
]


def test_every_page_in_vietnamese_passes_axe_and_the_csp_and_keeps_its_charts_in_their_boxes(live, browser):
    offer = live.post("/offers", {"name": "Giảm 50k", "kind": "fixed_amount", "value": 50000}).json()
    prizes = [
        {"label": "Giảm 50k", "weight": 1, "offer_id": offer["id"], "stock": 10},
        {"label": "Chúc may mắn", "weight": 9},
    ]
    body = {"name": "Vòng quay Thu", "game": "spin_wheel", "prizes": prizes, "budget": 1_000_000}
    campaign = live.post("/campaigns", body).json()
    live.post(f"/campaigns/{campaign['id']}/activate", {})
    live.post("/members", {"external_id": "vi-1"})
    live.post("/members/vi-1/plays", {"campaign_id": campaign["id"], "plays": 3})
    for _ in range(3):
        live.post(f"/campaigns/{campaign['id']}/plays", {"member_external_id": "vi-1"})

    with browser.new_context(viewport={"width": 1366, "height": 900}, locale="vi-VN") as context:
        page = context.new_page()
        watched = watch(page)
        page.goto(f"{live.server.url}/dashboard/login?lang=vi")
        assert_accessible(page, "dashboard log-in")
        log_in(page, live, "Đăng nhập")

        page.goto(f"{live.server.url}/dashboard/campaigns/{campaign['id']}")
        page.wait_for_function("() => window.Chart && Chart.getChart('chart-budget')")
        assert page.locator("html").get_attribute("lang") == "vi"
        odds = page.locator("table.table").first.inner_text()
        assert "10,00%" in odds and "90,00%" in odds  # Vietnamese digits (was 10.0%)
        # Dates written as text follow the page's language: the time axis reads 30/11 (vi), not the
        # server's 2026-11-30 (date inputs are the browser's own control, drawn in its language).
        ticks = page.evaluate("() => Chart.getChart('chart-time').scales.x.ticks.map((t) => t.label)")
        assert ticks and all(
            re.fullmatch(r"\d\d:\d\d \d{1,2}/\d{1,2}|\d{1,2}/\d{1,2}/\d{4}", t) for t in ticks
        ), ticks
        figures = _boxes(page)
        for figure in figures:  # each chart stays in its own box, under its caption, inside its figure
            assert figure["canvas"]["top"] >= figure["caption"]["bottom"] - 0.5, figure
            assert figure["canvas"]["bottom"] <= figure["figure"]["bottom"] + 0.5, figure
        for upper, lower in zip(figures, figures[2:], strict=False):  # two charts a row
            assert upper["canvas"]["bottom"] <= lower["caption"]["top"], (upper, lower)
        doughnut = next(f for f in figures if f["id"] == "chart-budget")
        panel = page.locator("#figures").bounding_box()
        assert doughnut["canvas"]["right"] <= panel["x"] + panel["width"]
        assert doughnut["canvas"]["bottom"] <= panel["y"] + panel["height"]
        assert_accessible(page, "campaign page (vi)")
        page.screenshot(path=str(ARTIFACTS / "dashboard-campaign-vi.png"), full_page=True)

        for path in [*DASHBOARD_PAGES, f"/offers/{offer['id']}"]:
            page.goto(f"{live.server.url}/dashboard{path}")
            assert page.locator("html").get_attribute("lang") == "vi", path
            assert_accessible(page, f"/dashboard{path}")

        # The audit log reads as words in the page's language, not JSON with \u escapes.
        page.goto(f"{live.server.url}/dashboard/audit?action=campaign.")
        details = page.locator("[data-testid=details]").all_inner_texts()
        assert any("tên: Vòng quay Thu" in d for d in details), details
        assert not any("\\u" in d or "{" in d for d in details), details
        page.screenshot(path=str(ARTIFACTS / "dashboard-audit-vi.png"), full_page=True)
        watched.check()
