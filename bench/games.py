"""Games benchmark: plays (server-side draw, stock, budget, voucher issue) against a bare Flask endpoint.

    .venv/bin/python bench/games.py [--duration 10] [--connections 64] [--members 2000]

Same method as bench/vouchers.py: both servers under the same gunicorn settings in one run, wrk
at 64 connections in interleaved rounds (bare, play), req/s, p50/p99 and the ratio to the bare
endpoint. Targets (issue 13): ≥ 0.25× on SQLite, ≥ 0.15× on PostgreSQL, p99 < 150 ms.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
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
    parser.add_argument("--members", type=int, default=2000)
    parser.add_argument("--plays-each", type=int, default=1000)
    args = parser.parse_args()

    redis_url, redis_server = resolve_redis(os.environ.get("REDIS_URL"), allow_default=False)
    results: dict = {"settings": {k: v for k, v in vars(args).items()}}
    try:
        with tempfile.TemporaryDirectory(prefix="lixi-bench-") as workdir:
            args.workdir = workdir
            database_url = os.environ.get("DATABASE_URL") or f"sqlite:///{workdir}/bench.db"
            results["settings"]["database"] = database_url.split(":", 1)[0]
            env = unlimited_env(database_url, redis_url, SECRET_KEYS="bench-key")
            api_key = migrate_and_create_brand(env, "Bench")
            options = {"workers": args.workers, "threads": args.threads}
            with LiveServer(env=env, **options) as lixi:
                api = f"{lixi.url}/api/v1"
                session = requests.Session()
                offer = post(
                    session, f"{api}/offers", api_key, {"name": "10k", "kind": "fixed_amount", "value": 10000}
                )
                campaign = post(
                    session,
                    f"{api}/campaigns",
                    api_key,
                    {
                        "name": "Bench wheel",
                        "game": "spin_wheel",
                        "budget": 10**12,
                        "prizes": [
                            {
                                "label": "10k",
                                "weight": 10,
                                "stock": 1_000_000,
                                "offer_id": offer["id"],
                                "value": 10000,
                            },
                            {"label": "Nothing", "weight": 90},
                        ],
                    },
                )
                post(session, f"{api}/campaigns/{campaign['id']}/activate", api_key, {})
                members = [f"bench-{i}" for i in range(args.members)]

                def enrol(member: str) -> None:
                    with requests.Session() as s:
                        post(s, f"{api}/members", api_key, {"external_id": member})
                        body = {"campaign_id": campaign["id"], "plays": args.plays_each}
                        post(s, f"{api}/members/{member}/plays", api_key, body)

                with ThreadPoolExecutor(16) as pool:
                    list(pool.map(enrol, members))
                play_url = f"{api}/campaigns/{campaign['id']}/plays"
                # Each round walks the members in its own slice; every member has plays enough for all.
                with bare_server(args) as bare:
                    loads = {
                        "bare": Load(f"{bare.url}/api/v1/vouchers/validate", bare_sample(args)),
                        "play": Load(play_url, members * args.repeat, api_key, field="member_external_id"),
                    }
                    results.update(interleaved(args, loads))
                stats = requests.get(
                    f"{api}/campaigns/{campaign['id']}/stats", headers={"Authorization": f"Bearer {api_key}"}
                ).json()
                results["stats"] = {k: stats[k] for k in ("plays", "wins", "vouchers_issued", "budget_spent")}
    finally:
        if redis_server:
            redis_server.stop()

    s = results["settings"]
    print(
        f"\nLixi games benchmark — gunicorn gthread {s['workers']}×{s['threads']}, {s['database']}, "
        f"wrk {s['wrk_threads']} threads × {s['connections']} connections × {s['duration']} s, "
        f"{os.cpu_count()} cores shared with wrk"
    )
    print_table(results, hot_targets(s["database"]), ["play"])
    print(f"after the run: {results['stats']}")
    results["settings"].pop("workdir", None)
    save(results, "games", ROOT)
    return 0


if __name__ == "__main__":
    sys.exit(main())
