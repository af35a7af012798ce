"""Input that used to be a 500: lone surrogates, deep nesting, unreadable bytes, and error headers."""

from __future__ import annotations

import json
from urllib.parse import urlsplit

import pytest
from flask import request

from tests.conftest import error_code
from tests.vouchers.merchant_helpers import Cashier, form_token, make_staff

LONE = "a\ud800b"  # json.dumps escapes it as "a\\ud800b", which is what arrives on the wire
DEEP = "[" * 1000 + "]" * 1000


def _post_json(client, path: str, body: object, headers: dict | None = None):
    # The test client's json= would refuse to encode a surrogate; send the escaped text ourselves.
    return client.post(path, data=json.dumps(body), content_type="application/json", headers=headers or {})


def _field_error(response, *path: str) -> list[str]:
    assert response.status_code == 422, response.get_data(as_text=True)
    assert error_code(response) == "invalid_request"
    node = response.get_json()["error"]["details"]["fields"]
    for key in path:
        node = node[key]
    return node


@pytest.fixture
def seeded(api, merchant, offer, make_campaign):
    api.post("/members", {"external_id": "m-1"})
    campaign = make_campaign(offer["id"])
    return {"offer": offer["id"], "campaign": campaign["id"], "merchant": merchant["id"]}


# Every stored text field of the API, each with a surrogate in it: (path, body, field path).
SURROGATE_CASES = [
    ("/merchants", {"name": LONE}, ("name",)),
    ("/merchants", {"name": "ok", "address": LONE}, ("address",)),
    ("/offers", {"name": LONE, "kind": "fixed_amount", "value": 1}, ("name",)),
    ("/offers", {"name": "ok", "kind": "fixed_amount", "value": 1, "terms": LONE}, ("terms",)),
    ("/members", {"external_id": LONE}, ("external_id",)),
    ("/members", {"external_id": "m-2", "name": LONE}, ("name",)),
    ("/members", {"external_id": "m-2", "phone": LONE}, ("phone",)),
    ("/campaigns", {"name": LONE, "game": "spin_wheel", "prizes": [{"label": "x", "weight": 1}]}, ("name",)),
    (
        "/campaigns",
        {
            "name": "ok",
            "game": "spin_wheel",
            "prizes": [{"label": "x", "weight": 1}, {"label": LONE, "weight": 1}],
        },
        ("prizes", "1", "label"),
    ),
    (
        "/events",
        {"member_external_id": LONE, "type": "signup", "external_id": "e-1"},
        ("member_external_id",),
    ),
    ("/events", {"member_external_id": "m-1", "type": "signup", "external_id": LONE}, ("external_id",)),
    ("/staff", {"email": "a@b.vn", "password": "long enough pass", "name": LONE}, ("name",)),
    ("/staff", {"email": "a@b.vn", "password": "long enough " + LONE}, ("password",)),
    ("/vouchers", {"offer_id": "{offer}", "member_external_id": LONE}, ("member_external_id",)),
    ("/campaigns/{campaign}/plays", {"member_external_id": LONE}, ("member_external_id",)),
    ("/vouchers/validate", {"code": LONE}, ("code",)),
    ("/redemptions/1/void", {"reason": LONE}, ("reason",)),
    ("/merchants", {LONE: 1, "name": "ok"}, ("a\\ud800b",)),
]


@pytest.mark.parametrize(("path", "body", "field"), SURROGATE_CASES)
def test_a_lone_surrogate_in_any_api_text_is_a_422_naming_the_field(client, brand, seeded, path, body, field):
    body = {
        k: (v.format(**seeded) if isinstance(v, str) and v.startswith("{") else v) for k, v in body.items()
    }
    if "offer_id" in body:
        body["offer_id"] = int(body["offer_id"])
    response = _post_json(client, "/api/v1" + path.format(**seeded), body, brand.headers)
    assert "surrogate" in _field_error(response, *field)[0]


def test_a_lone_surrogate_with_an_idempotency_key_is_a_422_and_not_remembered(client, brand):
    headers = {**brand.headers, "Idempotency-Key": "k-1"}
    assert _field_error(_post_json(client, "/api/v1/merchants", {"name": LONE}, headers), "name")
    fixed = _post_json(client, "/api/v1/merchants", {"name": "ok"}, headers)
    assert fixed.status_code == 201


def test_a_surrogate_pair_is_one_character_and_is_stored(api, client, brand):
    response = _post_json(client, "/api/v1/merchants", {"name": "Tết \ud83e\udde7"}, brand.headers)
    assert response.status_code == 201, response.get_json()
    assert api.get(f"/merchants/{response.get_json()['id']}").get_json()["name"] == "Tết 🧧"


def test_raw_surrogate_bytes_are_not_utf8_and_a_400(client, brand):
    response = client.post(
        "/api/v1/merchants",
        data=b'{"name": "a\xed\xa0\x80b"}',
        content_type="application/json",
        headers=brand.headers,
    )
    assert response.status_code == 400
    assert error_code(response) == "invalid_request"


def test_a_lone_surrogate_on_the_merchant_page_is_a_422_naming_the_field(app, api, merchant):
    make_staff(api, "thu.ngan@cafe.vn", [merchant["id"]])
    cashier = Cashier(app.test_client(), "thu.ngan@cafe.vn")
    for path in ("/merchant/api/check", "/merchant/api/redeem"):
        response = _post_json(cashier.client, path, {"code": LONE}, {"X-CSRFToken": cashier.token})
        assert "surrogate" in _field_error(response, "code")[0]
        deep = cashier.client.post(
            path, data=DEEP, content_type="application/json", headers={"X-CSRFToken": cashier.token}
        )
        assert deep.status_code == 400, deep.get_data(as_text=True)
        assert error_code(deep) == "invalid_request"


def test_the_longest_external_ids_are_stored_and_audited(api, seeded):
    # The audit trail keeps a member's or an event's external id as its subject (PostgreSQL
    # refused a 65th character: a 500).
    longest = "x" * 100
    assert api.post("/members", {"external_id": longest}).status_code == 201
    event = {"member_external_id": longest, "type": "signup", "external_id": longest}
    assert api.post("/events", event).status_code == 201
    granted = api.post(f"/members/{longest}/plays", {"campaign_id": seeded["campaign"], "plays": 1})
    assert granted.status_code == 200, granted.get_json()


# --- bodies that cannot be parsed --------------------------------------------------------------

API_POSTS = [
    "/merchants",
    "/members",
    "/offers",
    "/vouchers",
    "/vouchers/validate",
    "/redemptions",
    "/redemptions/1/void",
    "/vouchers/ABC/void",
    "/campaigns",
    "/campaigns/{campaign}/plays",
    "/members/m-1/plays",
    "/members/m-1/links",
    "/events",
    "/staff",
]


@pytest.mark.parametrize("path", API_POSTS)
@pytest.mark.parametrize("key", [None, "idem-1"])
@pytest.mark.parametrize("body", [DEEP, '{"a": ' * 1000 + "1" + "}" * 1000, '{"name": ', "\xff"])
def test_an_unparseable_json_body_is_a_400_on_every_api_post(client, brand, seeded, path, key, body):
    headers = {**brand.headers, **({"Idempotency-Key": key} if key else {})}
    response = client.post(
        "/api/v1" + path.format(**seeded),
        data=body.encode("latin-1"),
        content_type="application/json",
        headers=headers,
    )
    assert response.status_code == 400, response.get_data(as_text=True)
    assert error_code(response) == "invalid_request"


def test_a_route_without_a_body_ignores_an_unparseable_one(client, brand, seeded):
    response = client.post(
        f"/api/v1/campaigns/{seeded['campaign']}/pause",
        data=DEEP,
        content_type="application/json",
        headers=brand.headers,
    )
    assert response.status_code == 200


def test_deep_json_on_the_game_page_and_the_dashboard_log_in_is_not_a_500(app, client, api, seeded):
    link = api.post("/members/m-1/links", {"campaign_id": seeded["campaign"]}).get_json()
    url = urlsplit(link["url"])
    page = client.get(f"{url.path}?{url.query}")
    token = form_token(page.get_data(as_text=True))
    # The play limits read the member out of a JSON body before the view runs (RecursionError);
    # the page itself reads its form, so the body is ignored.
    played = client.post(
        f"{url.path}?{url.query}", data=DEEP, content_type="application/json", headers={"X-CSRFToken": token}
    )
    assert played.status_code < 500, played.get_data(as_text=True)

    # Flask-WTF would read a JSON body as the form: the page forms now read their form only.
    for page in ("/dashboard/login", "/merchant/login"):
        token = form_token(client.get(page).get_data(as_text=True))
        for body in (DEEP, json.dumps({"email": LONE}), "[1]", '"abc"', "5", '{"email": [1, 2]}'):
            response = client.post(
                page, data=body, content_type="application/json", headers={"X-CSRFToken": token}
            )
            assert response.status_code < 500, (page, body[:20], response.status_code)
            assert "<html" in response.get_data(as_text=True)


# --- forms and query strings: werkzeug never hands out a surrogate ----------------------------


def test_surrogate_bytes_in_forms_and_query_strings_are_never_a_500(client, brand):
    login = client.get("/dashboard/login")
    token = form_token(login.get_data(as_text=True))
    for body in (b"email=%ED%A0%80&password=%ED%A0%80", b"email=\xed\xa0\x80&password=x"):
        response = client.post(
            "/dashboard/login",
            data=body + b"&csrf_token=" + token.encode(),
            content_type="application/x-www-form-urlencoded",
        )
        # Undecodable escapes stay percent-encoded, raw bytes empty the form: a refused log-in.
        assert response.status_code in (200, 400, 401, 422), response.status_code
    raw = b"lang=\xed\xa0\x80&next=%ED%A0%80".decode("latin-1")  # as a WSGI server passes raw bytes
    for path in ("/dashboard/login", "/merchant/login", "/api/v1/merchants", "/nowhere"):
        response = client.get(path, headers=brand.headers, environ_overrides={"QUERY_STRING": raw})
        assert response.status_code in (200, 404), (path, response.status_code)


def test_an_unreadable_query_string_is_decoded_with_replacement(app):
    raw = b"a=\xed\xa0\x80&b=%ED%A0%80".decode("latin-1")
    with app.test_request_context("/", environ_overrides={"QUERY_STRING": raw}):
        assert request.args["a"] == "\ufffd\ufffd\ufffd"
        assert request.args["b"] == "%ED%A0%80"


# --- error headers -----------------------------------------------------------------------------


def test_405_keeps_its_allow_header_on_json_and_pages(client, brand):
    response = client.delete("/api/v1/merchants", headers=brand.headers)
    assert response.status_code == 405
    assert error_code(response) == "method_not_allowed"
    assert set(response.headers["Allow"].split(", ")) >= {"GET", "POST"}
    page = client.delete("/dashboard/login")
    assert page.status_code == 405
    assert "POST" in page.headers["Allow"]


def test_an_html_503_carries_retry_after(app, client):
    from lixi.errors import Unavailable

    @app.get("/boom-page")
    def boom() -> str:
        raise Unavailable()

    response = client.get("/boom-page")
    assert response.status_code == 503
    assert response.mimetype == "text/html"
    assert response.headers["Retry-After"] == "5"
