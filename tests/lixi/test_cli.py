"""The set-up commands of API.md: brands create and seed-demo, both with --json."""

import json

from sqlalchemy import func, select

from lixi.extensions import db
from lixi.models import ApiKey, AuditEvent, Brand


def test_brands_create_prints_the_key_once_and_it_works(app, client):
    result = app.test_cli_runner().invoke(args=["brands", "create", "Phở Hòa", "--currency", "VND", "--json"])
    assert result.exit_code == 0, result.output
    created = json.loads(result.output)
    assert set(created) == {"id", "slug", "api_key"}
    assert created["slug"] == "pho-hoa"
    headers = {"Authorization": f"Bearer {created['api_key']}"}
    assert client.get("/api/v1/merchants", headers=headers).status_code == 200
    assert db.session.execute(select(func.count(AuditEvent.id))).scalar() == 2  # brand + key


def test_same_name_gets_a_distinct_slug(app):
    runner = app.test_cli_runner()
    first = json.loads(runner.invoke(args=["brands", "create", "Kem", "--json"]).output)
    second = json.loads(runner.invoke(args=["brands", "create", "Kem", "--json"]).output)
    assert first["slug"] != second["slug"]


def test_seed_demo_twice_refreshes_the_key_and_keeps_the_data(app, client):
    runner = app.test_cli_runner()
    first = json.loads(runner.invoke(args=["seed-demo", "--json"]).output)
    second = json.loads(runner.invoke(args=["seed-demo", "--json"]).output)
    assert first["brand_id"] == second["brand_id"] and first["offer_id"] == second["offer_id"]
    assert db.session.execute(select(func.count(Brand.id))).scalar() == 1
    live = db.session.execute(select(func.count(ApiKey.id)).where(ApiKey.revoked_at.is_(None))).scalar()
    assert live == 1
    from lixi.auth import forget_cached_keys

    forget_cached_keys()
    old = client.get("/api/v1/merchants", headers={"Authorization": f"Bearer {first['api_key']}"})
    assert old.status_code == 401
    headers = {"Authorization": f"Bearer {second['api_key']}"}
    validate = client.post(
        "/api/v1/vouchers/validate", json={"code": second["voucher_code"]}, headers=headers
    )
    assert validate.status_code == 200
    assert second["staff_login"]["email"] and second["urls"]["voucher"].startswith("http")
    assert client.get(second["urls"]["voucher"]).status_code == 200


def test_purge_idempotency_keeps_fresh_keys(app, api):
    api.post("/merchants", {"name": "M"}, headers={"Idempotency-Key": "fresh"})
    result = app.test_cli_runner().invoke(args=["purge-idempotency"])
    assert result.exit_code == 0 and "purged 0" in result.output
