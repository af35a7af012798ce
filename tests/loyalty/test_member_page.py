"""The member's own page (/me) through the test client: the link without a campaign, what the page
shows (points, tier progress, history in words, rewards, vouchers, games, referral, member card),
the exchange without JavaScript (confirm, CSRF, the voucher's QR) and the 404s."""

from __future__ import annotations

import re
import time
from urllib.parse import parse_qs, urlsplit

import pytest
from itsdangerous.timed import TimestampSigner
from sqlalchemy import select

from lixi.extensions import db
from lixi.models import AuditEvent
from tests.loyalty.conftest import PER_10K

TIERS = [{"name": "Bạc", "min_points": 0}, {"name": "Vàng", "min_points": 1250}]


def _path(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.path}?{parts.query}"


def _token(url: str) -> str:
    return parse_qs(urlsplit(url).query)["t"][0]


def _csrf(html: str) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)


def _text(html: str) -> str:
    """The page's text with tags dropped and whitespace folded, for reading sentences."""
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


@pytest.fixture
def me(api, make_programme, make_member, purchase):
    """A member with 50 points (a 500,000 ₫ purchase), a link to their page."""
    make_programme(earn=[PER_10K], tiers=TIERS)
    make_member("m-1", name="Nguyễn Văn An", phone="0901000001")
    purchase("m-1", 500000, external_id="bill-1")
    response = api.post("/members/m-1/links", {})
    assert response.status_code == 201, response.get_json()
    return response.get_json()["url"]


def test_a_link_without_a_campaign_opens_the_members_page(client, me):
    assert urlsplit(me).path == "/me"
    page = client.get(_path(me), headers={"Accept-Language": "vi"})
    assert page.status_code == 200
    assert page.headers["Cache-Control"] == "no-store"
    html = page.get_data(as_text=True)
    text = _text(html)
    assert 'data-testid="points">50<' in html
    assert 'data-testid="tier">Bạc<' in html
    assert "còn 1.200 điểm để lên Vàng" in text
    assert '<progress class="tier-progress" max="1250" value="50"' in html
    assert "+50 điểm — mua hàng 500.000 ₫" in text  # the history in words
    assert 'data-testid="phone">0901000001<' in html
    qr = re.search(r'data-testid="member-qr" src="(/m/[^"]+/qr.svg)"', html).group(1)
    svg = client.get(qr)
    assert svg.status_code == 200 and svg.mimetype == "image/svg+xml"


def test_the_page_in_english(client, me):
    text = _text(client.get(_path(me) + "&lang=en").get_data(as_text=True))
    assert "1,200 points to Vàng" in text
    assert "+50 points — purchase ₫500,000" in text


def test_rewards_say_why_not_and_offer_an_exchange_when_affordable(client, me, make_reward):
    cheap = make_reward(cost_points=30, name="Cà phê")
    dear = make_reward(cost_points=300, name="Bánh mì")
    html = client.get(_path(me)).get_data(as_text=True)
    rewards = {
        int(match.group(1)): match.group(2)
        for match in re.finditer(r'<li class="reward" data-reward="(\d+)">(.*?)</li>', html, re.S)
    }
    assert 'data-testid="exchange"' in rewards[cheap["id"]]
    assert 'data-testid="exchange"' not in rewards[dear["id"]]
    english = client.get(_path(me) + "&lang=en").get_data(as_text=True)
    assert re.search(r'data-testid="reason">250 more points needed<', english)


def test_exchange_confirm_then_voucher_with_its_qr(client, me, make_reward, balance, ledger_of):
    reward = make_reward(cost_points=30, name="Cà phê")
    token = _token(me)
    confirm = client.get(f"/me/rewards/{reward['id']}?t={token}")
    assert confirm.status_code == 200
    assert balance("m-1") == 50  # the confirm step changes nothing
    form = {"t": token, "csrf_token": _csrf(confirm.get_data(as_text=True))}

    no_csrf = client.post(f"/me/rewards/{reward['id']}", data={"t": token})
    assert no_csrf.status_code == 400
    assert balance("m-1") == 50

    done = client.post(f"/me/rewards/{reward['id']}", data=form)
    assert done.status_code == 303
    assert balance("m-1") == 20
    voucher_page = client.get(done.headers["Location"])
    assert voucher_page.status_code == 200
    html = voucher_page.get_data(as_text=True)
    qr = re.search(r'data-testid="voucher-qr" src="([^"]+)"', html).group(1)
    assert client.get(_path(qr) if "://" in qr else qr).status_code == 200
    # The member's page now lists the voucher and says where the points went, in words.
    text = _text(client.get(_path(me)).get_data(as_text=True))
    assert "−30 điểm — đổi quà Cà phê" in text
    assert ledger_of("m-1")[0]["kind"] == "spend"
    exchanged = select(AuditEvent.actor).where(AuditEvent.action == "reward.exchanged")
    actors = list(db.session.execute(exchanged).scalars())
    assert actors and all(actor.startswith("member:") for actor in actors)


def test_an_exchange_without_enough_points_shows_the_reason(client, me, make_reward, balance):
    reward = make_reward(cost_points=300, name="Bánh mì")
    token = _token(me)
    confirm = client.get(f"/me/rewards/{reward['id']}?t={token}")
    assert confirm.status_code == 200
    html = confirm.get_data(as_text=True)
    assert 'data-testid="refusal"' in html and "250" in _text(html)
    refused = client.post(f"/me/rewards/{reward['id']}", data={"t": token, "csrf_token": _csrf(html)})
    assert refused.status_code == 409
    assert "250" in _text(refused.get_data(as_text=True))
    assert balance("m-1") == 50


def test_the_voucher_of_another_member_is_not_shown(client, me, api, make_member, make_reward, give_points):
    reward = make_reward(cost_points=10)
    make_member("m-2")
    give_points("m-2", 100)
    other = api.post(f"/rewards/{reward['id']}/exchanges", {"member_external_id": "m-2"}).get_json()
    assert client.get(f"/me/vouchers/{other['voucher']['token']}?t={_token(me)}").status_code == 404


def test_forged_expired_and_missing_links_are_404(client, me, api, monkeypatch):
    token = _token(me)
    assert client.get(f"/me?t={token[:-2]}xx").status_code == 404
    assert client.get("/me").status_code == 404
    past = int(time.time()) - 31 * 86400
    with monkeypatch.context() as patch:
        patch.setattr(TimestampSigner, "get_timestamp", lambda self: past)
        old = api.post("/members/m-1/links", {}).get_json()["url"]
    assert client.get(_path(old)).status_code == 404


def test_another_brands_member_and_reward_are_404(
    client, me, make_brand, make_programme, make_member, make_reward, api
):
    other = make_brand("Trà Sữa")
    make_programme(who=other)
    make_member("m-1", who=other)
    their_reward = make_reward(cost_points=1, who=other)
    their_link = api.post("/members/m-1/links", {}, who=other).get_json()["url"]
    assert client.get(_path(their_link)).status_code == 200  # their own member opens their page
    token = _token(me)
    assert client.get(f"/me/rewards/{their_reward['id']}?t={token}").status_code == 404
    ours = make_reward(cost_points=1)
    html = client.get(f"/me/rewards/{ours['id']}?t={token}").get_data(as_text=True)
    refused = client.post(f"/me/rewards/{their_reward['id']}", data={"t": token, "csrf_token": _csrf(html)})
    assert refused.status_code == 404


def test_game_links_and_the_members_page_keep_to_their_own(client, api, me, make_offer, make_campaign):
    campaign = make_campaign(make_offer()["id"], name="Vòng quay")
    api.post("/members/m-1/plays", {"campaign_id": campaign["id"], "plays": 2})
    # A link for the member's page does not open a game; a game's link opens the member's page.
    assert client.get(f"/play/{campaign['id']}?t={_token(me)}").status_code == 404
    game_link = api.post("/members/m-1/links", {"campaign_id": campaign["id"]}).get_json()
    assert urlsplit(game_link["url"]).path == f"/play/{campaign['id']}"
    assert client.get(f"/me?t={_token(game_link['url'])}").status_code == 200
    # The member's page lists the game with its plays and a fresh link that opens it.
    html = client.get(_path(me)).get_data(as_text=True)
    play = re.search(r'href="(/play/\d+\?t=[^"]+)"', html).group(1).replace("&amp;", "&")
    assert "Vòng quay" in html and "2" in _text(html)
    assert client.get(play).status_code == 200


def test_the_member_card_page_shows_nothing_private(client, me):
    html = client.get(_path(me)).get_data(as_text=True)
    card = re.search(r'src="(/m/[^"/]+)/qr.svg"', html).group(1)
    page = client.get(card)
    assert page.status_code == 200
    body = page.get_data(as_text=True)
    assert "Nguyễn Văn An" not in body and "0901000001" not in body and "50" not in _text(body).split()
    assert client.get(card[:-2] + "xx").status_code == 404


def test_the_referral_link_lands_on_an_invitation(client, api, make_programme, make_member):
    make_programme(referral={"referrer_points": 100, "referee_points": 50})
    make_member("m-1", name="Trần Thị Bích")
    url = api.post("/members/m-1/links", {}).get_json()["url"]
    html = client.get(_path(url)).get_data(as_text=True)
    share = re.search(
        r'data-testid="share-url"[^>]*value="([^"]+)"|value="([^"]+)"[^>]*data-testid="share-url"', html
    )
    share_url = share.group(1) or share.group(2)
    assert "facebook.com/sharer/sharer.php?u=" in html
    landing = client.get(urlsplit(share_url).path)
    assert landing.status_code == 200
    text = _text(landing.get_data(as_text=True))
    assert "Bích" in text and "50" in text
    assert client.get("/r/NOSUCHCODE").status_code == 404


def test_without_a_programme_the_page_shows_vouchers_and_the_card(client, api, make_member, offer, issue):
    make_member("m-1", name="Lý Văn Tâm")
    issue(offer["id"], member_external_id="m-1")
    url = api.post("/members/m-1/links", {}).get_json()["url"]
    page = client.get(_path(url))
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert 'data-testid="points"' not in html and "chưa có chương trình tích điểm" in _text(html)
    assert offer["name"] in html and 'data-testid="member-qr"' in html


def test_exchanges_are_limited_per_member_whichever_link(
    client, app, api, me, make_reward, make_offer, make_campaign, balance
):
    app.config["RATE_LIMIT_EXCHANGES_PER_MEMBER"] = "1 per minute"
    reward = make_reward(cost_points=10)
    campaign = make_campaign(make_offer()["id"])
    game_link = api.post("/members/m-1/links", {"campaign_id": campaign["id"]}).get_json()["url"]
    statuses = []
    for token in (_token(me), _token(game_link)):  # two different links of one member
        html = client.get(f"/me/rewards/{reward['id']}?t={token}").get_data(as_text=True)
        form = {"t": token, "csrf_token": _csrf(html)}
        statuses.append(client.post(f"/me/rewards/{reward['id']}", data=form).status_code)
    assert statuses == [303, 429]
    assert balance("m-1") == 40


def test_the_wallet_of_a_member_page_link_leads_back_to_the_page(client, me):
    response = client.get(f"/wallet?t={_token(me)}")
    assert response.status_code == 200
    assert f'href="/me?t={_token(me)}"' in response.get_data(as_text=True)
