"""Shared fixtures: a real Redis flushed per test, a migrated database, the app, one fake clock, factories."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import redis
from flask import Flask, g
from flask.testing import FlaskClient
from flask_migrate import upgrade
from sqlalchemy import event, text

from harness.localredis import RedisServer, free_port
from harness.localsmtp import Inbox
from lixi import timeutil
from lixi.app import create_app
from lixi.auth import forget_cached_keys
from lixi.config import ROOT, TestConfig
from lixi.extensions import db
from webhooks.endpoints import forget_subscriptions

POSTGRES = os.environ.get("DATABASE_URL", "").startswith(("postgres://", "postgresql"))


@pytest.fixture(scope="session", autouse=True)
def compiled_translations() -> None:
    """make test compiles the catalogs; this keeps a bare `pytest` honest too."""
    import subprocess
    import sys

    folder = ROOT / "translations" / "vi" / "LC_MESSAGES"
    source, compiled = folder / "messages.po", folder / "messages.mo"
    if compiled.exists() and compiled.stat().st_mtime >= source.stat().st_mtime:
        return
    # Written aside and renamed into place: make test runs two suites at once, and a catalogue
    # read while another process rewrites it would be half a file.
    partial = folder / f"messages.mo.{os.getpid()}"
    pybabel = Path(sys.executable).with_name("pybabel")
    subprocess.run([pybabel, "compile", "-i", source, "-o", partial], check=True, capture_output=True)
    os.replace(partial, compiled)


@pytest.fixture(scope="session")
def redis_url() -> Iterator[str]:
    """REDIS_URL when given (make test starts one), else a redis-server of our own for the session."""
    url = os.environ.get("REDIS_URL")
    server = None
    if not url:
        server = RedisServer().start()
        url = server.url
    yield url
    if server:
        server.stop()


@pytest.fixture(scope="session")
def database_url() -> Iterator[str]:
    if POSTGRES:
        yield os.environ["DATABASE_URL"]
        return
    with tempfile.TemporaryDirectory(prefix="lixi-test-") as folder:
        yield f"sqlite:///{Path(folder) / 'test.db'}"


def make_config(database_url: str, redis_url: str, **overrides: object) -> TestConfig:
    config = TestConfig()
    config.SQLALCHEMY_DATABASE_URI = database_url if not POSTGRES else config.SQLALCHEMY_DATABASE_URI
    config.REDIS_URL = redis_url
    config.RATELIMIT_STORAGE_URI = redis_url
    config.SECRET_KEYS = ["test-key-new", "test-key-old"]
    config.SECRET_KEY = config.SECRET_KEYS[0]
    # Development mail (.eml files) of this test run only: the two suites of make test run at once.
    config.MAIL_FILE_DIR = str(Path(tempfile.gettempdir()) / f"lixi-test-mail-{os.getpid()}")
    for name, value in overrides.items():
        setattr(config, name, value)
    return config


@pytest.fixture(scope="session")
def migrated(database_url: str, redis_url: str) -> str:
    app = create_app(make_config(database_url, redis_url))
    with app.app_context():
        if POSTGRES:
            db.drop_all()
            db.session.execute(text("DROP TABLE IF EXISTS alembic_version"))
            db.session.commit()
        upgrade(directory=str(ROOT / "migrations"))
    return database_url


def _empty_all_tables() -> None:
    tables = [t.name for t in reversed(db.metadata.sorted_tables)]
    if POSTGRES:
        db.session.execute(text(f"TRUNCATE {', '.join(tables)} RESTART IDENTITY CASCADE"))
    else:
        for name in tables:
            db.session.execute(text(f"DELETE FROM {name}"))
    db.session.commit()


# What extensions cache on `g` for one request: the CSRF token, the logged-in staff member.
_PER_REQUEST_CACHES = ("csrf_token", "_login_user")


def _forget_the_previous_request() -> None:
    """The suite holds one app context for its database work, so requests share `g` (production
    pushes a fresh one per request): drop the extensions' per-request caches between requests,
    so one test client's token or user never shows in another's. The requests share the session
    too, and it keeps what it loaded across commits (expire_on_commit=False): expire it all, so a
    request reads the database as a fresh session would, not an object an earlier request loaded
    (whether that stale object survived depended on when the garbage collector ran)."""
    for name in _PER_REQUEST_CACHES:
        g.pop(name, None)
    db.session.expire_all()


@contextmanager
def fresh_app(database_url: str, redis_url: str, **overrides: object) -> Iterator[Flask]:
    """An app on empty tables and a flushed Redis, inside its app context; overrides go to its config."""
    app = create_app(make_config(database_url, redis_url, **overrides))
    app.before_request(_forget_the_previous_request)
    redis.Redis.from_url(redis_url).flushdb()
    forget_cached_keys()
    forget_subscriptions()
    with app.app_context():
        _empty_all_tables()
        yield app
        db.session.remove()
        db.engine.dispose()  # its pooled connections close now, not when the collector finds the app


@pytest.fixture
def app(migrated: str, redis_url: str) -> Iterator[Flask]:
    with fresh_app(migrated, redis_url) as app:
        yield app


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@dataclass
class FakeClock:
    """What every module's "now" answers while a test holds the `clock` fixture: set `now` or advance()."""

    now: datetime

    def advance(self, **delta: float) -> datetime:
        self.now += timedelta(**delta)
        return self.now


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> FakeClock:
    """The one fake clock: lixi.timeutil.utcnow reads it, so modules that import utcnow by name and
    the models' column defaults follow it too; the real clock is back after the test."""
    fake = FakeClock(datetime(2030, 1, 1, tzinfo=UTC))
    monkeypatch.setattr(timeutil, "_clock", lambda: fake.now)
    return fake


@contextmanager
def statements_sent(keep: Callable[[str], bool] = lambda _statement: True) -> Iterator[list[str]]:
    """The SQL statements the block sends to the database (those `keep` takes), in order."""
    seen: list[str] = []

    def note(_conn, _cursor, statement: str, *_args) -> None:  # type: ignore[no-untyped-def]
        if keep(statement):
            seen.append(statement)

    event.listen(db.engine, "before_cursor_execute", note)
    try:
        yield seen
    finally:
        event.remove(db.engine, "before_cursor_execute", note)


def error_code(response) -> str:
    """The code of an API error response, after checking the envelope: {"error": {code, message, …}}."""
    body = response.get_json()
    assert set(body) == {"error"}, body
    assert body["error"]["message"]
    return body["error"]["code"]


@dataclass
class BrandHandle:
    id: int
    api_key: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.api_key}"}


@pytest.fixture
def make_brand(app: Flask):
    from lixi.brands import create_brand

    def make(name: str = "Cafe Test", **kwargs: str) -> BrandHandle:
        brand, secret = create_brand(name, **kwargs)
        return BrandHandle(brand.id, secret)

    return make


@pytest.fixture
def brand(make_brand) -> BrandHandle:
    return make_brand("Cà Phê Sữa Đá")


@pytest.fixture
def api(client: FlaskClient, brand: BrandHandle):
    """POST/GET helpers with the brand's key: api.post(path, json) -> response."""

    class Api:
        def post(self, path: str, json: object = None, headers: dict | None = None, who: BrandHandle = brand):
            return client.post(f"/api/v1{path}", json=json, headers={**who.headers, **(headers or {})})

        def get(self, path: str, who: BrandHandle = brand):
            return client.get(f"/api/v1{path}", headers=who.headers)

    return Api()


@pytest.fixture
def merchant(api) -> dict:
    response = api.post("/merchants", {"name": "Quận 1", "address": "1 Lê Lợi"})
    assert response.status_code == 201, response.get_json()
    return response.get_json()


@pytest.fixture
def make_offer(api):
    def make(**fields: object) -> dict:
        body = {"name": "50k off", "kind": "fixed_amount", "value": 50000, **fields}
        response = api.post("/offers", body)
        assert response.status_code == 201, response.get_json()
        return response.get_json()

    return make


@pytest.fixture
def offer(make_offer) -> dict:
    return make_offer()


@pytest.fixture
def issue(api):
    def issue(offer_id: int, count: int = 1, **fields: object) -> list[dict]:
        response = api.post("/vouchers", {"offer_id": offer_id, "count": count, **fields})
        assert response.status_code == 201, response.get_json()
        return response.get_json()["vouchers"]

    return issue


@pytest.fixture
def make_campaign(api):
    """A spin-wheel campaign, active unless activate=False: make_campaign(offer_id) has one prize
    of that offer; pass `prizes` for others, and any other campaign field by name."""

    def make(offer_id: int | None = None, prizes: list[dict] | None = None, activate: bool = True, **fields):
        prizes = prizes or [{"label": "20k", "weight": 1, "offer_id": offer_id}]
        body = {"name": "Spin", "game": "spin_wheel", "prizes": prizes, **fields}
        response = api.post("/campaigns", body)
        assert response.status_code == 201, response.get_json()
        campaign = response.get_json()
        if activate:
            assert api.post(f"/campaigns/{campaign['id']}/activate", {}).status_code == 200
        return campaign

    return make


@pytest.fixture
def inbox() -> Iterator[Inbox]:
    """A real SMTP server (aiosmtpd) on a free port, for tests of mail as it is received."""
    server = Inbox(free_port())
    yield server
    server.stop()
