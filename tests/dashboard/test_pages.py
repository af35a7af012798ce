"""The dashboard's pages: log-in, scoping to the admin's brand, CSRF on every form, the flows."""

from __future__ import annotations

import csv
import io
import re

import pytest
from flask.testing import FlaskClient

from lixi.extensions import db
from lixi.jobs import work
from tests.vouchers.merchant_helpers import PASSWORD, log_in, logged_in, page_token, slug_for

ADMIN = "admin@brand-a.vn"


def make_admin(brand_id: int, email: str) -> None:
    from lixi.staff import create_staff

    create_staff(brand_id, email, PASSWORD, "brand_admin", "Admin", [])


def token_of(client: FlaskClient, path: str = "/dashboard") -> str:
    return page_token(client.get(path).get_data(as_text=True))


@pytest.fixture
def two_brands(app, make_brand):
    """Brand A with an admin; brand B with one of everything the dashboard shows."""
    a, b = make_brand("Brand A"), make_brand("Brand B")
    make_admin(a.id, ADMIN)
    client = app.test_client()

    def api(who, path, body):
        response = client.post(f"/api/v1{path}", json=body, headers=who.headers)
        assert response.status_code in (200, 201), response.get_json()
        return response.get_json()

    store = api(b, "/merchants", {"name": "B store"})
    offer = api(b, "/offers", {"name": "B offer", "kind": "fixed_amount", "value": 10000})
    prizes = [{"label": "B prize", "weight": 1, "offer_id": offer["id"], "value": 10000}]
    campaign = api(b, "/campaigns", {"name": "B campaign", "game": "spin_wheel", "prizes": prizes})
    cashier = api(b, "/staff", {"email": "cashier@b.vn", "password": PASSWORD, "merchant_ids": [store["id"]]})
    from lixi.auth import list_api_keys
    from vouchers.bulk import start_bulk_issue
    from webhooks.endpoints import create_endpoint

    app.config["WEBHOOK_ALLOW_PRIVATE_ADDRESSES"] = True
    endpoint = create_endpoint(b.id, "http://127.0.0.1:9/hook", [])
    bulk = start_bulk_issue(b.id, offer["id"], 5, "test")
    return {
        "a": a,
        "b": b,
        "store": store["id"],
        "offer": offer["id"],
        "campaign": campaign["id"],
        "staff": cashier["id"],
        "key": list_api_keys(b.id)[0].id,
        "endpoint": endpoint.id,
        "bulk": bulk.id,
    }


def test_pages_need_a_brand_admin(app, two_brands, api, merchant):
    anonymous = app.test_client()
    response = anonymous.get("/dashboard/campaigns")
    assert response.status_code == 302 and "/dashboard/login" in response.headers["Location"]
    # A cashier of the same brand cannot log in here, and their merchant session shows no dashboard.
    api.post("/staff", {"email": "cashier@a.vn", "password": PASSWORD, "merchant_ids": [merchant["id"]]})
    client = app.test_client()
    assert log_in(client, "dashboard", "cashier@a.vn").status_code == 401
    log_in(client, "merchant", "cashier@a.vn")
    assert client.get("/merchant").status_code == 200
    assert client.get("/dashboard").status_code == 404


def test_an_admin_of_brand_a_gets_404_for_every_page_and_export_of_brand_b(app, two_brands):
    ids = two_brands
    client = logged_in(app, "dashboard", ADMIN)
    token = token_of(client)
    pages = [
        f"/dashboard/offers/{ids['offer']}",
        f"/dashboard/stores/{ids['store']}",
        f"/dashboard/campaigns/{ids['campaign']}",
        f"/dashboard/campaigns/{ids['campaign']}/figures.json",
        f"/dashboard/issues/{ids['bulk']}",
        f"/dashboard/issues/{ids['bulk']}/progress.json",
        f"/dashboard/issues/{ids['bulk']}/vouchers.csv",
        *(
            f"/dashboard/exports/{kind}.csv?campaign_id={ids['campaign']}"
            for kind in ("vouchers", "redemptions", "plays", "members")
        ),
    ]
    for path in pages:
        assert client.get(path).status_code == 404, path
    actions = [
        f"/dashboard/offers/{ids['offer']}",
        f"/dashboard/offers/{ids['offer']}/archive",
        f"/dashboard/stores/{ids['store']}",
        f"/dashboard/stores/{ids['store']}/archive",
        f"/dashboard/staff/{ids['staff']}/disable",
        f"/dashboard/campaigns/{ids['campaign']}/activate",
        f"/dashboard/campaigns/{ids['campaign']}/end",
        f"/dashboard/api-keys/{ids['key']}/revoke",
        f"/dashboard/webhooks/{ids['endpoint']}/disable",
    ]
    for path in actions:
        assert client.post(path, data={"csrf_token": token, "name": "x"}).status_code == 404, path
    # Nothing of brand B leaks into brand A's lists and exports either.
    for path in (
        "/dashboard",
        "/dashboard/offers",
        "/dashboard/stores",
        "/dashboard/staff",
        "/dashboard/campaigns",
        "/dashboard/audit",
        "/dashboard/webhooks",
        "/dashboard/issues",
        "/dashboard/api-keys",
    ):
        body = client.get(path).get_data(as_text=True)
        assert (
            "B offer" not in body
            and "B store" not in body
            and "B campaign" not in body
            and "cashier@b.vn" not in body
        ), path
    for kind in ("vouchers", "redemptions", "plays", "members"):
        rows = list(
            csv.reader(io.StringIO(client.get(f"/dashboard/exports/{kind}.csv").get_data(as_text=True)))
        )
        assert len(rows) == 1, kind  # the header only
    from lixi.extensions import db
    from lixi.models import Merchant

    assert db.session.get(Merchant, ids["store"]).archived_at is None  # B's store untouched


def test_every_form_needs_the_csrf_token(app, two_brands):
    client = logged_in(app, "dashboard", ADMIN)
    posts = sorted(
        rule.rule
        for rule in app.url_map.iter_rules()
        if rule.rule.startswith("/dashboard") and "POST" in (rule.methods or ())
    )
    assert len(posts) >= 15
    for rule in posts:
        path = re.sub(r"<any\([^)]*\):action>", "activate", rule)
        path = re.sub(r"<int:\w+>", "1", path)
        response = client.post(path, data={"name": "x", "email": "x@y.vn", "password": "x" * 12})
        assert response.status_code == 400, (rule, response.status_code)


def test_offers_stores_and_staff_through_the_forms(app, brand):
    make_admin(brand.id, ADMIN)
    client = logged_in(app, "dashboard", ADMIN)
    token = token_of(client)
    assert (
        client.post(
            "/dashboard/stores", data={"csrf_token": token, "name": "Quận 1", "address": "1 Lê Lợi"}
        ).status_code
        == 302
    )
    page = client.post(
        "/dashboard/offers",
        data={
            "csrf_token": token,
            "name": "Giảm 50k",
            "kind": "fixed_amount",
            "value": "50.000",
            "valid_days": "30",
        },
    )
    assert page.status_code == 302
    bad = client.post(
        "/dashboard/offers", data={"csrf_token": token, "name": "", "kind": "percent", "value": "250"}
    )
    assert bad.status_code == 422 and 'data-testid="form-errors"' in bad.get_data(as_text=True)
    from lixi.merchants import list_merchants
    from vouchers.offers import list_offers

    offer = list_offers(brand.id)[0]
    store = list_merchants(brand.id)[0]
    assert offer.value == 50000 and offer.valid_days == 30
    edited = client.post(
        f"/dashboard/offers/{offer.id}",
        data={
            "csrf_token": token,
            "name": "Giảm 50k Tết",
            "min_bill": "200000",
            "merchant_ids": [str(store.id)],
        },
    )
    assert edited.status_code == 302
    from lixi.extensions import db

    db.session.refresh(offer)
    assert offer.name == "Giảm 50k Tết" and offer.min_bill == 200000 and offer.merchant_ids == [store.id]
    assert offer.valid_days is None  # emptied on the form: cleared
    staff = client.post(
        "/dashboard/staff",
        data={
            "csrf_token": token,
            "email": "mai@cafe.vn",
            "name": "Mai",
            "password": PASSWORD,
            "role": "merchant_staff",
            "merchant_ids": [str(store.id)],
        },
    )
    assert staff.status_code == 302
    assert client.post(f"/dashboard/offers/{offer.id}/archive", data={"csrf_token": token}).status_code == 302
    audit = client.get("/dashboard/audit?action=offer.").get_data(as_text=True)
    assert "offer.created" in audit and "offer.updated" in audit and "offer.archived" in audit
    assert "staff.created" not in audit  # the filter works
    mine = client.get(f"/dashboard/audit?actor=staff:{_admin_id(brand.id)}").get_data(as_text=True)
    assert "merchant.created" in mine


def _admin_id(brand_id: int) -> int:
    from lixi.staff import list_staff

    return next(u.id for u in list_staff(brand_id) if u.email == ADMIN)


def test_api_keys_are_shown_once_and_revoked(app, brand):
    make_admin(brand.id, ADMIN)
    client = logged_in(app, "dashboard", ADMIN)
    token = token_of(client)
    page = client.post("/dashboard/api-keys", data={"csrf_token": token, "name": "pos"}).get_data(
        as_text=True
    )
    secret = re.search(r'data-testid="new-key">([^<]+)<', page).group(1)
    assert client.get("/api/v1/merchants", headers={"Authorization": f"Bearer {secret}"}).status_code == 200
    assert secret not in client.get("/dashboard/api-keys").get_data(as_text=True)
    from lixi.auth import list_api_keys

    key_id = next(k.id for k in list_api_keys(brand.id) if k.name == "pos")
    client.post(f"/dashboard/api-keys/{key_id}/revoke", data={"csrf_token": token})
    assert client.get("/api/v1/merchants", headers={"Authorization": f"Bearer {secret}"}).status_code == 401


def test_a_bulk_issue_from_the_dashboard_shows_progress_and_its_csv(app, brand, offer):
    make_admin(brand.id, ADMIN)
    client = logged_in(app, "dashboard", ADMIN)
    token = token_of(client)
    started = client.post(
        "/dashboard/issues", data={"csrf_token": token, "offer_id": str(offer["id"]), "count": "2.500"}
    )
    assert started.status_code == 302
    progress_page = started.headers["Location"]
    assert client.get(progress_page + "/progress.json").get_json()["status"] == "queued"
    work(app, burst=True, in_process=True)
    db.session.rollback()  # the test's long-lived session drops its read snapshot (a request's would be new)
    progress = client.get(progress_page + "/progress.json").get_json()
    assert progress == {"status": "done", "issued": 2500, "count": 2500, "error": None}
    rows = list(
        csv.DictReader(io.StringIO(client.get(progress_page + "/vouchers.csv").get_data(as_text=True)))
    )
    assert len(rows) == 2500 and len({r["code"] for r in rows}) == 2500
    too_many = client.post(
        "/dashboard/issues", data={"csrf_token": token, "offer_id": str(offer["id"]), "count": "100001"}
    )
    assert too_many.status_code == 422


def test_an_admin_edits_a_cashiers_stores_and_password(app, brand, api, merchant):
    make_admin(brand.id, ADMIN)
    other = api.post("/merchants", {"name": "Quận 3"}).get_json()
    cashier = api.post(
        "/staff", {"email": "mai@cafe.vn", "password": PASSWORD, "merchant_ids": [merchant["id"]]}
    ).get_json()
    client = logged_in(app, "dashboard", ADMIN)
    token = token_of(client)
    none = client.post(f"/dashboard/staff/{cashier['id']}", data={"csrf_token": token, "name": "Mai"})
    assert none.status_code == 422  # a cashier works somewhere
    saved = client.post(
        f"/dashboard/staff/{cashier['id']}",
        data={
            "csrf_token": token,
            "name": "Chị Mai",
            "merchant_ids": [str(other["id"])],
            "password": "a new password 1",
        },
    )
    assert saved.status_code == 302
    listed = next(s for s in api.get("/staff").get_json()["staff"] if s["email"] == "mai@cafe.vn")
    assert listed["name"] == "Chị Mai" and listed["merchant_ids"] == [other["id"]]
    from lixi.staff import authenticate

    assert authenticate(slug_for("mai@cafe.vn"), "mai@cafe.vn", "a new password 1") is not None
    assert authenticate(slug_for("mai@cafe.vn"), "mai@cafe.vn", PASSWORD) is None


def test_exports_for_excel_start_with_a_bom(app, brand, offer, issue):
    make_admin(brand.id, ADMIN)
    issue(offer["id"], 3)
    client = logged_in(app, "dashboard", ADMIN)
    plain = client.get("/dashboard/exports/vouchers.csv")  # a stream: read it before the next request
    disposition, plain_body = plain.headers["Content-Disposition"], plain.get_data(as_text=True)
    excel_body = client.get("/dashboard/exports/vouchers.csv?excel=1").get_data(as_text=True)
    assert disposition.startswith('attachment; filename="lixi-vouchers')
    assert not plain_body.startswith("\ufeff")
    assert excel_body == "\ufeff" + plain_body
    assert len(list(csv.reader(io.StringIO(plain_body)))) == 4


def test_odd_query_and_form_values_are_refused_not_crashed(app, brand):
    make_admin(brand.id, ADMIN)
    client = logged_in(app, "dashboard", ADMIN)
    token = token_of(client)
    huge = "9" * 30
    from webhooks.endpoints import create_endpoint

    app.config["WEBHOOK_ALLOW_PRIVATE_ADDRESSES"] = True  # no DNS here: a local address
    endpoint = create_endpoint(brand.id, "http://127.0.0.1:9/hook", [])
    page = client.get(f"/dashboard/webhooks?endpoint={endpoint.id}")  # "endpoint" is also url_for's
    assert page.status_code == 200 and f"endpoint={endpoint.id}&amp;lang=en" in page.get_data(as_text=True)
    assert client.get("/dashboard/webhooks?endpoint=777").status_code == 404  # not the brand's
    assert client.get(f"/dashboard/audit?before={huge}&since=2026-13-45").status_code == 200
    assert client.get(f"/dashboard/exports/plays.csv?campaign_id={huge}").status_code == 404
    bulk = client.post("/dashboard/issues", data={"csrf_token": token, "offer_id": huge, "count": "5"})
    assert bulk.status_code == 422
    staff = client.post(
        "/dashboard/staff",
        data={"csrf_token": token, "email": "x@y.vn", "password": PASSWORD, "merchant_ids": [huge]},
    )
    assert staff.status_code == 422  # a cashier needs a store; the forged id is none of the brand's


def test_the_audit_log_reads_as_words_in_the_pages_language(app, brand, api):
    make_admin(brand.id, ADMIN)
    api.post("/offers", {"name": "Giảm giá Tết", "kind": "percent", "value": 10, "max_discount": 1_500_000})
    client = logged_in(app, "dashboard", ADMIN)
    vietnamese = client.get("/dashboard/audit?action=offer.&lang=vi").get_data(as_text=True)
    assert "tên: Giảm giá Tết" in vietnamese and "loại: percent" in vietnamese
    assert "\\u" not in vietnamese and "{&#34;" not in vietnamese and '{"' not in vietnamese  # was JSON
    english = client.get("/dashboard/audit?action=offer.&lang=en").get_data(as_text=True)
    assert "name: Giảm giá Tết" in english


def test_audit_details_name_ids_as_they_are_and_count_in_the_locale(app):
    from flask_babel import refresh

    from dashboard.audit_details import describe

    with app.test_request_context("/?lang=vi"):
        refresh()  # the suite's one app context keeps the last request's locale
        assert describe({"campaign_id": 1234, "count": 12000, "fields": ["name", "terms"], "ok": True}) == [
            ("chiến dịch", "1234"),
            ("số lượng", "12.000"),
            ("trường đã sửa", "name, terms"),
            ("ok", "có"),
        ]
        assert describe(None) == []


def test_campaign_page_figures_follow_the_locale(app, brand, api, make_offer):
    make_admin(brand.id, ADMIN)
    offer = make_offer(value=20000)
    prizes = [{"label": "Giảm 20k", "weight": 1, "offer_id": offer["id"]}, {"label": "Trượt", "weight": 2}]
    campaign = api.post("/campaigns", {"name": "Quay", "game": "spin_wheel", "prizes": prizes}).get_json()
    client = logged_in(app, "dashboard", ADMIN)
    vietnamese = client.get(f"/dashboard/campaigns/{campaign['id']}?lang=vi").get_data(as_text=True)
    assert "33,33%" in vietnamese and "66,67%" in vietnamese  # was 33.33%
    english = client.get(f"/dashboard/campaigns/{campaign['id']}?lang=en").get_data(as_text=True)
    assert "33.33%" in english


def test_a_mistyped_number_on_the_offer_edit_form_is_shown_not_crashed(app, brand, offer):
    make_admin(brand.id, ADMIN)
    client = logged_in(app, "dashboard", ADMIN)
    token = token_of(client)
    edited = client.post(
        f"/dashboard/offers/{offer['id']}", data={"csrf_token": token, "name": "Giảm 50k", "min_bill": "20k"}
    )
    assert edited.status_code == 422 and 'data-testid="form-errors"' in edited.get_data(as_text=True)
    saved = client.post(
        f"/dashboard/offers/{offer['id']}",
        data={"csrf_token": token, "name": "Giảm 50k", "min_bill": "20.000"},
    )
    assert saved.status_code == 302
