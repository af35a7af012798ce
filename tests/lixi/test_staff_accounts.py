"""Staff accounts are per brand: no brand learns of another's accounts; the log-in names the brand."""

from __future__ import annotations

import re

import pytest
from flask.testing import FlaskClient

import lixi.staff
from tests.conftest import error_code
from tests.vouchers.merchant_helpers import PASSWORD, brand_slug, form_token

EMAIL = "admin@chain.vn"
OTHER_PASSWORD = "brand b's own password"  # noqa: S105 - a test account's password


def staff_body(password: str = PASSWORD, **fields: object) -> dict:
    return {"email": EMAIL, "password": password, "role": "brand_admin", "merchant_ids": [], **fields}


@pytest.fixture
def two_brands(api, make_brand):
    """Brand A and brand B, each with an admin account for the same email (and its own password)."""
    a, b = make_brand("Brand A"), make_brand("Brand B")
    assert api.post("/staff", staff_body(), who=a).status_code == 201
    created = api.post("/staff", staff_body(OTHER_PASSWORD), who=b)
    assert created.status_code == 201, created.get_json()
    return a, b


def post_login(client: FlaskClient, area: str, brand: str, email: str, password: str):
    token = form_token(client.get(f"/{area}/login").get_data(as_text=True))
    data = {"brand": brand, "email": email, "password": password, "csrf_token": token}
    return client.post(f"/{area}/login", data=data)


def test_another_brand_may_use_an_email_a_brand_uses_but_not_twice(api, two_brands):
    a, b = two_brands
    for who in (a, b):
        again = api.post("/staff", staff_body(), who=who)
        assert again.status_code == 409 and error_code(again) == "email_taken"
        shouting = api.post("/staff", staff_body(email=EMAIL.upper()), who=who)
        assert shouting.status_code == 409  # emails are compared in lower case
        assert [s["email"] for s in api.get("/staff", who=who).get_json()["staff"]] == [EMAIL]


def test_each_brand_logs_in_to_its_own_account(app, two_brands):
    a, b = two_brands
    for brand, password, name, other_name in (
        (a, PASSWORD, "Brand A", "Brand B"),
        (b, OTHER_PASSWORD, "Brand B", "Brand A"),
    ):
        client = app.test_client()
        response = post_login(client, "dashboard", brand_slug(brand.id), EMAIL, password)
        assert response.status_code == 302
        home = client.get("/dashboard").get_data(as_text=True)
        assert name in home and other_name not in home
    crossed = post_login(app.test_client(), "dashboard", brand_slug(a.id), EMAIL, OTHER_PASSWORD)
    assert crossed.status_code == 401  # brand B's password does not open brand A's account


def _body_without_token(response) -> str:
    return re.sub(r'value="[^"]*"', "", response.get_data(as_text=True))


def test_a_wrong_brand_email_or_password_get_one_answer_and_one_hash_check(
    app, two_brands, make_brand, monkeypatch
):
    a, _ = two_brands
    lonely = make_brand("Brand C")  # exists, but has no account for the email
    checks: list[str] = []
    real_check = lixi.staff.check_password_hash

    def counted(pwhash: str, password: str) -> bool:
        checks.append(password)
        return real_check(pwhash, password)

    monkeypatch.setattr(lixi.staff, "check_password_hash", counted)
    attempts = {
        "no such brand": ("no-such-brand", EMAIL, PASSWORD),
        "brand without that email": (brand_slug(lonely.id), EMAIL, PASSWORD),
        "no such email": (brand_slug(a.id), "nobody@chain.vn", PASSWORD),
        "wrong password": (brand_slug(a.id), EMAIL, "not the password"),
    }
    answers = {}
    for name, (brand, email, password) in attempts.items():
        client = app.test_client()
        checks.clear()
        response = post_login(client, "merchant", brand, email, password)
        assert response.status_code == 401, name
        assert len(checks) == 1, name  # the same work whether or not the account exists
        answers[name] = _body_without_token(response)
    assert len(set(answers.values())) == 1
    right = post_login(app.test_client(), "merchant", brand_slug(a.id), EMAIL.upper(), PASSWORD)
    assert right.status_code == 302


def test_the_brand_comes_from_the_link_then_from_the_last_log_in(app, two_brands):
    a, b = two_brands
    client = app.test_client()

    def brand_field(path: str) -> str:
        html = client.get(path).get_data(as_text=True)
        match = re.search(r'<input[^>]*name="brand"[^>]*>', html)
        assert match, "no brand field"
        value = re.search(r'value="([^"]*)"', match.group(0))
        return value.group(1) if value else ""

    assert brand_field("/merchant/login") == ""  # a new browser: nothing to remember
    assert brand_field(f"/merchant/login?brand={brand_slug(b.id)}") == brand_slug(b.id)
    assert post_login(client, "dashboard", brand_slug(a.id), EMAIL, PASSWORD).status_code == 302
    assert brand_field("/dashboard/login") == brand_slug(a.id)  # remembered by this browser
    assert brand_field("/merchant/login") == brand_slug(a.id)
    assert brand_field(f"/merchant/login?brand={brand_slug(b.id)}") == brand_slug(b.id)  # the link wins


def test_failed_log_ins_lock_one_brands_account_not_the_same_email_elsewhere(app, two_brands):
    a, b = two_brands
    for _ in range(5):  # RATE_LIMIT_LOGIN_PER_ACCOUNT: 5 failures per 15 minutes
        assert post_login(app.test_client(), "merchant", brand_slug(a.id), EMAIL, "guess").status_code == 401
    locked = post_login(app.test_client(), "merchant", brand_slug(a.id), EMAIL, PASSWORD)
    assert locked.status_code == 429
    other = post_login(app.test_client(), "merchant", brand_slug(b.id), EMAIL, OTHER_PASSWORD)
    assert other.status_code == 302
