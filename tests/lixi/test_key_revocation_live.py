"""A revoked API key stops working on every gunicorn worker within a second, reads and writes alike."""

from __future__ import annotations

import json
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests
from sqlalchemy import select

from harness.liveserver import LiveServer, flask_command, unlimited_env
from lixi.app import create_app
from lixi.auth import revoke_api_key
from lixi.extensions import db
from lixi.models import ApiKey
from tests.conftest import make_config
from tests.live import live_database_url

pytestmark = [pytest.mark.live, pytest.mark.slow]

WORKERS = 4
ROUNDS = 96  # requests per round, each on a new connection, so every worker gets its share


def _round(url: str, key: str) -> list[int]:
    """GETs and POST /merchants (a write) at once, each on its own connection."""
    headers = {"Authorization": f"Bearer {key}"}

    def call(i: int) -> int:
        if i % 4 == 0:
            response = requests.post(
                f"{url}/api/v1/merchants", json={"name": f"S{i}"}, headers=headers, timeout=30
            )
        else:
            response = requests.get(f"{url}/api/v1/merchants", headers=headers, timeout=30)
        return response.status_code

    with ThreadPoolExecutor(16) as pool:
        return list(pool.map(call, range(ROUNDS)))


def test_a_revoked_key_is_refused_by_every_worker_within_a_second(tmp_path, redis_url, migrated):
    database_url = live_database_url(tmp_path)
    env = unlimited_env(database_url, redis_url)
    flask_command(env, "db", "upgrade")
    brand = json.loads(flask_command(env, "brands", "create", "Revocation Live", "--json"))
    server = LiveServer(env=env, workers=WORKERS, threads=4).start()
    try:
        for _ in range(3):  # every worker checks the key once, then serves it from memory
            statuses = _round(server.url, brand["api_key"])
            assert set(statuses) <= {200, 201}, statuses
        time.sleep(1.5)  # past the unconfirmed second: only the listeners keep the entries fresh
        assert set(_round(server.url, brand["api_key"])) <= {200, 201}

        app = create_app(make_config(database_url, redis_url))
        with app.app_context():
            key_id = db.session.execute(select(ApiKey.id).where(ApiKey.brand_id == brand["id"])).scalar_one()
            revoke_api_key(brand["id"], key_id)
            revoked_at = time.monotonic()
            db.session.remove()

        refused_after = None
        while time.monotonic() - revoked_at < 3:
            statuses = _round(server.url, brand["api_key"])
            if set(statuses) == {401}:
                refused_after = time.monotonic() - revoked_at
                break
        assert refused_after is not None and refused_after < 1.5, refused_after
        for _ in range(2):
            assert set(_round(server.url, brand["api_key"])) == {401}
    finally:
        server.stop()
