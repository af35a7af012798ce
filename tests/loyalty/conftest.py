"""Loyalty fixtures: a programme factory, members, purchases, rewards, the ledger and the daily job.

Everything goes through the JSON API (black-box, as a brand would call it) except the CLI
commands (Flask's CliRunner) and the outbox, read from its table. Factories take a `who=` brand
(default: the `brand` fixture) so cross-tenant tests can use them for a second brand.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from datetime import datetime

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from lixi.extensions import db
from lixi.models import OutboxMessage
from tests.conftest import BrandHandle

# 1 point per 10,000 ₫ on purchases: a 500,000 ₫ bill earns 50.
PER_10K = {"event": "purchase", "points_per": {"amount": 10000, "points": 1}}


def when(text: str) -> datetime:
    """An ISO 8601 instant from the API as an aware datetime (so 'Z' and '+00:00' compare equal)."""
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


@pytest.fixture
def put(client: FlaskClient, brand: BrandHandle):
    """put(path, json, who=brand) -> response: a PUT under /api/v1 with a brand's key."""

    def put(path: str, json: object, who: BrandHandle = brand):
        return client.put(f"/api/v1{path}", json=json, headers=who.headers)

    return put


@pytest.fixture
def make_programme(put, brand: BrandHandle):
    """make_programme(**fields, who=brand) -> the programme JSON. Defaults: name, PER_10K, no
    pending, no expiry; any other programme field (tiers, expire_days, referral, …) by name."""

    def make(who: BrandHandle = brand, **fields: object) -> dict:
        body = {"name": "Bông Sen", "earn": [PER_10K], **fields}
        response = put("/loyalty", body, who=who)
        assert response.status_code == 200, response.get_json()
        return response.get_json()

    return make


@pytest.fixture
def programme(make_programme) -> dict:
    return make_programme()


@pytest.fixture
def make_member(api, brand: BrandHandle):
    """make_member(external_id, who=brand, **profile) -> the member JSON (POST /members: 201 or 200)."""

    def make(external_id: str, who: BrandHandle = brand, **profile: object) -> dict:
        response = api.post("/members", {"external_id": external_id, **profile}, who=who)
        assert response.status_code in (200, 201), response.get_json()
        return response.get_json()

    return make


@pytest.fixture
def member(make_member) -> dict:
    """Member "m-1", created after the programme if the test asks for `programme` first."""
    return make_member("m-1", name="Nguyễn Văn An", phone="0901000001", email="an@example.com")


_event_ids = itertools.count(1)


@pytest.fixture
def event(api, brand: BrandHandle):
    """event(member_external_id, type, amount=None, external_id=None, who=brand, **more) -> response."""

    def post(
        member_external_id: str,
        type: str = "purchase",
        amount: int | None = None,
        external_id: str | None = None,
        who: BrandHandle = brand,
        **more: object,
    ):
        body = {
            "member_external_id": member_external_id,
            "type": type,
            "external_id": external_id or f"ev-{next(_event_ids)}",
            **more,
        }
        if amount is not None:
            body["amount"] = amount
        return api.post("/events", body, who=who)

    return post


def points_granted(response) -> int:
    """The points an /events answer says it granted (earn and pending grants together)."""
    return sum(grant.get("points", 0) for grant in response.get_json()["grants"])


@pytest.fixture
def purchase(event):
    """purchase(member_external_id, amount, external_id=None, who=brand) -> the /events JSON (201)."""

    def buy(member_external_id: str, amount: int, external_id: str | None = None, **kw: object) -> dict:
        response = event(member_external_id, "purchase", amount, external_id, **kw)
        assert response.status_code == 201, response.get_json()
        return response.get_json()

    return buy


@pytest.fixture
def refund(event):
    """refund(member_external_id, refund_of, amount, who=brand) -> response."""

    def back(member_external_id: str, refund_of: str, amount: int, **kw: object):
        return event(member_external_id, "refund", amount, refund_of=refund_of, **kw)

    return back


@pytest.fixture
def loyalty_of(api, brand: BrandHandle) -> Callable[..., dict]:
    """loyalty_of(external_id, who=brand) -> GET /members/{id}/loyalty JSON (asserts 200)."""

    def get(external_id: str, who: BrandHandle = brand) -> dict:
        response = api.get(f"/members/{external_id}/loyalty", who=who)
        assert response.status_code == 200, response.get_json()
        return response.get_json()

    return get


@pytest.fixture
def balance(loyalty_of) -> Callable[[str], int]:
    """balance(external_id) -> available points."""
    return lambda external_id, **kw: loyalty_of(external_id, **kw)["points"]


@pytest.fixture
def ledger_of(api, brand: BrandHandle) -> Callable[..., list[dict]]:
    """ledger_of(external_id, who=brand) -> every ledger entry, newest first, following `next`."""

    def read(external_id: str, who: BrandHandle = brand, limit: int = 100) -> list[dict]:
        entries: list[dict] = []
        path = f"/members/{external_id}/ledger?limit={limit}"
        while True:
            response = api.get(path, who=who)
            assert response.status_code == 200, response.get_json()
            body = response.get_json()
            entries += body["entries"]
            if not body.get("next"):
                return entries
            path = f"/members/{external_id}/ledger?limit={limit}&after={body['next']}"

    return read


@pytest.fixture
def adjust(api, brand: BrandHandle):
    """adjust(external_id, points, reason="…", who=brand) -> response of POST /members/{id}/points."""

    def post(external_id: str, points: int, reason: str = "Tặng điểm", who: BrandHandle = brand):
        return api.post(f"/members/{external_id}/points", {"points": points, "reason": reason}, who=who)

    return post


@pytest.fixture
def give_points(adjust):
    """give_points(external_id, points): a manual credit that must succeed (a quick way to fund a member)."""

    def give(external_id: str, points: int, **kw: object) -> dict:
        response = adjust(external_id, points, **kw)
        assert response.status_code == 201, response.get_json()
        return response.get_json()

    return give


@pytest.fixture
def make_reward(api, make_offer, brand: BrandHandle):
    """make_reward(cost_points=100, offer_id=None, who=brand, **fields) -> the reward JSON; an offer
    is made when none is given. Other fields (stock, per_member_limit, min_tier, …) by name."""

    def make(cost_points: int = 100, offer_id: int | None = None, who: BrandHandle = brand, **fields) -> dict:
        if offer_id is None:
            offer_response = api.post(
                "/offers", {"name": "Free drink", "kind": "free_item", "value": 0}, who=who
            )
            assert offer_response.status_code == 201, offer_response.get_json()
            offer_id = offer_response.get_json()["id"]
        body = {"name": f"Reward {cost_points}", "offer_id": offer_id, "cost_points": cost_points, **fields}
        response = api.post("/rewards", body, who=who)
        assert response.status_code == 201, response.get_json()
        return response.get_json()

    return make


@pytest.fixture
def exchange(api, brand: BrandHandle):
    """exchange(reward_id, member_external_id, who=brand) -> response of POST /rewards/{id}/exchanges."""

    def post(reward_id: int, member_external_id: str, who: BrandHandle = brand):
        return api.post(
            f"/rewards/{reward_id}/exchanges", {"member_external_id": member_external_id}, who=who
        )

    return post


def run_cli(app: Flask, *args: str):
    """A flask command through CliRunner: the result (exit_code, output)."""
    return app.test_cli_runner().invoke(args=list(args))


@pytest.fixture
def daily(app: Flask):
    """daily(): run `flask loyalty-daily` and assert it succeeded."""

    def run() -> None:
        result = run_cli(app, "loyalty-daily")
        assert result.exit_code == 0, (result.output, result.exception)

    return run


@pytest.fixture
def check(app: Flask):
    """check() -> the exit code of `flask loyalty-check` (0 when every balance equals its ledger)."""

    def run() -> int:
        return run_cli(app, "loyalty-check").exit_code

    return run


def outbox(topic: str, brand_id: int | None = None) -> list[dict]:
    """The payloads published on a topic, oldest first."""
    query = select(OutboxMessage).where(OutboxMessage.topic == topic).order_by(OutboxMessage.id)
    if brand_id is not None:
        query = query.where(OutboxMessage.brand_id == brand_id)
    return [message.payload for message in db.session.execute(query).scalars()]
