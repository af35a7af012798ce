"""The customer pages through the test client: member links, the game without JavaScript, the wallet."""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest
from sqlalchemy import select

from games.models import Campaign
from lixi.extensions import db


@pytest.fixture
def linked(api, make_offer):
    offer = make_offer(name="Giảm 20k", value=20000)
    api.post("/members", {"external_id": "m-9", "name": "Chi"})
    campaign = api.post(
        "/campaigns",
        {
            "name": "Vòng quay",
            "game": "spin_wheel",
            "prizes": [{"label": "20k", "weight": 1, "offer_id": offer["id"]}],
        },
    ).get_json()
    api.post(f"/campaigns/{campaign['id']}/activate", {})
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
    assert "Vòng quay" in html and "100.0%" in html and 'data-testid="plays-left">2<' in html


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
    assert refused.status_code == 409 and refused.get_json()["error"]["code"] == "no_plays_left"


def test_wallet_lists_the_members_vouchers(client, api, linked):
    campaign, link = linked
    api.post(f"/campaigns/{campaign['id']}/plays", {"member_external_id": "m-9"})
    wallet = urlsplit(link["wallet_url"])
    html = client.get(f"{wallet.path}?{wallet.query}", headers={"Accept-Language": "vi"}).get_data(
        as_text=True
    )
    assert "Giảm 20k" in html and "Sẵn sàng sử dụng" in html


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
