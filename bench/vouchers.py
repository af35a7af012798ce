"""Voucher benchmark: validate and redeem against a bare Flask endpoint, issuing and QR rendering.

    .venv/bin/python bench/vouchers.py [--duration 10] [--connections 64] [--workers 4] [--threads 4]

Both servers run under the same gunicorn settings in the same run; wrk loads each in turn.
Prints req/s, p50 and p99 latency and the ratio to the bare endpoint, and writes the figures
to bench/results/. It is a measurement, not a test: nothing here fails a build.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from lixi.liveserver import LiveServer, migrate_and_create_brand, unlimited_env  # noqa: E402
from lixi.localredis import resolve_redis  # noqa: E402

WRK_SCRIPT = r"""
local codes = {}
local counter = 0

local thread_count = 1
local next_thread = 0
local threads = {}

function setup(thread)
  thread:set("thread_index", next_thread)
  next_thread = next_thread + 1
  table.insert(threads, thread)
end

function init(args)
  for line in io.lines(args[1]) do codes[#codes + 1] = line end
  thread_count = tonumber(args[2])
  wrk.method = "POST"
  wrk.headers["Content-Type"] = "application/json"
  wrk.headers["Authorization"] = "Bearer " .. args[3]
  extra = args[4] or ""
end

function request()
  -- each thread walks its own stride of the list, so no two requests share a code
  local i = (counter * thread_count + thread_index) % #codes + 1
  counter = counter + 1
  return wrk.format(nil, nil, nil, '{"code":"' .. codes[i] .. '"' .. extra .. '}')
end

function done(summary, latency, requests)
  local out = string.format(
    '{"requests":%d,"duration_us":%d,"non2xx":%d,"socket_errors":%d,"p50_us":%d,"p99_us":%d,"max_us":%d}',
    summary.requests, summary.duration, summary.errors.status,
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout,
    latency:percentile(50), latency:percentile(99), latency.max)
  io.write("WRK_JSON " .. out .. "\n")
end
"""


def wrk(url: str, codes_file: Path, api_key: str, extra: str, args: argparse.Namespace) -> dict:
    script = Path(args.workdir) / "load.lua"
    script.write_text(WRK_SCRIPT)
    command = [
        "wrk",
        "-t",
        str(args.wrk_threads),
        "-c",
        str(args.connections),
        "-d",
        f"{args.duration}s",
        "--timeout",
        "10s",
        "-s",
        str(script),
        url,
        "--",
        str(codes_file),
        str(args.wrk_threads),
        api_key,
        extra,
    ]
    output = subprocess.run(command, capture_output=True, text=True, check=True).stdout  # noqa: S603
    line = next(line for line in output.splitlines() if line.startswith("WRK_JSON "))
    figures = json.loads(line.removeprefix("WRK_JSON "))
    seconds = figures["duration_us"] / 1e6
    return {
        "rps": figures["requests"] / seconds,
        "p50_ms": figures["p50_us"] / 1000,
        "p99_ms": figures["p99_us"] / 1000,
        "requests": figures["requests"],
        "non2xx": figures["non2xx"],
        "socket_errors": figures["socket_errors"],
    }


def post(session: requests.Session, url: str, key: str, body: dict) -> dict:
    response = session.post(url, json=body, headers={"Authorization": f"Bearer {key}"}, timeout=300)
    response.raise_for_status()
    return response.json()


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--duration", type=int, default=10, help="seconds of load per endpoint")
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--wrk-threads", type=int, default=2)
    parser.add_argument("--workers", type=int, default=int(os.environ.get("BENCH_WORKERS", "3")))
    parser.add_argument("--threads", type=int, default=int(os.environ.get("BENCH_THREADS", "2")))
    parser.add_argument("--issue-calls", type=int, default=10)
    parser.add_argument("--issue-count", type=int, default=10_000)
    parser.add_argument("--qr", type=int, default=1000)
    args = parser.parse_args()

    redis_url, redis_server = resolve_redis(os.environ.get("REDIS_URL"), allow_default=False)
    with tempfile.TemporaryDirectory(prefix="lixi-bench-") as workdir:
        args.workdir = workdir
        database_url = os.environ.get("DATABASE_URL") or f"sqlite:///{workdir}/bench.db"
        env = unlimited_env(database_url, redis_url, SECRET_KEYS="bench-key")
        api_key = migrate_and_create_brand(env, "Bench")
        options = {"workers": args.workers, "threads": args.threads}
        results: dict = {"settings": {k: v for k, v in vars(args).items() if k != "workdir"}}
        results["settings"]["database"] = database_url.split(":", 1)[0]
        try:
            with LiveServer(env=env, **options) as lixi:
                api = f"{lixi.url}/api/v1"
                session = requests.Session()
                merchant = post(session, f"{api}/merchants", api_key, {"name": "Bench store"})["id"]
                offer = post(
                    session, f"{api}/offers", api_key, {"name": "50k", "kind": "fixed_amount", "value": 50000}
                )

                started = time.perf_counter()
                vouchers: list[dict] = []
                for _ in range(args.issue_calls):
                    body = {"offer_id": offer["id"], "count": args.issue_count}
                    vouchers += post(session, f"{api}/vouchers", api_key, body)["vouchers"]
                issue_seconds = time.perf_counter() - started
                results["issue"] = {
                    "vouchers": len(vouchers),
                    "calls": args.issue_calls,
                    "seconds": issue_seconds,
                    "per_second": len(vouchers) / issue_seconds,
                }

                started = time.perf_counter()
                with ThreadPoolExecutor(8) as pool:
                    sizes = list(
                        pool.map(
                            lambda v: len(requests.get(v["qr_png_url"], timeout=60).content),
                            vouchers[: args.qr],
                        )
                    )
                qr_http = time.perf_counter() - started
                from vouchers.qr import render_png

                started = time.perf_counter()
                for voucher in vouchers[args.qr : 2 * args.qr]:
                    render_png(voucher["url"])
                qr_render = time.perf_counter() - started
                results["qr"] = {
                    "count": args.qr,
                    "http_first_fetch_seconds": qr_http,
                    "render_in_process_seconds": qr_render,
                    "mean_png_bytes": sum(sizes) / len(sizes),
                }

                codes_file = Path(workdir) / "codes.txt"
                codes_file.write_text("\n".join(v["code"] for v in vouchers[2 * args.qr :]))
                extra = f',"merchant_id":{merchant}'
                results["validate"] = wrk(f"{api}/vouchers/validate", codes_file, api_key, extra, args)
                results["redeem"] = wrk(f"{api}/redemptions", codes_file, api_key, extra, args)
            with LiveServer(env={}, app="bench.bare_app:app", ready_path="/ready", **options) as bare:
                results["bare"] = wrk(f"{bare.url}/api/v1/vouchers/validate", codes_file, api_key, "", args)
        finally:
            if redis_server:
                redis_server.stop()

    report(results)
    out = ROOT / "bench" / "results"
    out.mkdir(exist_ok=True)
    (out / f"vouchers-{time.strftime('%Y%m%dT%H%M%S')}.json").write_text(json.dumps(results, indent=2))
    return 0


TARGETS = {"validate": (0.5, 100), "redeem": (0.45, 100)}


def report(results: dict) -> None:
    bare = results["bare"]
    s = results["settings"]
    print(
        f"\nLixi voucher benchmark — gunicorn gthread {s['workers']}×{s['threads']}, {s['database']}, "
        f"wrk {s['wrk_threads']} threads × {s['connections']} connections × {s['duration']} s, "
        f"{os.cpu_count()} cores shared with wrk"
    )
    print(
        f"{'endpoint':10} {'req/s':>9} {'p50 ms':>8} {'p99 ms':>8} {'ratio':>6} {'target':>16} "
        f"{'non-2xx':>8}  verdict"
    )
    for name in ("bare", "validate", "redeem"):
        r = results[name]
        ratio = r["rps"] / bare["rps"]
        if name in TARGETS:
            want_ratio, want_p99 = TARGETS[name]
            target = f"≥{want_ratio}× p99<{want_p99}"
            verdict = "PASS" if ratio >= want_ratio and r["p99_ms"] < want_p99 else "MISS"
        else:
            target, verdict = "—", ""
        errors = r["non2xx"] + r["socket_errors"]
        flag = "  (errors!)" if errors else ""
        print(
            f"{name:10} {r['rps']:9.0f} {r['p50_ms']:8.1f} {r['p99_ms']:8.1f} {ratio:6.2f} {target:>16} "
            f"{errors:8d}  {verdict}{flag}"
        )
    issue = results["issue"]
    print(
        f"issue:  {issue['vouchers']:,} vouchers in {issue['calls']} calls: {issue['seconds']:.1f} s "
        f"({issue['per_second']:,.0f}/s)"
    )
    qr = results["qr"]
    print(
        f"QR:     {qr['count']} PNGs fetched (first render, 8 clients) "
        f"in {qr['http_first_fetch_seconds']:.1f} s; "
        f"{qr['count']} rendered in-process in {qr['render_in_process_seconds']:.1f} s"
    )


if __name__ == "__main__":
    sys.exit(main())
