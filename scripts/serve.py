"""`make run` in the foreground: migrate, seed the demo, then serve with gunicorn beside a job worker.

    python scripts/serve.py      (under scripts/with_redis.py, which provides REDIS_URL)

Settings from the environment: HOST (127.0.0.1), PORT (5000), WEB_CONCURRENCY (gunicorn worker
processes, 2), GUNICORN_THREADS (threads per worker, 4), PUBLIC_BASE_URL (http://HOST:PORT).

Ctrl+C or SIGTERM stops gunicorn and the job worker, waits until both have exited, and only
then returns, so with_redis.py stops the Redis it started after everything that used it.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
FLASK = [str(BIN / "flask"), "--app", "wsgi"]
STOP_GRACE_SECONDS = 30  # a job or request still running gets this long before it is killed
PR_SET_PDEATHSIG = 1


def _positive(name: str, default: int) -> int:
    raw = os.environ.get(name, "").strip() or str(default)
    if not raw.isdigit() or int(raw) < 1:
        sys.exit(f"lixi: {name} must be a whole number from 1 up (got {raw!r})")
    return int(raw)


def _die_with_us() -> None:
    """In the child: take SIGTERM if this supervisor dies (even by SIGKILL), so no server is orphaned."""
    with contextlib.suppress(AttributeError, OSError):  # not Linux: nothing to arm
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


def _start(argv: list[str], env: dict[str, str]) -> subprocess.Popen:
    # Its own process group: the terminal's Ctrl+C reaches only this supervisor, which then sends
    # each child one SIGTERM. Two signals would make RQ cold-stop and cut a job short.
    return subprocess.Popen(  # noqa: S603 - our own argv
        argv, cwd=ROOT, env=env, process_group=0, preexec_fn=_die_with_us
    )


class Supervisor:
    """Runs steps and long-lived children; the first Ctrl+C or SIGTERM stops them all, once."""

    def __init__(self, env: dict[str, str]) -> None:
        self.env = env
        self.stopping = False
        self.children: dict[str, subprocess.Popen] = {}

    def request_stop(self, signum: int, _frame: object) -> None:
        if not self.stopping:
            self.stopping = True
            for child in self.children.values():
                if child.poll() is None:
                    child.send_signal(signal.SIGTERM)

    def step(self, argv: list[str], env: dict[str, str] | None = None) -> bool:
        """Run a set-up command to its end; False when it failed or a stop was asked for."""
        process = _start(argv, env or self.env)
        self.children["set-up"] = process
        code = process.wait()
        del self.children["set-up"]
        return code == 0 and not self.stopping

    def serve(self, commands: dict[str, list[str]]) -> int:
        for name, argv in commands.items():
            if not self.stopping:
                self.children[name] = _start(argv, self.env)
        code = 0
        while not self.stopping:
            died = [name for name, child in self.children.items() if child.poll() is not None]
            if died:
                print(f"lixi: {', '.join(died)} exited unexpectedly; stopping", flush=True)
                self.request_stop(signal.SIGTERM, None)
                code = 1
                break
            time.sleep(0.2)
        self.request_stop(signal.SIGTERM, None)
        for name, child in self.children.items():
            try:
                child.wait(timeout=STOP_GRACE_SECONDS)
            except subprocess.TimeoutExpired:
                child.kill()
                child.wait()
            print(f"lixi: {name} stopped", flush=True)
        return code


def main() -> int:
    host = os.environ.get("HOST", "").strip() or "127.0.0.1"
    port = _positive("PORT", 5000)
    workers = _positive("WEB_CONCURRENCY", 2)
    threads = _positive("GUNICORN_THREADS", 4)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    supervisor = Supervisor(env)
    signal.signal(signal.SIGINT, supervisor.request_stop)
    signal.signal(signal.SIGTERM, supervisor.request_stop)

    if not supervisor.step([*FLASK, "db", "upgrade"]):
        return 0 if supervisor.stopping else 1
    print("── demo ──", flush=True)
    seed_env = {**env, "PUBLIC_BASE_URL": env.get("PUBLIC_BASE_URL") or f"http://{host}:{port}"}
    if not supervisor.step([*FLASK, "seed-demo"], seed_env):
        return 0 if supervisor.stopping else 1
    print(
        f"── serving on http://{host}:{port} with gunicorn ({workers} workers × {threads} threads) "
        "and a job worker; Ctrl+C stops ──",
        flush=True,
    )
    gunicorn = [
        str(BIN / "gunicorn"),
        "--bind",
        f"{host}:{port}",
        "--worker-class",
        "gthread",
        "--workers",
        str(workers),
        "--threads",
        str(threads),
        "--graceful-timeout",
        "10",
        "--access-logfile",
        "-",
        "--no-control-socket",  # one shared path per user: two servers on a machine would fight over it
        "wsgi:app",
    ]
    return supervisor.serve({"gunicorn": gunicorn, "job worker": [*FLASK, "worker"]})


if __name__ == "__main__":
    sys.exit(main())
