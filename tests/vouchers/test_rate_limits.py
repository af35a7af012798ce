"""Guessing codes is rate-limited per client; limits are tunable from the environment."""

from __future__ import annotations

import pytest

from tests.conftest import error_code, fresh_app


def test_guessing_hits_429_by_the_tenth_failure(api, merchant):
    statuses = []
    for i in range(10):
        guess = f"{i:04d}-AAAA-BBBB-C{i % 10}"
        statuses.append(api.post("/vouchers/validate", {"code": guess}).status_code)
    assert statuses[:9] == [404] * 9
    assert statuses[9] == 429
    refused = api.post("/vouchers/validate", {"code": "anything"})
    assert refused.status_code == 429
    assert error_code(refused) == "rate_limited"
    assert 1 <= int(refused.headers["Retry-After"]) <= 300


def test_failures_count_across_validate_and_redeem(api, merchant):
    for i in range(5):
        assert api.post("/vouchers/validate", {"code": f"bad-{i}"}).status_code == 404
    for i in range(4):
        body = {"code": f"bad-r{i}", "merchant_id": merchant["id"]}
        assert api.post("/redemptions", body).status_code == 404
    body = {"code": "bad-last", "merchant_id": merchant["id"]}
    assert api.post("/redemptions", body).status_code == 429


def test_successes_do_not_count_as_guesses(api, merchant, offer, issue):
    voucher = issue(offer["id"])[0]
    for _ in range(30):
        assert api.post("/vouchers/validate", {"code": voucher["code"]}).status_code == 200


def test_limits_are_per_client_ip(client, brand, merchant):
    def guess(ip: str):
        return client.post(
            "/api/v1/vouchers/validate",
            json={"code": "nope"},
            headers=brand.headers,
            environ_overrides={"REMOTE_ADDR": ip},
        )

    for _ in range(9):
        assert guess("10.0.0.1").status_code == 404
    assert guess("10.0.0.1").status_code == 429
    assert guess("10.0.0.2").status_code == 404


@pytest.fixture
def app(migrated, redis_url, request):
    overrides = getattr(request, "param", {})
    with fresh_app(migrated, redis_url, **overrides) as app:
        yield app


@pytest.mark.parametrize("app", [{"RATE_LIMIT_VALIDATE_PER_KEY": "3 per minute"}], indirect=True)
def test_per_key_limit_is_a_setting(app, client, brand, offer, issue):
    voucher = issue(offer["id"])[0]
    statuses = [
        client.post(
            "/api/v1/vouchers/validate", json={"code": voucher["code"]}, headers=brand.headers
        ).status_code
        for _ in range(4)
    ]
    assert statuses == [200, 200, 200, 429]
