"""A live Lixi under gunicorn for tests that need real processes: its own database and brand."""

from __future__ import annotations

import json
from dataclasses import dataclass

import requests

from harness.liveserver import LiveServer, flask_command


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
