"""API keys: the brand's key opens the API, a missing or wrong one is a 401; keys are stored hashed."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from lixi.extensions import db
from lixi.models import ApiKey
from tests.conftest import error_code


@pytest.mark.parametrize(
    "header",
    [None, "", "Bearer", "Bearer nonsense", "Basic abc", "Bearer lx_000000000000_wrong", "bearer lx__x"],
)
def test_missing_or_wrong_key_is_401(client, header):
    headers = {"Authorization": header} if header is not None else {}
    response = client.get("/api/v1/merchants", headers=headers)
    assert response.status_code == 401 and error_code(response) == "unauthorized"


def test_right_prefix_wrong_secret_is_401(client, brand):
    assert client.get("/api/v1/merchants", headers=brand.headers).status_code == 200
    prefix = brand.api_key.split("_")[1]
    response = client.get("/api/v1/merchants", headers={"Authorization": f"Bearer lx_{prefix}_x"})
    assert response.status_code == 401


def test_api_keys_are_stored_hashed(app, brand):
    stored = db.session.execute(select(ApiKey)).scalar_one()
    assert brand.api_key not in (stored.key_hash, stored.prefix)
    assert len(stored.key_hash) == 64
