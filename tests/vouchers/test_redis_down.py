"""Redis is only a guard and a cache: when it is gone, validate and redeem fail closed, reads go on."""

from __future__ import annotations

import time

import pytest
from sqlalchemy import func, select

from harness.localredis import RedisServer
from lixi.extensions import db
from lixi.models import AuditEvent
from tests.conftest import error_code, fresh_app
from vouchers.models import Redemption


@pytest.fixture
def redis_server():
    server = RedisServer().start()
    yield server
    server.stop()


@pytest.fixture
def app(migrated, redis_server):
    with fresh_app(migrated, redis_server.url) as app:
        yield app


def _counts() -> tuple[int, int]:
    db.session.rollback()
    redemptions = db.session.execute(select(func.count(Redemption.id))).scalar()
    redeemed_events = db.session.execute(
        select(func.count(AuditEvent.id)).where(AuditEvent.action == "voucher.redeemed")
    ).scalar()
    return redemptions, redeemed_events


def test_without_redis_validate_and_redeem_fail_closed_and_reads_still_work(
    app, client, api, brand, merchant, offer, issue, redis_server
):
    voucher = issue(offer["id"])[0]
    before = _counts()
    redis_server.stop()

    started = time.monotonic()
    for path, body in (
        ("/vouchers/validate", {"code": voucher["code"]}),
        ("/redemptions", {"code": voucher["code"], "merchant_id": merchant["id"]}),
        ("/redemptions", {"code": voucher["token"], "merchant_id": merchant["id"]}),
    ):
        response = api.post(path, body, headers={"Idempotency-Key": "while-down"})
        assert response.status_code == 503, (path, response.status_code)
        assert error_code(response) == "unavailable"
        assert response.headers["Retry-After"]
    assert time.monotonic() - started < 10

    # Reads do not need Redis: the API, the voucher page and its QR images.
    assert api.get(f"/vouchers/{voucher['code']}").get_json()["status"] == "issued"
    assert client.get(voucher["url"]).status_code == 200
    png = client.get(voucher["qr_png_url"])
    assert png.status_code == 200 and png.data.startswith(b"\x89PNG")
    assert client.get(voucher["qr_svg_url"]).status_code == 200
    # Nothing half-written.
    assert _counts() == before

    redis_server.start()
    response = api.post(
        "/redemptions",
        {"code": voucher["code"], "merchant_id": merchant["id"]},
        headers={"Idempotency-Key": "while-down"},
    )
    assert response.status_code == 201
    assert _counts() == (before[0] + 1, before[1] + 1)
