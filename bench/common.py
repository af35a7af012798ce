"""What the benchmarks share: wrk driven by a Lua script, the bare yardstick, and the report lines."""

from __future__ import annotations

import argparse
import json
import os
import subprocess
from pathlib import Path

import requests

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
  extra = args[4] == "-" and "" or args[4]  -- wrk drops empty arguments: "-" stands for none
  field = args[5] or "code"
end

function request()
  -- each thread walks its own stride of the list, so no two requests share a code
  local i = (counter * thread_count + thread_index) % #codes + 1
  counter = counter + 1
  return wrk.format(nil, nil, nil, '{"' .. field .. '":"' .. codes[i] .. '"' .. extra .. '}')
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


def wrk(
    url: str, codes_file: Path, api_key: str, extra: str, args: argparse.Namespace, field: str = "code"
) -> dict:
    """Load `url` with POSTs of {field: <next line of codes_file>, …extra}; returns the figures."""
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
        extra or "-",
        field,
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


def best_of(runs: list[dict]) -> dict:
    """The run with the most req/s. On this shared 2-core machine the same server swings by up to
    2× from run to run (seen on the bare endpoint alone), so each side gets its best of N, and all
    runs are kept in the results."""
    best = dict(max(runs, key=lambda run: run["rps"]))
    best["runs"] = [round(run["rps"]) for run in runs]
    best["non2xx"] = sum(run["non2xx"] for run in runs)
    best["socket_errors"] = sum(run["socket_errors"] for run in runs)
    return best


def repeated(
    args: argparse.Namespace, url: str, codes: list[str], api_key: str, extra: str, field: str = "code"
) -> dict:
    """wrk `args.repeat` times; each run gets its own slice of `codes` (a redeem uses a code once)."""
    runs = []
    share = len(codes) // args.repeat
    for index in range(args.repeat):
        path = Path(args.workdir) / f"load-{index}.txt"
        path.write_text("\n".join(codes[index * share : (index + 1) * share]))
        runs.append(wrk(url, path, api_key, extra, args, field=field))
    return best_of(runs)


def measure_bare(args: argparse.Namespace) -> dict:
    """The yardstick under the same gunicorn settings, best of `args.repeat` runs."""
    from lixi.liveserver import LiveServer

    sample = [f"SAMPLE{i:08d}" for i in range(1000 * args.repeat)]
    options = {"workers": args.workers, "threads": args.threads}
    with LiveServer(env={}, app="bench.bare_app:app", ready_path="/ready", **options) as bare:
        return repeated(args, f"{bare.url}/api/v1/vouchers/validate", sample, "none", "")


def add_load_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--duration", type=int, default=10, help="seconds of load per endpoint")
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--repeat", type=int, default=3, help="runs per endpoint; the best is reported")
    parser.add_argument("--wrk-threads", type=int, default=2)
    parser.add_argument("--workers", type=int, default=int(os.environ.get("BENCH_WORKERS", "3")))
    parser.add_argument("--threads", type=int, default=int(os.environ.get("BENCH_THREADS", "2")))


def print_table(results: dict, targets: dict[str, tuple[float, float]], names: list[str]) -> None:
    """One line per endpoint: req/s, p50, p99, the ratio to `bare`, and the verdict against its target."""
    bare = results["bare"]
    print(
        f"{'endpoint':10} {'req/s':>9} {'p50 ms':>8} {'p99 ms':>8} {'ratio':>6} {'target':>16} "
        f"{'non-2xx':>8}  verdict"
    )
    for name in ["bare", *names]:
        r = results[name]
        ratio = r["rps"] / bare["rps"]
        if name in targets:
            want_ratio, want_p99 = targets[name]
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
    print("runs (req/s): " + "; ".join(f"{name} {results[name]['runs']}" for name in ["bare", *names]))


def save(results: dict, name: str, root: Path) -> None:
    import time

    out = root / "bench" / "results"
    out.mkdir(exist_ok=True)
    (out / f"{name}-{time.strftime('%Y%m%dT%H%M%S')}.json").write_text(json.dumps(results, indent=2))
