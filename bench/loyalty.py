"""Loyalty benchmark: purchase events that earn points, and reward exchanges, against a bare Flask endpoint.

    .venv/bin/python bench/loyalty.py [--duration 10] [--connections 64] [--members 500]

Same method as bench/vouchers.py: both servers under the same gunicorn settings in one run, wrk
at 64 connections in rounds (bare, event, exchange; --repeat rounds), req/s, p50/p99 and the ratio
to the bare endpoint. Every event has an external_id of its own (made up by the wrk script), so
each one is recorded and earns points: none is answered as a repeat. Targets: events ≥ 0.2×.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.common import (  # noqa: E402
    WRK_DONE,
    add_load_options,
    bare_sample,
    bare_server,
    best_of,
    post,
    print_table,
    save,
    wrk,
    wrk_figures,
)
from harness.liveserver import LiveServer, flask_command, migrate_and_create_brand, unlimited_env  # noqa: E402
from harness.localredis import resolve_redis  # noqa: E402

TARGETS = {"event": (0.2, 200), "exchange": (0.2, 200)}
NAMES = ["event", "exchange"]
AMOUNT = 200_000  # a purchase of 200,000 ₫: 20 points at 1 point per 10,000 ₫
COST = 10  # points per reward exchange
FUNDS = 1_000_000  # each member's starting points: exchanges never run short

# POST /events with a purchase of a member from the list (each thread walks its own stride), and an
# external_id no other request has: "<run>-<request number across all threads>".
EVENTS_SCRIPT = (
    r"""
local members = {}
local counter = 0
local thread_count = 1
local next_thread = 0

function setup(thread)
  thread:set("thread_index", next_thread)
  next_thread = next_thread + 1
end

function init(args)
  for line in io.lines(args[1]) do members[#members + 1] = line end
  thread_count = tonumber(args[2])
  run = args[4]
  amount = args[5]
  wrk.method = "POST"
  wrk.headers["Content-Type"] = "application/json"
  wrk.headers["Authorization"] = "Bearer " .. args[3]
end

function request()
  local n = counter * thread_count + thread_index
  counter = counter + 1
  local member = members[n % #members + 1]
  return wrk.format(nil, nil, nil, '{"member_external_id":"' .. member .. '","type":"purchase",'
    .. '"external_id":"' .. run .. '-' .. n .. '","amount":' .. amount .. '}')
end

"""
    + WRK_DONE
)


def wrk_events(url: str, members_file: Path, api_key: str, run: str, args: argparse.Namespace) -> dict:
    """wrk with EVENTS_SCRIPT: purchases of AMOUNT, each with a fresh external_id under `run`."""
    script = Path(args.workdir) / "events.lua"
    script.write_text(EVENTS_SCRIPT)
    command = ["wrk", "-t", str(args.wrk_threads), "-c", str(args.connections), "-d", f"{args.duration}s"]
    command += ["--timeout", "10s", "-s", str(script), url, "--", str(members_file)]
    command += [str(args.wrk_threads), api_key, run, str(AMOUNT)]
    output = subprocess.run(command, capture_output=True, text=True, check=True).stdout  # noqa: S603
    return wrk_figures(output)


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    add_load_options(parser)
    parser.add_argument("--members", type=int, default=500)
    args = parser.parse_args()
    load_at_start = os.getloadavg()

    redis_url, redis_server = resolve_redis(os.environ.get("REDIS_URL"), allow_default=False)
    results: dict = {"settings": {k: v for k, v in vars(args).items()}, "load_before": load_at_start}
    try:
        with tempfile.TemporaryDirectory(prefix="lixi-bench-") as workdir:
            args.workdir = workdir
            database_url = os.environ.get("DATABASE_URL") or f"sqlite:///{workdir}/bench.db"
            results["settings"]["database"] = database_url.split(":", 1)[0]
            env = unlimited_env(database_url, redis_url, SECRET_KEYS="bench-key")
            api_key = migrate_and_create_brand(env, "Bench")
            with LiveServer(env=env, workers=args.workers, threads=args.threads) as lixi:
                api = f"{lixi.url}/api/v1"
                members, reward_id = set_up(api, api_key, args.members)
                members_file = Path(workdir) / "members.txt"
                members_file.write_text("\n".join(members))
                with bare_server(args) as bare:
                    rounds: dict[str, list[dict]] = {"bare": [], **{name: [] for name in NAMES}}
                    bare_codes = Path(workdir) / "bare.txt"
                    bare_codes.write_text("\n".join(bare_sample(args)))
                    for index in range(args.repeat):
                        # Interleaved, so background load drifting between rounds hits all three alike.
                        rounds["bare"].append(
                            wrk(f"{bare.url}/api/v1/vouchers/validate", bare_codes, "none", "", args)
                        )
                        run = f"bench-{uuid.uuid4().hex[:8]}-{index}"
                        rounds["event"].append(wrk_events(f"{api}/events", members_file, api_key, run, args))
                        exchange_url = f"{api}/rewards/{reward_id}/exchanges"
                        rounds["exchange"].append(
                            wrk(exchange_url, members_file, api_key, "", args, field="member_external_id")
                        )
                results.update(summarise(rounds))
                results["after"] = tally(api, api_key, members, rounds, args)
            results["check"] = loyalty_check(env)
            results["load_after"] = os.getloadavg()
    finally:
        if redis_server:
            redis_server.stop()

    report(results)
    results["settings"].pop("workdir", None)
    save(results, "loyalty", ROOT)
    return 0


def set_up(api: str, api_key: str, count: int) -> tuple[list[str], int]:
    """A programme (1 point per 10,000 ₫ on purchases, tiers, expiry), `count` funded members and
    a reward of COST points with no stock or per-member limit."""
    headers = {"Authorization": f"Bearer {api_key}"}
    programme = {
        "name": "Bench",
        "earn": [{"event": "purchase", "points_per": {"amount": 10000, "points": 1}}],
        "expire_days": 365,
        "tiers": [{"name": "Member", "min_points": 0}, {"name": "Gold", "min_points": 1_000_000}],
    }
    response = requests.put(f"{api}/loyalty", json=programme, headers=headers, timeout=60)
    response.raise_for_status()
    session = requests.Session()
    offer = post(session, f"{api}/offers", api_key, {"name": "Free drink", "kind": "free_item", "value": 0})
    reward = post(
        session, f"{api}/rewards", api_key, {"name": "Drink", "offer_id": offer["id"], "cost_points": COST}
    )
    members = [f"bench-{i}" for i in range(count)]

    def enrol(member: str) -> None:
        with requests.Session() as s:
            post(s, f"{api}/members", api_key, {"external_id": member})
            post(s, f"{api}/members/{member}/points", api_key, {"points": FUNDS, "reason": "Bench funds"})

    with ThreadPoolExecutor(16) as pool:
        list(pool.map(enrol, members))
    return members, reward["id"]


def summarise(rounds: dict[str, list[dict]]) -> dict:
    """Best round per endpoint, and each round's ratio to the bare endpoint in the same round."""
    results = {name: best_of(runs) for name, runs in rounds.items()}
    bare = [run["rps"] for run in rounds["bare"]]
    for name in NAMES:
        paired = [run["rps"] / b for run, b in zip(rounds[name], bare, strict=True)]
        results[name]["round_ratios"] = [round(ratio, 3) for ratio in paired]
        results[name]["median_round_ratio"] = statistics.median(paired)
    return results


def tally(api: str, api_key: str, members: list[str], rounds: dict, args: argparse.Namespace) -> dict:
    """What the ledgers hold after the load: earn and spend entries over all members, against the
    responses wrk counted (wrk does not count the up to `connections` requests still in flight
    when each run ends, which the server may still finish)."""
    headers = {"Authorization": f"Bearer {api_key}"}

    def kinds(member: str) -> tuple[int, int]:
        earned = spent = 0
        path = f"{api}/members/{member}/ledger?limit=200"
        with requests.Session() as s:
            while True:
                body = s.get(path, headers=headers, timeout=60).json()
                earned += sum(entry["kind"] == "earn" for entry in body["entries"])
                spent += sum(entry["kind"] == "spend" for entry in body["entries"])
                if not body.get("next"):
                    return earned, spent
                path = f"{api}/members/{member}/ledger?limit=200&after={body['next']}"

    with ThreadPoolExecutor(8) as pool:
        counts = list(pool.map(kinds, members))
    slack = args.connections * args.repeat
    out = {"slack": slack}
    for name, (kind, index) in {"event": ("earn", 0), "exchange": ("spend", 1)}.items():
        answered = sum(run["requests"] for run in rounds[name])
        recorded = sum(count[index] for count in counts)
        out[name] = {
            "answered": answered,
            f"{kind}_entries": recorded,
            "consistent": answered <= recorded <= answered + slack,
        }
    return out


def loyalty_check(env: dict[str, str]) -> str:
    """`flask loyalty-check` on the benchmark's database: every balance equals its ledger?"""
    try:
        return flask_command(env, "loyalty-check").strip()
    except subprocess.CalledProcessError as error:
        return f"FAILED (exit {error.returncode}): {error.stderr.strip()[:500]}"


def report(results: dict) -> None:
    s = results["settings"]
    print(
        f"\nLixi loyalty benchmark — gunicorn gthread {s['workers']}×{s['threads']}, {s['database']}, "
        f"wrk {s['wrk_threads']} threads × {s['connections']} connections × {s['duration']} s, "
        f"{os.cpu_count()} cores shared with wrk; load average before {results['load_before'][0]:.2f}, "
        f"after {results['load_after'][0]:.2f}"
    )
    print_table(results, TARGETS, NAMES)
    after = results["after"]
    for name, kind in (("event", "earn"), ("exchange", "spend")):
        figures = after[name]
        verdict = "ok" if figures["consistent"] else "MISMATCH"
        print(
            f"{name}: wrk counted {figures['answered']} answers; the ledgers hold "
            f"{figures[f'{kind}_entries']} {kind} entries (up to {after['slack']} more: those in flight) "
            f"— {verdict}"
        )
    print(f"loyalty-check: {results['check']}")


if __name__ == "__main__":
    sys.exit(main())
