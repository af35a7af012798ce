"""Where a hot request's CPU goes, in-process: validate, redeem and play split by part.

    .venv/bin/python bench/split.py [--requests 2000]
    scripts/with_postgres.sh .venv/bin/python bench/split.py      # on PostgreSQL

No gunicorn, no network, no wrk: Flask's test client calls the app in this process, and the CPU
time of each request (time.thread_time) is charged to the part of the code running at that
moment. The parts are known entry points (PARTS below), wrapped before the app is built; time
inside several is charged to the innermost, so the parts add up to the whole request:

- limits: the rate limits (Flask-Limiter's hooks, or the hot paths' one-script limiter);
- auth: the API key check;
- parse: reading the JSON body into the endpoint's arguments (webargs, marshmallow load);
- database: SQLAlchemy and the driver (statements, results, commit), client side only;
- service: the domain's own Python (rules, codes, the draw) outside those calls;
- serialise: the answer's marshmallow dump and JSON encoding;
- framework: the rest (Flask, werkzeug, the test client).

The bare endpoint (bench/bare_app.py) is measured the same way in the same run. Totals are also
measured without the wrappers (their cost is about a microsecond a call); the split is the
wrapped run's. The database's own CPU (PostgreSQL's server, Redis) is not in these figures.
"""

from __future__ import annotations

import argparse
import cProfile
import functools
import importlib
import inspect
import json
import os
import pstats
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from harness.liveserver import migrate_and_create_brand, unlimited_env  # noqa: E402
from harness.localredis import resolve_redis  # noqa: E402

# part → entry points "module:Class.attribute" (a missing one is skipped: the list spans versions).
PARTS: dict[str, list[str]] = {
    "limits": [
        "flask_limiter._extension:Limiter._check_request_limit",
        "flask_limiter._extension:Limiter._Limiter__inject_headers",
        "flask_limiter._extension:Limiter._Limiter__check_conditional_deductions",
        "flask_limiter._extension:Limiter._Limiter__evaluate_limits",
        "lixi.hotlimits:HotLimits.check",
        "lixi.hotlimits:HotLimits.count_failure",
    ],
    "auth": ["lixi.auth:require_api_key", "lixi.auth:_caller"],
    "parse": [
        "webargs.core:Parser.parse",
        "marshmallow.schema:Schema.load",
        "lixi.hotpath:FastIn.load",
    ],
    "database": [
        "sqlalchemy.orm.session:Session.execute",
        "sqlalchemy.orm.session:Session.connection",
        "sqlalchemy.orm.session:Session.close",
        "sqlalchemy.orm.session:Session.scalars",
        "sqlalchemy.orm.session:Session.scalar",
        "sqlalchemy.orm.session:Session.get",
        "sqlalchemy.orm.session:Session.commit",
        "sqlalchemy.orm.session:Session.rollback",
        "sqlalchemy.orm.session:Session.flush",
        "sqlalchemy.orm.session:Session.begin_nested",
        "sqlalchemy.orm.session:SessionTransaction.commit",
        "sqlalchemy.orm.session:SessionTransaction.rollback",
        "sqlalchemy.engine.base:Connection.execute",
        "sqlalchemy.engine.base:Engine.connect",
        "sqlalchemy.engine.base:Connection.close",
        "sqlalchemy.engine.base:Connection.exec_driver_sql",
        "sqlalchemy.engine.result:Result.first",
        "sqlalchemy.engine.result:Result.one",
        "sqlalchemy.engine.result:Result.all",
        "sqlalchemy.engine.result:Result.scalar",
        "sqlalchemy.engine.result:Result.scalar_one",
        "sqlalchemy.engine.result:Result.scalar_one_or_none",
        "sqlalchemy.engine.result:ScalarResult.one",
        "sqlalchemy.engine.result:ScalarResult.all",
        "sqlalchemy.engine.result:ScalarResult.first",
    ],
    "service": [
        "vouchers.redemptions:validate_voucher",
        "vouchers.redemptions:redeem_voucher",
        "games.plays:play",
    ],
    "serialise": [
        "marshmallow.schema:Schema.dump",
        "flask.json.provider:DefaultJSONProvider.dumps",
        "flask.json.provider:DefaultJSONProvider.response",
        "lixi.hotpath:FastOut.response",
    ],
}


class Ledger:
    """CPU time charged to the innermost running part (framework when none is)."""

    def __init__(self) -> None:
        self.stack: list[str] = ["framework"]
        self.mark = time.thread_time_ns()
        self.spent: dict[str, int] = defaultdict(int)
        self.on = False

    def enter(self, part: str) -> None:
        now = time.thread_time_ns()
        self.spent[self.stack[-1]] += now - self.mark
        self.stack.append(part)
        self.mark = now

    def leave(self) -> None:
        now = time.thread_time_ns()
        self.spent[self.stack.pop()] += now - self.mark
        self.mark = now

    def reset(self) -> None:
        self.spent.clear()
        self.mark = time.thread_time_ns()


LEDGER = Ledger()


def _charged(part: str, function: Callable) -> Callable:
    @functools.wraps(function)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        if not LEDGER.on:
            return function(*args, **kwargs)
        LEDGER.enter(part)
        try:
            return function(*args, **kwargs)
        finally:
            LEDGER.leave()

    return wrapper


def install_wrappers() -> list[str]:
    """Wrap every entry point of PARTS where it is defined and wherever it was imported by name."""
    wrapped = []
    for part, targets in PARTS.items():
        for target in targets:
            module_name, _, path = target.partition(":")
            try:
                module = importlib.import_module(module_name)
            except ImportError:
                continue
            owner: Any = module
            *parents, attribute = path.split(".")
            try:
                for parent in parents:
                    owner = getattr(owner, parent)
                original = owner.__dict__[attribute] if isinstance(owner, type) else getattr(owner, attribute)
            except (AttributeError, KeyError):
                continue
            if not inspect.isfunction(original):
                continue  # properties and descriptors are left alone (a wrapper would change them)
            replacement = _charged(part, original)
            setattr(owner, attribute, replacement)
            if not parents:  # a function: also where other modules imported it by name
                for other in list(sys.modules.values()):
                    if other is not None and getattr(other, attribute, None) is original:
                        setattr(other, attribute, replacement)
            wrapped.append(target)
    return wrapped


@contextmanager
def charging() -> Iterator[None]:
    LEDGER.reset()
    LEDGER.on = True
    try:
        yield
    finally:
        LEDGER.on = False


def per_request(calls: Callable[[int], Any], count: int) -> float:
    """CPU milliseconds per call of `calls(i)` for i in range(count)."""
    started = time.thread_time_ns()
    for i in range(count):
        calls(i)
    return (time.thread_time_ns() - started) / count / 1e6


def split(calls: Callable[[int], Any], count: int) -> dict[str, float]:
    with charging():
        per_request(calls, count)
    total = sum(LEDGER.spent.values())
    return {part: LEDGER.spent.get(part, 0) / count / 1e6 for part in [*PARTS, "framework"]} | {
        "total": total / count / 1e6
    }


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--requests", type=int, default=2000, help="requests per endpoint and run")
    parser.add_argument(
        "--profile", choices=["bare", "validate", "redeem", "play"], help="also cProfile this endpoint"
    )
    parser.add_argument("--top", type=int, default=40, help="functions shown by --profile")
    args = parser.parse_args()
    n = args.requests
    wrapped = install_wrappers()

    redis_url, redis_server = resolve_redis(os.environ.get("REDIS_URL"), allow_default=False)
    try:
        with tempfile.TemporaryDirectory(prefix="lixi-split-") as workdir:
            database_url = os.environ.get("DATABASE_URL") or f"sqlite:///{workdir}/split.db"
            env = unlimited_env(database_url, redis_url, SECRET_KEYS="bench-key")
            api_key = migrate_and_create_brand(env, "Split")
            os.environ.update(env)
            results = measure(api_key, n, args.profile, args.top)
    finally:
        if redis_server:
            redis_server.stop()

    database = database_url.split(":", 1)[0]
    print(f"\nIn-process CPU per request (ms), {database}, {n} requests each; {len(wrapped)} entry points")
    columns = [*PARTS, "framework"]
    print(f"{'endpoint':10} {'unwrapped':>9} " + " ".join(f"{c:>9}" for c in columns) + f" {'ratio':>6}")
    bare = results["bare"]["unwrapped"]
    for name, figures in results.items():
        parts = " ".join(f"{figures['split'][c]:9.3f}" for c in columns)
        print(f"{name:10} {figures['unwrapped']:9.3f} {parts} {bare / figures['unwrapped']:6.2f}")
    out = ROOT / "bench" / "results" / f"split-{database}-{time.strftime('%Y%m%d-%H%M%S')}.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps({"database": database, "requests": n, "results": results}, indent=2))
    print(f"written to {out.relative_to(ROOT)}")
    return 0


def measure(api_key: str, n: int, profiled: str | None = None, top: int = 40) -> dict[str, dict]:
    from bench.bare_app import app as bare_app
    from lixi.app import create_app

    app = create_app()
    client = app.test_client()
    headers = {"Authorization": f"Bearer {api_key}"}

    def call(path: str, body: dict, status: int) -> dict:
        response = client.post(f"/api/v1{path}", json=body, headers=headers)
        assert response.status_code == status, (path, response.status_code, response.get_data(as_text=True))
        return response.get_json()

    merchant = call("/merchants", {"name": "Split store"}, 201)["id"]
    offer = call("/offers", {"name": "50k", "kind": "fixed_amount", "value": 50000}, 201)["id"]
    rounds = 4  # a warm-up, the unwrapped run, the wrapped run, the profiled one
    codes = [v["code"] for v in call("/vouchers", {"offer_id": offer, "count": n * rounds}, 201)["vouchers"]]
    campaign = call(
        "/campaigns",
        {
            "name": "Split wheel",
            "game": "spin_wheel",
            "budget": 10**12,
            "prizes": [
                {"label": "50k", "weight": 10, "stock": 1_000_000, "offer_id": offer, "value": 50000},
                {"label": "Nothing", "weight": 90},
            ],
        },
        201,
    )["id"]
    call(f"/campaigns/{campaign}/activate", {}, 200)
    members = [f"split-{i}" for i in range(100)]
    for member in members:
        call("/members", {"external_id": member}, 201)
        call(f"/members/{member}/plays", {"campaign_id": campaign, "plays": -(-n * rounds // 100)}, 200)

    bare_client = bare_app.test_client()

    def bare(i: int) -> None:
        bare_client.post("/api/v1/vouchers/validate", json={"code": f"SAMPLE{i:08d}"})

    def validate(i: int) -> None:
        call("/vouchers/validate", {"code": codes[i % len(codes)], "merchant_id": merchant}, 200)

    redeemed = iter(codes)

    def redeem(_i: int) -> None:
        call("/redemptions", {"code": next(redeemed), "merchant_id": merchant}, 201)

    def play(i: int) -> None:
        call(f"/campaigns/{campaign}/plays", {"member_external_id": members[i % len(members)]}, 201)

    results = {}
    for name, calls in (("bare", bare), ("validate", validate), ("redeem", redeem), ("play", play)):
        per_request(calls, n)  # warm-up
        unwrapped = per_request(calls, n)
        results[name] = {"unwrapped": unwrapped, "split": split(calls, n)}
        if name == profiled:
            profile = cProfile.Profile()
            profile.runcall(per_request, calls, n)
            pstats.Stats(profile).sort_stats(os.environ.get("SPLIT_SORT", "tottime")).print_stats(top)
    return results


if __name__ == "__main__":
    sys.exit(main())
