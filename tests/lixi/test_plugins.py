"""What a domain plugs into the kernel (lixi.plugins) is what the kernel does: a made-up domain's
log-in page, JSON paths, outbox topic and hook, and its part of seed-demo."""

from __future__ import annotations

import json

import pytest
from flask import Blueprint, Flask, abort
from flask_login import login_required
from sqlalchemy import func, select

from lixi.database import write_transaction
from lixi.demo import Demo
from lixi.extensions import db
from lixi.models import OutboxMessage
from lixi.outbox import publish
from lixi.plugins import (
    add_demo_seeder,
    add_json_paths,
    add_login_page,
    add_outbox_hook,
    add_topics,
    plugged,
)
from tests.conftest import error_code

TOPIC = "parcel.sent"


def _plug_in_parcels(app: Flask, seen: list[list[int]]) -> None:
    """A made-up domain's register(app)."""
    parcels = Blueprint("parcels", __name__, url_prefix="/parcels")

    @parcels.get("/login")
    def login() -> str:
        return "log in"

    @parcels.get("/desk")
    @login_required
    def desk() -> str:
        return "desk"

    @parcels.get("/api/missing")
    def missing() -> str:
        abort(404)

    app.register_blueprint(parcels)
    add_login_page(app, "/parcels", "parcels.login")
    add_json_paths(app, "/parcels/api/")
    add_topics(app, TOPIC)
    add_outbox_hook(app, wants=lambda brand_id, topic: topic == TOPIC, after_commit=seen.append)

    def seed_parcels(demo: Demo) -> None:
        demo.facts["parcel"] = "ready"
        demo.add_page("parcels", "/parcels/login")

    add_demo_seeder(app, 45, seed_parcels)


@pytest.fixture
def seen(app: Flask) -> list[list[int]]:
    calls: list[list[int]] = []
    _plug_in_parcels(app, calls)
    return calls


def test_a_domains_pages_send_staff_to_its_log_in_and_its_api_errors_are_json(app, seen) -> None:
    client = app.test_client()
    desk = client.get("/parcels/desk")
    assert desk.status_code == 302 and desk.headers["Location"].startswith("/parcels/login?next=")
    missing = client.get("/parcels/api/missing")
    assert missing.status_code == 404 and error_code(missing) == "not_found"
    page = client.get("/parcels/nowhere")  # outside its JSON paths: the HTML error page
    assert page.status_code == 404 and page.mimetype == "text/html"


def test_without_the_domain_there_is_no_such_log_in_or_topic(app) -> None:
    assert "/parcels" not in plugged(app).login_pages
    assert TOPIC not in plugged(app).topics
    with pytest.raises(AssertionError), write_transaction():
        publish(1, TOPIC, {})  # a topic no domain named is a bug, not an event


def test_an_outbox_hook_hears_of_a_wanted_message_after_commit_only(app, seen, brand) -> None:
    with write_transaction():
        publish(brand.id, TOPIC, {"n": 1})
        assert seen == []  # not before the commit
    assert len(seen) == 1 and len(seen[0]) == 1
    with pytest.raises(RuntimeError), write_transaction():
        publish(brand.id, TOPIC, {"n": 2})
        raise RuntimeError("the change fails")
    assert len(seen) == 1  # a rolled-back event is never handed on
    topics = db.session.execute(select(OutboxMessage.topic, func.count()).group_by(OutboxMessage.topic)).all()
    assert [tuple(row) for row in topics] == [(TOPIC, 1)]


def test_a_domains_part_of_seed_demo_runs_in_its_order(app, seen, tmp_path) -> None:
    result = app.test_cli_runner().invoke(args=["seed-demo", "--json", "--key-file", str(tmp_path / "key")])
    assert result.exit_code == 0, result.output
    demo = json.loads(result.output)
    facts = list(demo)
    assert facts.index("campaign_id") < facts.index("parcel") < facts.index("urls")  # 40 < 45
    assert demo["parcel"] == "ready"
    pages = ["voucher", "play", "me", "parcels", "gift", "openapi", "merchant", "dashboard"]
    assert list(demo["urls"]) == pages
