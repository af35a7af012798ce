"""A real multi-worker gunicorn serving Lixi (or another WSGI app) on 127.0.0.1, for tests and benchmarks."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import requests

from harness.localredis import free_port, terminate
from lixi.config import ROOT

GUNICORN = str(Path(sys.executable).with_name("gunicorn"))
FLASK = str(Path(sys.executable).with_name("flask"))
UNLIMITED = "1000000 per minute"


def unlimited_env(database_url: str, redis_url: str, **extra: str) -> dict[str, str]:
    """Settings for a load test: limits are still checked in Redis on every call, but never trip."""
    return {
        "DATABASE_URL": database_url,
        "REDIS_URL": redis_url,
        "SECRET_KEYS": "test-key-new,test-key-old",
        "RATE_LIMIT_VALIDATE_PER_IP": UNLIMITED,
        "RATE_LIMIT_VALIDATE_PER_KEY": UNLIMITED,
        "RATE_LIMIT_REDEEM_PER_IP": UNLIMITED,
        "RATE_LIMIT_REDEEM_PER_KEY": UNLIMITED,
        "RATE_LIMIT_FAILED_CODES": UNLIMITED,
        "RATE_LIMIT_PLAYS_PER_IP": UNLIMITED,
        "RATE_LIMIT_PLAYS_PER_MEMBER": UNLIMITED,
        "RATE_LIMIT_PLAYS_PER_DEVICE": UNLIMITED,
        "GIFT_CLAIM_LIMIT": UNLIMITED,
        **extra,
    }


def flask_command(env: dict[str, str], *args: str) -> str:
    """Run `flask --app wsgi …` with `env` and return what it printed."""
    result = subprocess.run(  # noqa: S603 - our own argv
        [FLASK, "--app", "wsgi", *args],
        env={**os.environ, "PYTHONPATH": str(ROOT), **env},
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    return result.stdout


def migrate_and_create_brand(env: dict[str, str], name: str) -> str:
    """Migrate the database of `env` and create a brand on it; returns the brand's API key."""
    flask_command(env, "db", "upgrade")
    return json.loads(flask_command(env, "brands", "create", name, "--json"))["api_key"]


@dataclass
class LiveServer:
    """gunicorn gthread workers on a free port; `env` is added to the environment (DATABASE_URL, …)."""

    env: dict[str, str]
    app: str = "wsgi:app"
    workers: int = 4
    threads: int = 8
    port: int = field(default_factory=free_port)
    ready_path: str = "/openapi.json"
    process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 30) -> LiveServer:
        command = [
            GUNICORN,
            "--bind",
            f"127.0.0.1:{self.port}",
            "--worker-class",
            "gthread",
            "--workers",
            str(self.workers),
            "--threads",
            str(self.threads),
            "--log-level",
            "warning",
            "--graceful-timeout",
            "5",
            self.app,
        ]
        env = {**os.environ, "PYTHONPATH": str(ROOT), **self.env}
        self.process = subprocess.Popen(command, cwd=ROOT, env=env)  # noqa: S603 - our own argv
        deadline = time.monotonic() + timeout
        while True:
            if self.process.poll() is not None:
                raise RuntimeError(f"gunicorn exited with {self.process.returncode}")
            try:
                if requests.get(self.url + self.ready_path, timeout=1).status_code < 500:
                    return self
            except requests.RequestException:
                pass
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError("gunicorn did not become ready")
            time.sleep(0.1)

    def stop(self) -> None:
        terminate(self.process, grace=10)
        self.process = None

    def __enter__(self) -> LiveServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
