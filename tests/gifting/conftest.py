"""Gifting fixtures: a gift-card offer, members, and send_gift through the API (black-box, as a
brand would call it). Factories take `who=` (default: the `brand` fixture) for cross-tenant tests."""

from __future__ import annotations

import itertools

import pytest

from tests.conftest import BrandHandle

_numbers = itertools.count(1)


@pytest.fixture
def gift_offer(make_offer) -> dict:
    """A 500,000 ₫ gift card."""
    return make_offer(name="Thẻ quà 500k", kind="gift_card", value=500000)


@pytest.fixture
def member(api, brand: BrandHandle):
    """member(**fields, who=brand) -> the member JSON (a fresh external id unless given)."""

    def make(who: BrandHandle = brand, **fields: object) -> dict:
        body = {"external_id": f"m-{next(_numbers)}", **fields}
        response = api.post("/members", body, who=who)
        assert response.status_code in (200, 201), response.get_json()
        return response.get_json()

    return make


@pytest.fixture
def send_gift(api, brand: BrandHandle):
    """send_gift(who=brand, expect=201, **body) -> the gift JSON (or the response for another status)."""

    def send(who: BrandHandle = brand, expect: int = 201, **body: object):
        response = api.post("/gifts", body, who=who)
        assert response.status_code == expect, response.get_json()
        return response.get_json() if expect == 201 else response

    return send
