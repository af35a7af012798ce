"""The member card at the till through the test client: a cashier finds the member by the card's
QR or by phone number, records the bill, and the purchase earns by the programme's rules, once
per confirmation, audited with the cashier and the store, within the per-cashier limit."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

import pytest
from sqlalchemy import select

from games.models import MemberEvent
from lixi.extensions import db
from lixi.models import AuditEvent
from loyalty.links import normalize_phone
from loyalty.views import PHONE_TYPED
from tests.loyalty.conftest import PER_10K
from tests.vouchers.merchant_helpers import logged_in, make_staff

TIERS = [{"name": "Bạc", "min_points": 0}, {"name": "Vàng", "min_points": 1000}]


def _text(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


def _card_url(client, api, external_id: str, who=None) -> str:
    """The member card URL a QR holds, read from the member's own page."""
    link = urlsplit(
        api.post(f"/members/{external_id}/links", {}, **({"who": who} if who else {})).get_json()["url"]
    )
    html = client.get(f"{link.path}?{link.query}").get_data(as_text=True)
    token = re.search(r'src="/m/([^"/]+)/qr.svg"', html).group(1)
    return f"http://localhost/m/{token}"


def _form(html: str) -> dict:
    """The fields of the till's purchase form (CSRF token, card, key) as the page drew them."""
    form = re.search(r'<form method="post" action="/merchant/members/purchases".*?</form>', html, re.S).group(
        0
    )
    return dict(re.findall(r'<input type="hidden" name="(\w+)" value="([^"]*)"', form))


@pytest.fixture
def till(app, api, merchant, make_programme, make_member):
    make_programme(earn=[PER_10K], tiers=TIERS, tier_multipliers={"Vàng": 1.5})
    make_member("m-1", name="Lê Thị Hoa", phone="0912 345 678")
    make_staff(api, "thu.ngan@cafe.vn", [merchant["id"]])
    return logged_in(app, "merchant", "thu.ngan@cafe.vn")


def test_phone_numbers_are_read_the_vietnamese_way():
    assert normalize_phone("0912345678") == "+84912345678"
    assert normalize_phone("+84 912 345 678") == "+84912345678"
    assert normalize_phone("84912345678") == "+84912345678"
    assert normalize_phone("091-234-5678") == "+84912345678"
    assert normalize_phone("12345") is None
    assert normalize_phone("AB12-CD34") is None


def test_the_scanner_takes_typed_phone_numbers_but_not_voucher_codes():
    # The page's script runs this pattern (the same syntax in JavaScript) on what the cashier typed.
    for phone in ("0912345678", "0912 345 678", "+84 912 345 678", "(028) 3822 1234"):
        assert re.match(PHONE_TYPED, phone), phone
    for code in ("7M3K-9QXR-T2VB-4H", "7M3K9QXRT2VB4H", "1234-5678-9012-34", "12345"):
        assert not re.match(PHONE_TYPED, code), code


def test_find_by_card_record_a_bill_and_earn_by_the_programme(till, client, api, merchant, balance):
    card = _card_url(client, api, "m-1")
    found = till.get("/merchant/members", query_string={"code": card})
    assert found.status_code == 200
    html = found.get_data(as_text=True)
    assert 'data-testid="member-name">Lê Thị Hoa' in html
    assert 'data-testid="member-tier">Bạc<' in html and 'data-testid="member-points">0<' in html
    assert "0912 345 678" not in html  # the cashier sees the last digits only

    done = till.post("/merchant/members/purchases", data={**_form(html), "amount": "450.000"})
    assert done.status_code == 201
    assert "+45 điểm" in _text(done.get_data(as_text=True))
    assert balance("m-1") == 45  # 1 point per 10,000 ₫, as the API would earn
    event = db.session.execute(select(MemberEvent)).scalar_one()
    assert event.type == "purchase" and event.amount == 450000
    audit = db.session.execute(
        select(AuditEvent).where(AuditEvent.action == "member_event.recorded_at_till")
    ).scalar_one()
    assert audit.actor.startswith("staff:") and audit.data["merchant_id"] == merchant["id"]
    assert audit.data["member_external_id"] == "m-1" and audit.data["amount"] == 450000


def test_find_by_phone_typed_any_usual_way(till, api, make_member):
    make_member("m-2", name="Phạm Văn Nam", phone="+84987654321")
    for typed in ("0912345678", "+84 912 345 678", "0912.345.678"):
        html = till.get("/merchant/members", query_string={"code": typed}).get_data(as_text=True)
        assert "Lê Thị Hoa" in html and "Phạm Văn Nam" not in html, typed
    assert "Phạm Văn Nam" in till.get("/merchant/members?code=0987654321").get_data(as_text=True)
    missing = till.get("/merchant/members?code=0900000000")
    assert missing.status_code == 404 and 'data-testid="till-error"' in missing.get_data(as_text=True)


def test_members_sharing_a_phone_are_all_offered(till, make_member, balance):
    make_member("m-3", name="Lê Văn Phúc", phone="84912345678")  # the same phone, stored another way
    html = till.get("/merchant/members", query_string={"code": "0912345678"}).get_data(as_text=True)
    assert html.count('data-testid="till-member"') == 2 and "Lê Văn Phúc" in html
    forms = re.findall(r'<form method="post" action="/merchant/members/purchases".*?</form>', html, re.S)
    second = dict(re.findall(r'<input type="hidden" name="(\w+)" value="([^"]*)"', forms[1]))
    assert till.post("/merchant/members/purchases", data={**second, "amount": "100000"}).status_code == 201
    assert (balance("m-1"), balance("m-3")) == (0, 10)


def test_a_double_submit_records_the_purchase_once(till, client, api, balance):
    html = till.get("/merchant/members", query_string={"code": _card_url(client, api, "m-1")}).get_data(
        as_text=True
    )
    form = {**_form(html), "amount": "500000"}
    first = till.post("/merchant/members/purchases", data=form)
    again = till.post("/merchant/members/purchases", data=form)
    assert (first.status_code, again.status_code) == (201, 200)
    assert "+50 điểm" in _text(again.get_data(as_text=True))  # the same result, shown again
    assert balance("m-1") == 50
    assert len(db.session.execute(select(MemberEvent)).scalars().all()) == 1
    # A new confirmation (a fresh form) is a new purchase.
    fresh = till.get("/merchant/members", query_string={"code": "0912345678"}).get_data(as_text=True)
    assert (
        till.post("/merchant/members/purchases", data={**_form(fresh), "amount": "500000"}).status_code == 201
    )
    assert balance("m-1") == 100


def test_the_tier_multiplier_applies_at_the_till(till, client, api, give_points, purchase, balance):
    purchase("m-1", 10_000_000)  # 1,000 points: Vàng
    html = till.get("/merchant/members", query_string={"code": "0912345678"}).get_data(as_text=True)
    assert 'data-testid="member-tier">Vàng<' in html
    till.post("/merchant/members/purchases", data={**_form(html), "amount": "200000"})
    assert balance("m-1") == 1000 + 30  # 20 points × 1.5


def test_plays_are_earned_too(till, client, api, make_offer, make_campaign):
    make_campaign(make_offer()["id"], name="Vòng quay", earning_rules=[{"event": "purchase", "plays": 2}])
    html = till.get("/merchant/members", query_string={"code": "0912345678"}).get_data(as_text=True)
    done = till.post("/merchant/members/purchases", data={**_form(html), "amount": "100000"})
    assert "+2 lượt chơi Vòng quay" in _text(done.get_data(as_text=True))


def test_another_brands_card_is_refused_like_a_forged_one(till, client, api, make_brand, make_member):
    other = make_brand("Trà Sữa")
    make_member("m-9", who=other, name="Khách khác")
    foreign = _card_url(client, api, "m-9", who=other)
    refused = till.get("/merchant/members", query_string={"code": foreign})
    forged = till.get("/merchant/members", query_string={"code": foreign[:-3] + "abc"})
    assert refused.status_code == forged.status_code == 404
    assert "Khách khác" not in refused.get_data(as_text=True)
    # Posting another brand's card straight to the form is refused too, and records nothing.
    html = till.get("/merchant/members", query_string={"code": "0912345678"}).get_data(as_text=True)
    form = {**_form(html), "card": foreign.rsplit("/", 1)[1], "amount": "100000"}
    assert till.post("/merchant/members/purchases", data=form).status_code == 404
    assert db.session.execute(select(MemberEvent)).first() is None


def test_a_bad_amount_or_no_csrf_records_nothing(till, client, api):
    html = till.get("/merchant/members", query_string={"code": "0912345678"}).get_data(as_text=True)
    assert till.post("/merchant/members/purchases", data={**_form(html), "amount": "abc"}).status_code == 422
    assert till.post("/merchant/members/purchases", data={**_form(html), "amount": "0"}).status_code == 422
    no_csrf = {k: v for k, v in _form(html).items() if k != "csrf_token"}
    assert till.post("/merchant/members/purchases", data={**no_csrf, "amount": "1000"}).status_code == 400
    assert db.session.execute(select(MemberEvent)).first() is None


def test_the_till_needs_a_logged_in_cashier(client, till):
    response = client.get("/merchant/members?code=0912345678")
    assert response.status_code == 302 and "/merchant/login" in response.headers["Location"]


def test_purchases_are_limited_per_cashier(till, app, balance):
    app.config["RATE_LIMIT_TILL_PURCHASES_PER_STAFF"] = "2 per minute"
    html = till.get("/merchant/members", query_string={"code": "0912345678"}).get_data(as_text=True)
    statuses = []
    for n in range(3):
        form = {**_form(html), "key": f"k-{n}", "amount": "100000"}
        statuses.append(till.post("/merchant/members/purchases", data=form).status_code)
    assert statuses == [201, 201, 429]
    assert balance("m-1") == 20


def test_purchases_are_limited_per_store(till, app, api, merchant, balance):
    app.config["RATE_LIMIT_TILL_PURCHASES_PER_STORE"] = "1 per minute"
    make_staff(api, "ca.toi@cafe.vn", [merchant["id"]])
    other_cashier = logged_in(app, "merchant", "ca.toi@cafe.vn")
    statuses = []
    for cashier in (till, other_cashier):
        html = cashier.get("/merchant/members", query_string={"code": "0912345678"}).get_data(as_text=True)
        form = {**_form(html), "amount": "100000"}
        statuses.append(cashier.post("/merchant/members/purchases", data=form).status_code)
    assert statuses == [201, 429]
    assert balance("m-1") == 10


def test_the_counter_knows_member_cards_and_phone_numbers(till):
    html = till.get("/merchant").get_data(as_text=True)
    targets = re.search(r'data-scan-targets="([^"]+)"', html).group(1)
    assert "/m/" in targets and "/merchant/members" in targets
    assert 'href="/merchant/members"' in html  # the link to type a phone number without the scanner


def test_a_referees_first_purchase_at_the_till_shows_the_voucher_it_gave(till, api, make_programme, offer):
    make_programme(earn=[PER_10K], referral={"referee_offer_id": offer["id"], "referrer_points": 10})
    code = api.get("/members/m-1/loyalty").get_json()["referral_code"]
    joined = api.post(
        "/members", {"external_id": "m-5", "name": "Bạn Mới", "phone": "0977000111", "referred_by": code}
    )
    assert joined.status_code == 201, joined.get_json()
    html = till.get("/merchant/members", query_string={"code": "0977000111"}).get_data(as_text=True)
    done = till.post("/merchant/members/purchases", data={**_form(html), "amount": "100000"})
    text = _text(done.get_data(as_text=True))
    assert "+10 điểm" in text and "+1 voucher" in text
    assert api.get("/members/m-1/loyalty").get_json()["points"] == 10  # the referrer's reward
