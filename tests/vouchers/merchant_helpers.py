"""Logging staff in through the real form (CSRF token and all), with the test client or requests, and
a live server with a store and its cashier for the browser tests."""

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
