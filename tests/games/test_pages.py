"""The customer pages through the test client: member links, the game without JavaScript, the wallet."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

import pytest
from sqlalchemy import select

from games.models import Campaign
from lixi.extensions import db
from tests.conftest import error_code


@pytest.fixture
def linked(api, make_offer, make_campaign):
    offer = make_offer(name="Giảm 20k", value=20000)
    api.post("/members", {"external_id": "m-9", "name": "Chi"})
    campaign = make_campaign(offer["id"], name="Vòng quay")
    api.post("/members/m-9/plays", {"campaign_id": campaign["id"], "plays": 2})
    link = api.post("/members/m-9/links", {"campaign_id": campaign["id"]})
    assert link.status_code == 201
    return campaign, link.get_json()


def _csrf(html: str) -> str:
    return html.split('name="csrf_token" value="', 1)[1].split('"', 1)[0]


def test_member_link_opens_the_game_with_odds(client, linked):
    campaign, link = linked
    url = urlsplit(link["url"])
    page = client.get(f"{url.path}?{url.query}", headers={"Accept-Language": "vi"})
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "Vòng quay" in html and 'data-testid="plays-left">2<' in html
    assert "<strong>100,0%</strong>" in html  # the odds in Vietnamese digits (was 100.0%)
    english = client.get(f"{url.path}?{url.query}&lang=en").get_data(as_text=True)
    assert "<strong>100.0%</strong>" in english


def test_forged_or_foreign_links_are_404(client, linked, api):
    campaign, link = linked
    token = urlsplit(link["url"]).query.split("t=", 1)[1]
    assert client.get(f"/play/{campaign['id']}?t={token[:-2]}xx").status_code == 404
    assert client.get(f"/play/{campaign['id'] + 1}?t={token}").status_code == 404
    assert client.get(f"/play/{campaign['id']}").status_code == 404


def test_playing_without_javascript_shows_the_servers_result(client, linked):
    campaign, link = linked
    url = urlsplit(link["url"])
    token = url.query.split("t=", 1)[1]
    html = client.get(f"{url.path}?{url.query}").get_data(as_text=True)
    response = client.post(url.path, data={"t": token, "csrf_token": _csrf(html)})
    assert response.status_code == 200
    body = response.get_data(as_text=True)
    assert 'data-testid="plays-left">1<' in body and "/v/" in body and "qr.svg" in body


def test_playing_with_json_and_without_csrf(client, linked):
    campaign, link = linked
    url = urlsplit(link["url"])
    token = url.query.split("t=", 1)[1]
    assert client.post(url.path, data={"t": token}).status_code == 400  # no CSRF token
    html = client.get(f"{url.path}?{url.query}").get_data(as_text=True)
    result = client.post(
        url.path, data={"t": token, "csrf_token": _csrf(html)}, headers={"Accept": "application/json"}
    )
    body = result.get_json()
    assert body["won"] is True and body["position"] == 0 and body["plays_left"] == 1
    assert client.get(urlsplit(body["voucher"]["url"]).path).status_code == 200
    client.post(
        url.path, data={"t": token, "csrf_token": _csrf(html)}, headers={"Accept": "application/json"}
    )
    refused = client.post(
        url.path, data={"t": token, "csrf_token": _csrf(html)}, headers={"Accept": "application/json"}
    )
    assert refused.status_code == 409 and error_code(refused) == "no_plays_left"


def test_wallet_lists_the_members_vouchers(client, api, linked):
    campaign, link = linked
    api.post(f"/campaigns/{campaign['id']}/plays", {"member_external_id": "m-9"})
    wallet = urlsplit(link["wallet_url"])
    html = client.get(f"{wallet.path}?{wallet.query}", headers={"Accept-Language": "vi"}).get_data(
        as_text=True
    )
    assert "Giảm 20k" in html and "Sẵn sàng sử dụng" in html


def test_the_wallet_lists_no_other_members_vouchers(client, api, linked, make_offer, issue):
    campaign, link = linked
    api.post(f"/campaigns/{campaign['id']}/plays", {"member_external_id": "m-9"})
    api.post("/members", {"external_id": "m-8", "name": "Dung"})
    issue(make_offer(name="Someone else's gift")["id"], member_external_id="m-8")
    wallet = urlsplit(link["wallet_url"])
    html = client.get(f"{wallet.path}?{wallet.query}").get_data(as_text=True)
    assert html.count('data-status="issued"') == 1 and "Someone else's gift" not in html


def test_fairness_page_reveals_and_checks_after_the_end(app, client, api, linked):
    campaign, _ = linked
    for _ in range(2):
        api.post(f"/campaigns/{campaign['id']}/plays", {"member_external_id": "m-9"})
    before = client.get(f"/fairness/{campaign['id']}").get_data(as_text=True)
    stored = db.session.execute(select(Campaign).where(Campaign.id == campaign["id"])).scalar_one()
    assert stored.seed_hash in before and stored.seed not in before
    api.post(f"/campaigns/{campaign['id']}/end", {})
    after = client.get(f"/fairness/{campaign['id']}", headers={"Accept-Language": "en"}).get_data(
        as_text=True
    )
    assert stored.seed in after and "2 plays recomputed from the seed and match; 0 do not." in after


def test_the_fairness_check_counts_a_play_the_seed_does_not_give(client, api, linked):
    from games.fairness import check_campaign
    from games.models import Play

    campaign, _ = linked
    for _ in range(2):
        api.post(f"/campaigns/{campaign['id']}/plays", {"member_external_id": "m-9"})
    api.post(f"/campaigns/{campaign['id']}/end", {})
    tampered = db.session.execute(select(Play).where(Play.campaign_id == campaign["id"])).scalars().first()
    tampered.prize_id = None  # the seed gave it the 20k: a stored "nothing" does not follow
    db.session.commit()
    check = check_campaign(campaign["id"])
    assert (check.revealed, check.checked, check.failed) == (True, 1, 1)
    page = client.get(f"/fairness/{campaign['id']}", headers={"Accept-Language": "en"}).get_data(as_text=True)
    assert "1 plays recomputed from the seed and match; 1 do not." in page


def test_a_campaign_never_activated_has_no_fairness_page(client, api):
    draft = api.post(
        "/campaigns", {"name": "Draft", "game": "spin_wheel", "prizes": [{"label": "Nothing", "weight": 1}]}
    ).get_json()
    assert client.get(f"/fairness/{draft['id']}").status_code == 404
    assert client.get(f"/fairness/{draft['id'] + 1}").status_code == 404


def _play_once(client, link) -> None:
    url = urlsplit(link["url"])
    token = url.query.split("t=", 1)[1]
    html = client.get(f"{url.path}?{url.query}").get_data(as_text=True)
    played = client.post(url.path, data={"t": token, "csrf_token": _csrf(html)})
    assert played.status_code == 200


def test_a_play_from_the_game_page_is_audited_as_the_member(app, client, linked):
    from lixi.models import AuditEvent, Member

    campaign, link = linked
    _play_once(client, link)
    member = db.session.execute(select(Member).where(Member.external_id == "m-9")).scalar_one()
    actors = (
        db.session.execute(select(AuditEvent.actor).where(AuditEvent.action.startswith("play.")))
        .scalars()
        .all()
    )
    assert actors and set(actors) == {f"member:{member.id}"}  # was "anonymous"


def _device_cookie(response) -> str:
    return next(h for h in response.headers.getlist("Set-Cookie") if h.startswith("lixi_device="))


def test_the_device_cookie_is_secure_when_the_site_is_https(app, client, linked):
    campaign, link = linked
    url = urlsplit(link["url"])
    plain = _device_cookie(client.get(f"{url.path}?{url.query}"))
    assert "HttpOnly" in plain and "Secure" not in plain
    app.config["PUBLIC_BASE_URL"] = "https://vouchers.example.vn"
    fresh = app.test_client()
    secure = _device_cookie(fresh.get(f"{url.path}?{url.query}"))
    assert "; Secure" in secure and "HttpOnly" in secure and "SameSite=Lax" in secure


def test_every_slice_label_on_the_wheel_passes_wcag_aa_contrast(client, api, make_offer):
    from games.views import SLICE_COLOURS, contrast_ratio

    offer = make_offer(name="Giảm 10k", value=10000)
    for n in range(1, 9):  # every count of slices, so every colour and the odd-count wrap are drawn
        prizes = [{"label": f"Quà {i}", "weight": 1, "offer_id": offer["id"]} for i in range(n)]
        campaign = api.post("/campaigns", {"name": f"Wheel {n}", "game": "spin_wheel", "prizes": prizes})
        campaign = campaign.get_json()
        api.post(f"/campaigns/{campaign['id']}/activate", {})
        api.post("/members", {"external_id": f"w-{n}"})
        link = api.post(f"/members/w-{n}/links", {"campaign_id": campaign["id"]}).get_json()
        url = urlsplit(link["url"])
        html = client.get(f"{url.path}?{url.query}").get_data(as_text=True)
        slices = re.findall(
            r'<path d="[^"]+" class="slice" fill="(#[0-9a-f]{6})"/>\s*<text [^>]*fill="(#[0-9a-f]{6})"', html
        )
        assert len(slices) == n
        for background, ink in slices:
            assert background in SLICE_COLOURS
            assert contrast_ratio(ink, background) >= 4.5, (background, ink)
        fills = [background for background, _ in slices]
        assert n == 1 or fills[0] != fills[-1]  # neighbours round the circle differ


def test_contrast_ratio_matches_wcag_examples():
    from games.views import contrast_ratio, label_ink

    assert round(contrast_ratio("#000000", "#ffffff"), 1) == 21.0
    assert round(contrast_ratio("#c8102e", "#ffffff"), 2) == 5.88
    assert contrast_ratio("#1d1d1f", "#c8102e") < 4.5  # the old dark label on the red slice
    assert label_ink("#c8102e") == "#ffffff" and label_ink("#f4c542") == "#1d1d1f"
