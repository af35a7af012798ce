"""Idempotency-Key: a repeat replays the first answer, a changed body is refused, keys are per brand,
and `flask purge-idempotency` forgets the keys older than IDEMPOTENCY_TTL_HOURS."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import func, select

from lixi.extensions import db
from lixi.models import IdempotencyRecord
from tests.conftest import error_code
from vouchers.models import Redemption


def test_idempotency_key_replays_the_first_response(app, api, merchant, make_offer, issue):
    card = issue(make_offer(kind="gift_card", value=100000)["id"])[0]
    body = {"code": card["code"], "merchant_id": merchant["id"], "amount": 10000}
    first = api.post("/redemptions", body, headers={"Idempotency-Key": "till-7-0001"})
    second = api.post("/redemptions", body, headers={"Idempotency-Key": "till-7-0001"})
    assert first.status_code == second.status_code == 201
    assert first.get_json() == second.get_json()
    assert second.headers.get("Idempotent-Replayed") == "true"
    assert api.get(f"/vouchers/{card['code']}").get_json()["balance"] == 90000
    assert db.session.execute(select(func.count(Redemption.id))).scalar() == 1

    changed = api.post("/redemptions", {**body, "amount": 20000}, headers={"Idempotency-Key": "till-7-0001"})
    assert changed.status_code == 422 and error_code(changed) == "idempotency_key_reused"
    assert api.get(f"/vouchers/{card['code']}").get_json()["balance"] == 90000

    other = api.post("/redemptions", body, headers={"Idempotency-Key": "till-7-0002"})
    assert other.status_code == 201 and other.get_json()["id"] != first.get_json()["id"]


def test_idempotency_keys_belong_to_one_brand(api, make_brand, make_offer):
    other = make_brand("Other")
    body = {"name": "M"}
    mine = api.post("/merchants", body, headers={"Idempotency-Key": "k1"})
    theirs = api.post("/merchants", body, headers={"Idempotency-Key": "k1"}, who=other)
    assert mine.status_code == theirs.status_code == 201
    assert mine.get_json()["id"] != theirs.get_json()["id"]


def test_idempotent_issue_does_not_issue_twice(api, offer):
    body = {"offer_id": offer["id"], "count": 5}
    first = api.post("/vouchers", body, headers={"Idempotency-Key": "batch-1"})
    second = api.post("/vouchers", body, headers={"Idempotency-Key": "batch-1"})
    assert first.get_json() == second.get_json()


def test_failed_requests_are_not_remembered(api, merchant, offer, issue):
    voucher = issue(offer["id"])[0]
    headers = {"Idempotency-Key": "retry-me"}
    bad = api.post("/redemptions", {"code": voucher["code"], "merchant_id": 99999}, headers=headers)
    assert bad.status_code == 422
    good = api.post("/redemptions", {"code": voucher["code"], "merchant_id": merchant["id"]}, headers=headers)
    assert good.status_code == 201


def test_overlong_idempotency_key_is_422(api):
    r = api.post("/merchants", {"name": "M"}, headers={"Idempotency-Key": "k" * 300})
    assert r.status_code == 422


def test_purge_idempotency_deletes_old_keys_and_keeps_fresh_ones(app, api, clock):
    """Was test_purge_idempotency_keeps_fresh_keys, which purged nothing and so showed no key deleted."""
    ttl = timedelta(hours=app.config["IDEMPOTENCY_TTL_HOURS"])
    purge = lambda: app.test_cli_runner().invoke(args=["purge-idempotency"])  # noqa: E731
    old = api.post("/merchants", {"name": "Old"}, headers={"Idempotency-Key": "old"}).get_json()

    clock.advance(seconds=ttl.total_seconds())  # exactly as old as the TTL: still kept
    api.post("/merchants", {"name": "Fresh"}, headers={"Idempotency-Key": "fresh"})
    result = purge()
    assert result.exit_code == 0 and "purged 0" in result.output

    clock.advance(seconds=1)
    result = purge()
    assert result.exit_code == 0 and "purged 1" in result.output
    assert db.session.execute(select(IdempotencyRecord.key)).scalars().all() == ["fresh"]
    # The forgotten key is free again; the fresh one still replays.
    again = api.post("/merchants", {"name": "Old"}, headers={"Idempotency-Key": "old"})
    assert again.status_code == 201 and again.get_json()["id"] != old["id"]
    replayed = api.post("/merchants", {"name": "Fresh"}, headers={"Idempotency-Key": "fresh"})
    assert replayed.headers.get("Idempotent-Replayed") == "true"
