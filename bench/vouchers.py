"""Voucher benchmark: validate and redeem against a bare Flask endpoint, issuing and QR rendering.

    .venv/bin/python bench/vouchers.py [--duration 10] [--connections 64] [--workers 3] [--threads 2]

Both servers run under the same gunicorn settings in the same run; wrk loads them in rounds
(bare, validate, redeem; --repeat rounds), so background load on a shared machine hits both
alike. Prints req/s, p50 and p99 latency and the ratio to the bare endpoint, and writes the
figures to bench/results/. It is a measurement, not a test: nothing here fails a build.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.common import (  # noqa: E402
    Load,
    add_load_options,
    bare_sample,
    bare_server,
    hot_targets,
    interleaved,
    post,
    print_table,
    save,
)
from harness.liveserver import LiveServer, migrate_and_create_brand, unlimited_env  # noqa: E402
from harness.localredis import resolve_redis  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    add_load_options(parser)
    parser.add_argument("--issue-calls", type=int, default=10)
    parser.add_argument("--issue-count", type=int, default=10_000)
    parser.add_argument("--qr", type=int, default=1000)
    args = parser.parse_args()
    load_at_start = os.getloadavg()

    redis_url, redis_server = resolve_redis(os.environ.get("REDIS_URL"), allow_default=False)
    with tempfile.TemporaryDirectory(prefix="lixi-bench-") as workdir:
        args.workdir = workdir
        database_url = os.environ.get("DATABASE_URL") or f"sqlite:///{workdir}/bench.db"
        env = unlimited_env(database_url, redis_url, SECRET_KEYS="bench-key")
        api_key = migrate_and_create_brand(env, "Bench")
        options = {"workers": args.workers, "threads": args.threads}
        results: dict = {"settings": {k: v for k, v in vars(args).items() if k != "workdir"}}
        results["settings"]["database"] = database_url.split(":", 1)[0]
        results["load_before"] = load_at_start
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

                results["qr"] = time_qr(vouchers[: args.qr], vouchers[args.qr : 2 * args.qr])

                # Validate changes nothing; redeem needs a fresh voucher per request, so every
                # round gets its own slice of the codes not used for the QR timing.
                codes = [v["code"] for v in vouchers[2 * args.qr :]]
                extra = f',"merchant_id":{merchant}'
                with bare_server(args) as bare:
                    loads = {
                        "bare": Load(f"{bare.url}/api/v1/vouchers/validate", bare_sample(args)),
                        "validate": Load(f"{api}/vouchers/validate", codes, api_key, extra),
                        "redeem": Load(f"{api}/redemptions", codes, api_key, extra),
                    }
                    results.update(interleaved(args, loads))
                results["load_after"] = os.getloadavg()
        finally:
            if redis_server:
                redis_server.stop()

    report(results)
    save(results, "vouchers", ROOT)
    return 0


def time_qr(fetched: list[dict], rendered: list[dict]) -> dict:
    """Fetch the QR PNG of each of `fetched` over HTTP (the first fetch renders, then Redis caches
    it), and render those of `rendered` in this process."""

    def fetch(voucher: dict) -> int:
        response = requests.get(voucher["qr_png_url"], timeout=60)
        response.raise_for_status()
        if not response.content.startswith(b"\x89PNG"):
            raise RuntimeError(f"not a PNG: {voucher['qr_png_url']}")
        return len(response.content)

    started = time.perf_counter()
    with ThreadPoolExecutor(8) as pool:
        sizes = list(pool.map(fetch, fetched))
    qr_http = time.perf_counter() - started

    from vouchers.qr import render_png

    started = time.perf_counter()
    for voucher in rendered:
        render_png(voucher["url"])
    qr_render = time.perf_counter() - started
    return {
        "count": len(fetched),
        "http_first_fetch_seconds": qr_http,
        "render_in_process_seconds": qr_render,
        "mean_png_bytes": sum(sizes) / len(sizes),
    }


def report(results: dict) -> None:
    s = results["settings"]
    print(
        f"\nLixi voucher benchmark — gunicorn gthread {s['workers']}×{s['threads']}, {s['database']}, "
        f"wrk {s['wrk_threads']} threads × {s['connections']} connections × {s['duration']} s, "
        f"{os.cpu_count()} cores shared with wrk; 1-min load average at start "
        f"{results['load_before'][0]:.1f}, at end {results['load_after'][0]:.1f} (with this benchmark)"
    )
    print_table(results, hot_targets(s["database"]), ["validate", "redeem"])
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
