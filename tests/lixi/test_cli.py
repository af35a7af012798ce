"""The set-up commands of API.md: brands create and seed-demo, both with --json; the worker."""

import json
import stat
import time

from sqlalchemy import func, select, update

from games.demo import DEMO_PLAYS
from games.models import Campaign, Prize
from games.plays import plays_left
from gifting.models import Gift
from lixi import jobs
from lixi.auth import forget_cached_keys, issue_api_key
from lixi.database import write_transaction
from lixi.extensions import db
from lixi.models import ApiKey, AuditEvent, Brand, Member
from lixi.plugins import add_sweep
from vouchers.models import Offer, Voucher


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


def _seed(app, key_file) -> dict:
    result = app.test_cli_runner().invoke(args=["seed-demo", "--json", "--key-file", str(key_file)])
    assert result.exit_code == 0, result.output
    return json.loads(result.output)


def _bearer(secret: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {secret}"}


def test_seed_demo_twice_keeps_the_data_and_the_key(app, client, tmp_path):
    key_file = tmp_path / "demo-api-key"
    first = _seed(app, key_file)
    second = _seed(app, key_file)
    assert key_file.read_text().strip() == first["api_key"] == second["api_key"]
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600  # a secret: its owner's eyes only
    assert second["api_key_file"] == str(key_file)
    for field in ("brand_id", "merchant_id", "offer_id", "lixi_offer_id", "campaign_id", "voucher_code"):
        assert first[field] == second[field], field
    assert db.session.execute(select(func.count(Brand.id))).scalar() == 1
    # The demo voucher, and the gift card the demo's lì xì holds: each made once.
    assert db.session.execute(select(func.count(Voucher.id))).scalar() == 2
    assert db.session.execute(select(func.count(Gift.id))).scalar() == 1
    live = db.session.execute(select(func.count(ApiKey.id)).where(ApiKey.revoked_at.is_(None))).scalar()
    assert live == 1
    validate = client.post(
        "/api/v1/vouchers/validate", json={"code": second["voucher_code"]}, headers=_bearer(first["api_key"])
    )
    assert validate.status_code == 200
    assert second["staff_login"]["email"] and second["urls"]["voucher"].startswith("http")
    assert client.get(second["urls"]["voucher"]).status_code == 200


def test_a_used_demo_voucher_is_replaced_by_a_fresh_one(app, client, tmp_path):
    first = _seed(app, tmp_path / "key")
    redeemed = client.post(
        "/api/v1/redemptions",
        json={"code": first["voucher_code"], "merchant_id": first["merchant_id"], "bill_amount": 250000},
        headers=_bearer(first["api_key"]),
    )
    assert redeemed.status_code == 201
    second = _seed(app, tmp_path / "key")
    assert second["voucher_code"] != first["voucher_code"]
    assert second["api_key"] == first["api_key"]


def test_a_lost_key_file_gets_a_new_key_and_only_the_seeded_ones_retire(app, client, tmp_path):
    key_file = tmp_path / "demo-api-key"
    first = _seed(app, key_file)
    _, own_key = issue_api_key(first["brand_id"], "pos-terminal")
    key_file.unlink()
    second = _seed(app, key_file)
    forget_cached_keys()
    assert second["api_key"] != first["api_key"]
    assert key_file.read_text().strip() == second["api_key"]
    assert client.get("/api/v1/merchants", headers=_bearer(first["api_key"])).status_code == 401
    assert client.get("/api/v1/merchants", headers=_bearer(second["api_key"])).status_code == 200
    assert client.get("/api/v1/merchants", headers=_bearer(own_key)).status_code == 200


def test_a_key_file_of_another_database_is_replaced(app, client, tmp_path):
    key_file = tmp_path / "demo-api-key"
    key_file.write_text("lx_0123456789ab_not-a-key-of-this-database\n")
    _seed(app, key_file)  # a fresh brand: its first key goes in the file
    key_file.write_text("lx_0123456789ab_not-a-key-of-this-database\n")
    second = _seed(app, key_file)
    assert key_file.read_text().strip() == second["api_key"]
    assert client.get("/api/v1/merchants", headers=_bearer(second["api_key"])).status_code == 200


def test_demo_members_can_play_at_once_and_are_topped_up(app, client, tmp_path):
    demo = _seed(app, tmp_path / "key")
    play = f"/api/v1/campaigns/{demo['campaign_id']}/plays"
    for member in demo["member_external_ids"]:
        response = client.post(play, json={"member_external_id": member}, headers=_bearer(demo["api_key"]))
        assert response.status_code == 201, response.json
        assert response.json["plays_left"] == DEMO_PLAYS - 1
    page = client.get(demo["urls"]["play"])
    assert page.status_code == 200
    assert f'data-testid="plays-left">{DEMO_PLAYS - 1}<' in page.get_data(as_text=True)

    _seed(app, tmp_path / "key")
    for member in db.session.execute(select(Member)).scalars():
        assert plays_left(demo["campaign_id"], member.id) == DEMO_PLAYS  # topped up, never beyond


def test_every_demo_prize_with_a_value_gives_a_voucher_of_that_value(app, tmp_path):
    demo = _seed(app, tmp_path / "key")
    prizes = db.session.execute(
        select(Prize).where(Prize.campaign_id == demo["campaign_id"]).order_by(Prize.position)
    ).scalars()
    by_label = {prize.label: prize for prize in prizes}
    lixi = by_label["Lì xì 10k"]
    assert lixi.offer_id == demo["lixi_offer_id"] and lixi.value == 10000
    assert db.session.get(Offer, lixi.offer_id).value == 10000
    luck = by_label["Chúc may mắn"]
    assert luck.offer_id is None and not luck.value  # better luck next time costs nothing
    assert all(prize.offer_id is not None for prize in by_label.values() if prize.value)


def test_an_older_demo_wheel_whose_lixi_paid_nothing_is_ended_and_replaced(app, tmp_path):
    demo = _seed(app, tmp_path / "key")
    with write_transaction():  # what seed-demo made before: a valued prize without an offer
        db.session.execute(
            update(Prize)
            .where(Prize.campaign_id == demo["campaign_id"], Prize.value == 10000)
            .values(offer_id=None)
        )
    again = _seed(app, tmp_path / "key")
    assert again["campaign_id"] != demo["campaign_id"]
    assert db.session.get(Campaign, demo["campaign_id"]).status == "ended"
    assert db.session.get(Campaign, again["campaign_id"]).status == "active"
    assert _seed(app, tmp_path / "key")["campaign_id"] == again["campaign_id"]


def test_seed_demo_prints_its_parts_in_the_order_it_always_has(app, tmp_path):
    demo = _seed(app, tmp_path / "key")
    assert list(demo) == [
        *("brand_id", "brand_slug", "api_key", "api_key_file", "merchant_id", "offer_id", "lixi_offer_id"),
        *("member_external_ids", "staff_login", "admin_login", "voucher_code", "campaign_id"),
        *("gift_card_offer_id", "urls"),
    ]
    assert list(demo["urls"]) == ["voucher", "play", "me", "gift", "openapi", "merchant", "dashboard"]


def test_the_worker_runs_each_plugged_sweep_while_it_works_even_after_one_fails(app):
    runs: list[float] = []

    def sweep() -> None:
        runs.append(time.monotonic())
        if len(runs) == 1:
            raise RuntimeError("the next round tries again")

    add_sweep(app, sweep, every="TEST_SWEEP_SECONDS")
    app.config["TEST_SWEEP_SECONDS"] = 0.02
    jobs.enqueue(time.sleep, 0.5)  # keeps the burst worker busy for a few sweeps
    result = app.test_cli_runner().invoke(args=["worker", "--burst", "--in-process"])
    assert result.exit_code == 0, result.output
    assert len(runs) >= 2
