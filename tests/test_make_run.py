"""`make run` itself: gunicorn and a job worker, a clean stop (worker before Redis), and a demo that
keeps its data and API key from one run to the next."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import threading
import time
from pathlib import Path

import pytest
import requests

from harness.localredis import answers, free_port
from lixi.config import ROOT

pytestmark = [pytest.mark.slow, pytest.mark.live, pytest.mark.timeout(120)]

# Settings of the developer's shell that would point the run at their database, Redis or key, and
# an outer make's (make test → pytest → make run): its variables and jobserver are not this run's.
_INHERITED = (
    *("DATABASE_URL", "REDIS_URL", "PUBLIC_BASE_URL", "DEMO_API_KEY_FILE", "HOST", "PORT"),
    *("MAKEFLAGS", "MAKELEVEL", "MFLAGS"),
)


class MakeRun:
    """`make run` in its own session (a terminal of its own), its output collected line by line."""

    def __init__(self, tmp_path: Path, port: int) -> None:
        self.port = port
        env = {key: value for key, value in os.environ.items() if key not in _INHERITED}
        env.update(
            DATABASE_URL=f"sqlite:///{tmp_path / 'lixi.db'}",
            DEMO_API_KEY_FILE=str(tmp_path / "instance" / "demo-api-key"),  # where the README looks
            WEB_CONCURRENCY="1",
            GUNICORN_THREADS="2",
        )
        self.process = subprocess.Popen(
            # --own: a Redis of this run's own, which with_redis.py must stop last.
            # -o: never reinstall .venv from under the running suite (make test has just set it up).
            [
                "make",
                "--no-print-directory",
                "-o",
                ".venv/.installed",
                "run",
                f"PORT={port}",
                "WITH_REDIS_ARGS=--own",
            ],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,
        )
        self.lines: list[str] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.append(line.rstrip("\n"))

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def output(self) -> str:
        return "\n".join(self.lines)

    def printed(self, field: str) -> str:
        match = re.search(rf"^{re.escape(field)}: (.+)$", self.output, re.MULTILINE)
        assert match, f"{field} not printed:\n{self.output}"
        return match.group(1).strip()

    def wait_until_serving(self, timeout: float = 60) -> requests.Response:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.process.poll() is None, f"make run exited early:\n{self.output}"
            try:
                return requests.get(self.url + "/openapi.json", timeout=2)
            except requests.RequestException:
                time.sleep(0.2)
        raise AssertionError(f"make run did not serve within {timeout} s:\n{self.output}")

    def stop(self, how: str, timeout: float = 45) -> int:
        if how == "ctrl-c":  # the terminal sends SIGINT to its whole foreground process group
            os.killpg(self.process.pid, signal.SIGINT)
        else:  # systemd, docker stop, kill: SIGTERM to make alone
            self.process.terminate()
        return self.wait(timeout)

    def wait(self, timeout: float) -> int:
        """make's exit status, once all of its output has been read."""
        code = self.process.wait(timeout=timeout)
        self._reader.join(timeout=5)
        return code

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)


def _bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def _run_the_readme_examples(run: MakeRun, workdir: Path) -> None:
    """The README's "Try the API" block, as a reader would paste it (curl failing on HTTP errors)."""
    readme = (ROOT / "README.md").read_text()
    section = readme[readme.index("## Try the API") :]
    block = re.search(r"```sh\n(.*?)```", section, re.DOTALL).group(1)
    script = block.replace("127.0.0.1:5000", f"127.0.0.1:{run.port}").replace("curl -s ", "curl -sSf ")
    result = subprocess.run(
        ["bash", "-c", "set -euo pipefail\n" + script],
        cwd=workdir,  # the block reads instance/demo-api-key
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    out = result.stdout
    assert '"valid":true' in out and '"voided_at":"' in out and '"status":"voided"' in out, out
    assert '"plays_left":' in out, out
    assert f"127.0.0.1:{run.port}/play/" in out and '"liability":' in out, out
    assert '"points_to_next_tier":' in out and '"reason":' in out and f"127.0.0.1:{run.port}/me?t=" in out, (
        out
    )


def _assert_stopped_cleanly(run: MakeRun, code: int) -> None:
    output = run.output
    assert code in (0, -signal.SIGINT, -signal.SIGTERM), output  # make may re-raise what it was sent
    assert "Traceback" not in output and "make: ***" not in output, output
    worker_stopped = output.index("lixi: job worker stopped")
    redis_stopped = output.index("lixi: stopped the Redis started for this run")
    assert output.index("lixi: gunicorn stopped") < redis_stopped
    assert worker_stopped < redis_stopped, output
    redis_port = re.search(r"Redis started for this run \(port (\d+)\)", output).group(1)
    assert not answers(f"redis://127.0.0.1:{redis_port}/0", 0.2)
    with pytest.raises(requests.ConnectionError):
        requests.get(run.url + "/openapi.json", timeout=2)  # nothing left on the port


def test_make_run_serves_with_gunicorn_stops_cleanly_and_keeps_the_demo_key(tmp_path):
    port = free_port()
    first = MakeRun(tmp_path, port)
    try:
        ready = first.wait_until_serving()
        assert ready.status_code == 200
        assert ready.headers["Server"].startswith("gunicorn"), ready.headers  # not Werkzeug's server
        key = first.printed("api_key")
        assert (tmp_path / "instance" / "demo-api-key").read_text().strip() == key
        assert requests.get(first.printed("urls.voucher"), timeout=10).status_code == 200
        # The demo members start with plays: the printed game link and the API play at once.
        page = requests.get(first.printed("urls.play"), timeout=10)
        assert page.status_code == 200 and 'data-testid="plays-left">5<' in page.text
        campaign = first.printed("campaign_id")
        for member in ("demo-001", "demo-002"):
            played = requests.post(
                f"{first.url}/api/v1/campaigns/{campaign}/plays",
                json={"member_external_id": member},
                headers=_bearer(key),
                timeout=10,
            )
            assert played.status_code == 201, played.text
        _run_the_readme_examples(first, tmp_path)
        _assert_stopped_cleanly(first, first.stop("ctrl-c"))
    finally:
        first.kill()

    second = MakeRun(tmp_path, port)
    try:
        second.wait_until_serving()
        assert second.printed("api_key") == key  # the same key, still working
        merchants = requests.get(f"{second.url}/api/v1/merchants", headers=_bearer(key), timeout=10)
        assert merchants.status_code == 200 and len(merchants.json()["merchants"]) == 1
        assert second.printed("campaign_id") == campaign
        _assert_stopped_cleanly(second, second.stop("sigterm"))
    finally:
        second.kill()


def test_make_run_whose_port_is_taken_fails_and_still_stops_the_worker_then_redis(tmp_path):
    with socket.socket() as taken:
        taken.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        run = MakeRun(tmp_path, taken.getsockname()[1])
        try:
            code = run.wait(timeout=90)  # gunicorn gives up on the port after about 5 s
        finally:
            run.kill()
    output = run.output
    assert code != 0 and "lixi: gunicorn exited unexpectedly; stopping" in output, output
    assert "Traceback" not in output, output
    assert output.index("lixi: job worker stopped") < output.index("lixi: stopped the Redis"), output
