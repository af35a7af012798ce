"""Run a command with REDIS_URL pointing at a live Redis, starting one if needed (see harness/localredis.py).

    python scripts/with_redis.py [--own] -- COMMAND ...

--own skips 127.0.0.1:6379 (the test suite flushes its Redis, so it never borrows a shared one).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from harness.localredis import resolve_redis  # noqa: E402


def main(argv: list[str]) -> int:
    own = "--own" in argv[: argv.index("--")] if "--" in argv else False
    command = argv[argv.index("--") + 1 :] if "--" in argv else argv
    if not command:
        print(__doc__, file=sys.stderr)
        return 2
    url, server = resolve_redis(os.environ.get("REDIS_URL"), allow_default=not own)
    print(f"lixi: using Redis at {url}" + (" (started for this run)" if server else ""), flush=True)
    env = {**os.environ, "REDIS_URL": url}
    child = subprocess.Popen(command, env=env)
    # SIGTERM is passed on; the terminal's Ctrl+C already reached the child (our process group),
    # so SIGINT is not sent twice. Either way Redis stays up until the child has exited.
    signal.signal(signal.SIGTERM, lambda *_: child.terminate())
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        return child.wait()
    finally:
        if server:
            server.stop()
            print(f"lixi: stopped the Redis started for this run (port {server.port})", flush=True)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
