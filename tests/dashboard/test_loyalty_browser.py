"""End to end in headless Chromium: a brand admin finds a member by phone, adjusts their points, and
the member's page shows the new balance; every loyalty page passes axe and the CSP."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import requests

from tests.browser import assert_accessible, chromium, log_in_with_form, watch
from tests.live import running_lixi
from tests.vouchers.merchant_helpers import PASSWORD

pytestmark = [pytest.mark.slow, pytest.mark.live]
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
ADMIN = "loyalty-admin@live.vn"


@pytest.fixture(scope="module")
def live(tmp_path_factory, redis_url, migrated):
    folder = tmp_path_factory.mktemp("loyalty-dashboard")
    admin = {"email": ADMIN, "password": PASSWORD, "role": "brand_admin", "merchant_ids": []}
    with running_lixi(folder, redis_url) as lixi:
        assert lixi.post("/staff", admin).status_code == 201
        yield lixi


def test_an_admin_adjusts_a_members_points_and_sees_the_new_balance(live):
    programme = {
        "name": "Bông Sen",
        "earn": [{"event": "purchase", "points_per": {"amount": 10000, "points": 1}}],
        "tiers": [{"name": "Bạc", "min_points": 0}, {"name": "Vàng", "min_points": 1000}],
        "tier_multipliers": {"Vàng": 1.5},
        "point_value": 100,
        "member_goal": 1000,
        "member_goal_date": "2030-12-31",
    }
    response = requests.put(live.url("/loyalty"), json=programme, headers=live.headers, timeout=60)
    assert response.status_code == 200, response.text
    member = {"external_id": "kh-42", "name": "Nguyễn Thị Hoa", "phone": "0903111222"}
    assert live.post("/members", member).status_code == 201
    body = {"member_external_id": "kh-42", "type": "purchase", "external_id": "bill-1", "amount": 500_000}
    assert live.post("/events", body).status_code == 201  # 50 points
    offer = live.post("/offers", {"name": "Cà phê", "kind": "free_item", "value": 0}).json()
    assert (
        live.post("/rewards", {"name": "Ly cà phê", "offer_id": offer["id"], "cost_points": 20}).status_code
        == 201
    )
    ARTIFACTS.mkdir(exist_ok=True)

    with (
        chromium() as browser,
        browser.new_context(viewport={"width": 1366, "height": 900}, locale="en-US") as context,
    ):
        page = context.new_page()
        watched = watch(page)
        page.goto(f"{live.server.url}/dashboard/login?lang=en")
        log_in_with_form(page, live.brand_slug, ADMIN, PASSWORD, "Log in", "**/dashboard")

        page.get_by_role("link", name="Loyalty", exact=True).click()
        page.wait_for_url("**/dashboard/loyalty")
        sentence = page.locator("[data-testid=preview-sentence]").inner_text()
        assert "50 points for Bạc" in sentence and "75 points for Vàng" in sentence, sentence
        page.get_by_role("link", name="Members", exact=True).click()
        page.fill("input[name=q]", "+84 903 111 222")  # stored as 0903…, typed the international way
        page.get_by_role("button", name="Search").click()
        page.get_by_role("link", name="kh-42").click()
        page.wait_for_url("**/dashboard/loyalty/members/*")
        assert page.locator("[data-testid=balance]").inner_text() == "50"

        page.fill("input[name=points]", "+150")
        page.fill("input[name=reason]", "Bù điểm hoá đơn nhập sót")
        page.get_by_role("button", name="Adjust", exact=True).click()
        page.wait_for_load_state()
        assert page.locator("[data-testid=balance]").inner_text() == "200"
        assert "Points adjusted." in page.locator("[role=status]").inner_text()
        ledger = page.locator("[data-testid=ledger] tbody tr").first.inner_text()
        assert "+150" in ledger and "Bù điểm hoá đơn nhập sót" in ledger
        assert live.get("/members/kh-42/loyalty").json()["points"] == 200  # the API agrees
        page.screenshot(path=str(ARTIFACTS / "dashboard-loyalty-member.png"), full_page=True)
        assert_accessible(page, "loyalty member page")

        # Too many points back: refused beside the field (a 422, on purpose), nothing changes.
        watched.allowed_statuses = (422,)
        page.fill("input[name=points]", "-5000")
        page.fill("input[name=reason]", "Nhầm")
        page.get_by_role("button", name="Adjust", exact=True).click()
        page.wait_for_load_state()
        assert "below zero" in page.locator("[data-testid=form-errors]").inner_text()
        assert page.locator("[data-testid=balance]").inner_text() == "200"
        member_url = page.url.split("?")[0]

        # Every loyalty page in Vietnamese passes axe; the report draws its chart, the statement prints.
        for path in ("", "/members", "/rewards", "/report"):
            page.goto(f"{live.server.url}/dashboard/loyalty{path}?lang=vi")
            assert page.locator("html").get_attribute("lang") == "vi", path
            assert_accessible(page, f"/dashboard/loyalty{path}")
        page.goto(f"{live.server.url}/dashboard/loyalty/report?lang=vi")
        page.wait_for_function("() => window.Chart && Chart.getChart('chart-growth')")
        assert (
            page.evaluate("() => Chart.getChart('chart-growth').data.datasets.length") == 2
        )  # members, goal
        page.screenshot(path=str(ARTIFACTS / "dashboard-loyalty-report.png"), full_page=True)
        page.goto(f"{member_url}/statement?lang=vi")
        assert page.get_by_role("button", name="In").is_visible()  # the print button, shown by the script
        closing = page.locator("[data-testid=closing]").inner_text()
        assert re.sub(r"\D", "", closing) == "200"
        assert_accessible(page, "statement")
        page.emulate_media(media="print")
        assert not page.locator(".sidebar").is_visible()  # the printed page is the statement alone
        page.screenshot(path=str(ARTIFACTS / "dashboard-loyalty-statement-print.png"), full_page=True)
        watched.check()
