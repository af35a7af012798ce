"""Staff for the merchant and dashboard tests: accounts, logging in through the real form (CSRF
token and all), a cashier's session with the test client, and a live server with a store and its
cashier for the browser tests."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from lixi.extensions import db
from lixi.models import Brand, StaffUser
from tests.live import LiveLixi, running_lixi

PASSWORD = "correct horse battery"  # noqa: S105 - a test account's password
CASHIER_EMAIL = "cashier@live.vn"

_FORM_TOKEN = re.compile(r'name="csrf_token" type="hidden" value="([^"]+)"|name="csrf_token" value="([^"]+)"')
_META_TOKEN = re.compile(r'<meta name="csrf-token" content="([^"]+)"')


def form_token(html: str) -> str:
    match = _FORM_TOKEN.search(html)
    assert match, "no CSRF token in the form"
    return match.group(1) or match.group(2)


def page_token(html: str) -> str:
    match = _META_TOKEN.search(html)
    assert match, "no CSRF token in the page"
    return match.group(1)


def brand_slug(brand_id: int) -> str:
    """The brand's code that the log-in form asks for."""
    slug = db.session.execute(select(Brand.slug).where(Brand.id == brand_id)).scalar()
    assert slug, f"no brand {brand_id}"
    return slug


def slug_for(email: str) -> str:
    """The brand of the account with this email (tests that share an email across brands pass the
    brand themselves); for an email with no account, the first brand, so the log-in still fails
    on the email alone."""
    slugs = list(
        db.session.execute(
            select(Brand.slug)
            .join(StaffUser, StaffUser.brand_id == Brand.id)
            .where(StaffUser.email == email.lower())
        ).scalars()
    )
    assert len(slugs) <= 1, f"{email} has accounts in several brands: pass the brand"
    return (
        slugs[0]
        if slugs
        else db.session.execute(select(Brand.slug).order_by(Brand.id)).scalars().first() or ""
    )


def log_in(client: FlaskClient, area: str, email: str, password: str = PASSWORD, brand: str | None = None):
    """Post the `area`'s log-in form ("merchant" or "dashboard") with the token it served; the
    brand is the account's own unless given. Returns the response (a 302 when it worked)."""
    token = form_token(client.get(f"/{area}/login").get_data(as_text=True))
    data = {"brand": brand or slug_for(email), "email": email, "password": password, "csrf_token": token}
    return client.post(f"/{area}/login", data=data)


def logged_in(app: Flask, area: str, email: str, password: str = PASSWORD) -> FlaskClient:
    """A new test client logged in to the `area`."""
    client = app.test_client()
    response = log_in(client, area, email, password)
    assert response.status_code == 302, response.get_data(as_text=True)
    return client


def make_staff(api, email: str, merchant_ids: list[int], **fields) -> dict:
    body = {"email": email, "password": PASSWORD, "name": email.split("@")[0], "merchant_ids": merchant_ids}
    response = api.post("/staff", {**body, **fields})
    assert response.status_code == 201, response.get_json()
    return response.get_json()


class Cashier:
    """A logged-in staff browser session: JSON calls carry the page's CSRF token."""

    def __init__(self, client: FlaskClient, email: str) -> None:
        self.client = client
        response = log_in(client, "merchant", email)
        assert response.status_code == 302, response.get_data(as_text=True)
        self.refresh_token()

    def refresh_token(self) -> None:
        page = self.client.get("/merchant")
        assert page.status_code == 200
        self.token = page_token(page.get_data(as_text=True))
        self.page = page.get_data(as_text=True)

    def check(self, code: str, **fields):
        return self.client.post(
            "/merchant/api/check", json={"code": code, **fields}, headers={"X-CSRFToken": self.token}
        )

    def redeem(self, code: str, key: str | None = None, **fields):
        headers = {"X-CSRFToken": self.token, **({"Idempotency-Key": key} if key else {})}
        return self.client.post("/merchant/api/redeem", json={"code": code, **fields}, headers=headers)

    def void(self, redemption_id: int, reason: str):
        return self.client.post(
            f"/merchant/redemptions/{redemption_id}/void", data={"reason": reason, "csrf_token": self.token}
        )


@contextmanager
def live_with_cashier(folder: Path, redis_url: str, store_name: str, cashier_name: str) -> Iterator[LiveLixi]:
    """A live Lixi (2 × 4, limits off) with one store and its cashier (CASHIER_EMAIL, PASSWORD)."""
    with running_lixi(folder, redis_url) as lixi:
        lixi.store = lixi.post("/merchants", {"name": store_name}).json()
        staff = {
            "email": CASHIER_EMAIL,
            "password": PASSWORD,
            "name": cashier_name,
            "merchant_ids": [lixi.store["id"]],
        }
        assert lixi.post("/staff", staff).status_code == 201
        yield lixi
