"""The error envelope of API.md: every API error, whatever its cause, is JSON {"error": {code, message}}."""

from __future__ import annotations

from tests.conftest import error_code


def test_every_api_error_is_json(client, brand):
    cases = [
        client.get("/api/v1/nowhere", headers=brand.headers),
        client.delete("/api/v1/merchants", headers=brand.headers),
        client.post(
            "/api/v1/merchants",
            data="{not json",
            headers={**brand.headers, "Content-Type": "application/json"},
        ),
        client.post("/api/v1/merchants", json=[1, 2], headers=brand.headers),
        client.post("/api/v1/merchants", data="x" * (2 * 1024 * 1024), headers=brand.headers),
    ]
    for response in cases:
        assert 400 <= response.status_code < 500, response.status_code
        assert response.is_json and error_code(response)
