"""A real multi-worker gunicorn serving Lixi (or another WSGI app) on 127.0.0.1, for tests and benchmarks."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import requests

from lixi.config import ROOT
from lixi.localredis import free_port

GUNICORN = str(Path(sys.executable).with_name("gunicorn"))


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
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None

    def __enter__(self) -> LiveServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
