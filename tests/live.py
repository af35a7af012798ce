"""A live Lixi under gunicorn for tests that need real processes: its own database and brand."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import requests

from harness.liveserver import LiveServer, flask_command, unlimited_env
from tests.conftest import POSTGRES


@dataclass
class LiveLixi:
    """A running server plus a brand on it, with a small HTTP client."""

    server: LiveServer
    api_key: str
    brand_slug: str  # the brand's code, which the staff log-in form asks for

    def url(self, path: str) -> str:
        return f"{self.server.url}/api/v1{path}"

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.api_key}"}

    def post(self, path: str, body: dict, session: requests.Session | None = None, **headers: str):
        return (session or requests).post(
            self.url(path), json=body, headers={**self.headers, **headers}, timeout=60
        )

    def get(self, path: str):
        return requests.get(self.url(path), headers=self.headers, timeout=60)


def start_live_lixi(env: dict[str, str], **server_options: int) -> LiveLixi:
    """Migrate the database in `env`, create a brand, and start gunicorn on it."""
    flask_command(env, "db", "upgrade")
    brand = json.loads(flask_command(env, "brands", "create", "Live Test", "--json"))
    server = LiveServer(env=env, **server_options).start()
    return LiveLixi(server, brand["api_key"], brand["slug"])


def live_database_url(folder: Path) -> str:
    """On PostgreSQL the live server shares the suite's database (the brand it creates is its own);
    on SQLite it gets a file of its own in `folder`."""
    return os.environ["DATABASE_URL"] if POSTGRES else f"sqlite:///{folder / 'live.db'}"


@contextmanager
def running_lixi(
    folder: Path, redis_url: str, workers: int = 2, threads: int = 4, **env: str
) -> Iterator[LiveLixi]:
    """A live Lixi (limits off, `env` added to its settings) for the block, stopped after it."""
    lixi = start_live_lixi(
        unlimited_env(live_database_url(folder), redis_url, **env), workers=workers, threads=threads
    )
    try:
        yield lixi
    finally:
        lixi.server.stop()
