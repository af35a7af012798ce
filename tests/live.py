"""A live Lixi under gunicorn for tests that need real processes: its own database and brand."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import requests

from lixi.config import ROOT
from lixi.liveserver import LiveServer

FLASK = str(Path(sys.executable).with_name("flask"))
UNLIMITED = "1000000 per minute"


def server_env(database_url: str, redis_url: str, **extra: str) -> dict[str, str]:
    return {
        "DATABASE_URL": database_url,
        "REDIS_URL": redis_url,
        "SECRET_KEYS": "test-key-new,test-key-old",
        "RATE_LIMIT_VALIDATE_PER_IP": UNLIMITED,
        "RATE_LIMIT_VALIDATE_PER_KEY": UNLIMITED,
        "RATE_LIMIT_REDEEM_PER_IP": UNLIMITED,
        "RATE_LIMIT_REDEEM_PER_KEY": UNLIMITED,
        "RATE_LIMIT_FAILED_CODES": UNLIMITED,
        **extra,
    }


def flask_command(env: dict[str, str], *args: str) -> str:
    full_env = {**os.environ, "PYTHONPATH": str(ROOT), **env}
    result = subprocess.run(
        [FLASK, "--app", "wsgi", *args], env=full_env, cwd=ROOT, capture_output=True, text=True, check=True
    )
    return result.stdout


@dataclass
class LiveLixi:
    """A running server plus a brand on it, with a small HTTP client."""

    server: LiveServer
    api_key: str

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
    return LiveLixi(server, brand["api_key"])
