"""The served OpenAPI document describes every endpoint, and fuzzing it finds no server error."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from openapi_spec_validator import validate as validate_spec

from lixi.config import ROOT
from tests.live import running_lixi

HTTP_METHODS = {"get", "post", "put", "patch", "delete"}


def _spec_paths(client) -> set[tuple[str, str]]:
    spec = client.get("/openapi.json").get_json()
    return {(path, method.upper()) for path, method, _ in _operations(spec)}


def _operations(spec: dict):
    for path, item in spec["paths"].items():
        for method, operation in item.items():
            if method in HTTP_METHODS:
                yield path, method, operation


def test_openapi_describes_every_api_route_with_the_key_scheme(app, client):
    response = client.get("/openapi.json")
    assert response.status_code == 200
    spec = response.get_json()
    assert spec["openapi"].startswith("3.")
    assert spec["components"]["securitySchemes"]["ApiKey"] == {
        "type": "http",
        "scheme": "bearer",
        "description": "A brand API key: `Bearer lx_…`",
    }
    documented = _spec_paths(client)
    served = set()
    for rule in app.url_map.iter_rules():
        if rule.rule.startswith("/api/v1"):
            path = re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", rule.rule)
            served |= {(path, method) for method in rule.methods - {"HEAD", "OPTIONS"}}
    assert served and served <= documented, served - documented
    for path, method, operation in _operations(spec):
        assert operation.get("security") == [{"ApiKey": []}], (method, path)
    # The contract's endpoints are all there.
    for path, method in [
        ("/api/v1/merchants", "POST"),
        ("/api/v1/members", "POST"),
        ("/api/v1/offers", "POST"),
        ("/api/v1/vouchers", "POST"),
        ("/api/v1/vouchers/{code}", "GET"),
        ("/api/v1/vouchers/validate", "POST"),
        ("/api/v1/redemptions", "POST"),
        ("/api/v1/redemptions/{redemption_id}/void", "POST"),
    ]:
        assert (path, method) in documented


def test_error_responses_are_documented_with_the_error_envelope(client):
    spec = client.get("/openapi.json").get_json()
    validate = spec["paths"]["/api/v1/vouchers/validate"]["post"]["responses"]
    assert {"200", "404", "409", "422", "429", "503"} <= set(validate)
    envelope = spec["components"]["schemas"]["Error"]
    assert envelope["properties"]["error"]["$ref"].endswith("ErrorDetail")


def test_the_document_is_valid_openapi_and_usable_by_generated_clients(client):
    spec = client.get("/openapi.json").get_json()
    validate_spec(spec)
    assert spec["info"]["license"]["name"] == "MIT"
    assert spec["info"]["contact"]["name"]
    ids = []
    for path, method, operation in _operations(spec):
        ids.append(operation["operationId"])
        assert operation.get("summary") and operation.get("description"), (method, path)
        assert "401" in operation["responses"], (method, path)
        if "{" in path:
            assert "404" in operation["responses"], (method, path)
    assert len(ids) == len(set(ids))


def test_idempotency_key_is_documented_where_it_is_read(app, client):
    spec = client.get("/openapi.json").get_json()
    for path, method, operation in _operations(spec):
        headers = {p["name"] for p in operation.get("parameters", []) if p["in"] == "header"}
        view = app.view_functions[
            next(
                r.endpoint
                for r in app.url_map.iter_rules()
                if _doc_path(r.rule) == path and method.upper() in r.methods
            )
        ]
        reads_key = _is_idempotent(view)
        assert ("Idempotency-Key" in headers) == reads_key, (method, path)


def _doc_path(rule: str) -> str:
    return re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", rule)


def _is_idempotent(view) -> bool:
    while view is not None:
        if view.__code__.co_filename.endswith("idempotency.py"):
            return True
        view = getattr(view, "__wrapped__", None)
    return False


def _schema(spec: dict, name: str) -> dict:
    return spec["components"]["schemas"][name]


def test_the_document_states_what_the_server_enforces(client, api, offer):
    """The refusals schemathesis found behind valid-by-schema requests are in the document now, and
    the server agrees with it on each side of the line."""
    spec = client.get("/openapi.json").get_json()
    member = _schema(spec, "MemberIn")["properties"]
    assert re.search(member["birthday"]["pattern"], "1900-01-01") and not re.search(
        member["birthday"]["pattern"], "1899-12-31"
    )
    assert re.search(member["external_id"]["pattern"], "m-1") and not re.search(
        member["external_id"]["pattern"], "m\x00"
    )
    assert api.post("/members", {"external_id": "m-1", "birthday": "1950-05-01"}).status_code == 201
    assert api.post("/members", {"external_id": "m-2", "birthday": "1899-05-01"}).status_code == 422
    assert api.post("/members", {"external_id": "m\x00"}).status_code == 422

    draw_at = _schema(spec, "CampaignIn")["properties"]["draw_at"]["pattern"]
    assert re.search(draw_at, "1970-01-01T00:00:00Z") and not re.search(draw_at, "1969-12-31T00:00:00Z")
    assert not re.search(draw_at, "9999-01-01T00:00:00Z")

    offer_in = _schema(spec, "OfferIn")
    percent = next(b for b in offer_in["anyOf"] if b["properties"]["kind"]["enum"] == ["percent"])
    assert percent["properties"]["value"] == {"minimum": 1, "maximum": 100}
    assert api.post("/offers", {"name": "0%", "kind": "percent", "value": 0}).status_code == 422
    assert api.post("/offers", {"name": "1%", "kind": "percent", "value": 1}).status_code == 201

    minimum = _schema(spec, "StaffIn")["properties"]["password"]["minLength"]
    assert minimum == client.application.config["STAFF_MIN_PASSWORD_LENGTH"]
    staff = {"email": "a@b.vn", "role": "brand_admin"}
    assert api.post("/staff", {**staff, "password": "x" * (minimum - 1)}).status_code == 422
    assert api.post("/staff", {**staff, "password": "x" * minimum}).status_code == 201

    reason = _schema(spec, "VoidIn")["properties"]["reason"]["pattern"]
    assert not re.search(reason, "") and not re.search(reason, " \t") and re.search(reason, " typo ")
    prize = _schema(spec, "PrizeIn")
    assert {"required": ["offer_id"], "properties": {"offer_id": {"type": "integer"}}} in prize["anyOf"]


def test_options_advertise_only_the_documented_methods(client, brand):
    response = client.options("/api/v1/vouchers/validate", headers=brand.headers)
    assert set(response.headers["Allow"].split(", ")) == {"POST", "OPTIONS"}
    look_up = client.options("/api/v1/vouchers/ABC123", headers=brand.headers)
    assert "GET" in look_up.headers["Allow"]


FUZZ_CONFIG = ROOT / "tests" / "fuzz" / "schemathesis.toml"


@pytest.fixture
def live_fuzz_target(tmp_path, redis_url, migrated):
    """A live server (gunicorn) with its own database, rate limits raised, and data to hit."""
    with running_lixi(tmp_path, redis_url) as live:
        live.post("/merchants", {"name": "Fuzz store"})
        live.post("/members", {"external_id": "m-1"})
        for kind, value in (("fixed_amount", 1000), ("percent", 10), ("gift_card", 100000)):
            offer = live.post("/offers", {"name": kind, "kind": kind, "value": value}).json()
            live.post("/vouchers", {"offer_id": offer["id"], "count": 3})
        yield live


@pytest.mark.slow
@pytest.mark.live
def test_schemathesis_finds_nothing_against_a_live_server(live_fuzz_target, tmp_path):
    """Every operation of /openapi.json, every check, positive and negative data, all phases."""
    command = [
        str(Path(sys.executable).with_name("schemathesis")),
        "--config-file",
        str(FUZZ_CONFIG),
        "run",
        live_fuzz_target.server.url + "/openapi.json",
        "--checks",
        "all",
        "--mode",
        "all",
        "--seed",
        os.environ.get("FUZZ_SEED", "20261130"),
        "--max-failures",
        "50",
        "--no-shrink",
    ]
    env = {**os.environ, "PYTHONPATH": str(ROOT), "LIXI_FUZZ_API_KEY": live_fuzz_target.api_key}
    # Run from a scratch folder: schemathesis keeps a cache (.schemathesis/) where it runs.
    result = subprocess.run(command, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600)  # noqa: S603
    assert result.returncode == 0, result.stdout[-20000:] + result.stderr[-2000:]
