"""Points, stock and per-member limits hold under real concurrency: a live gunicorn (many workers
and threads) on the run's database, 50 requests released at once against one balance or one stock.

After each race the member's balance must equal their ledger (through the API, and by
`flask loyalty-check` on the live database) and no ledger entry may show a negative balance.
"""

from __future__ import annotations

import json
import os
import subprocess
import threading
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from harness.liveserver import FLASK
from lixi.config import ROOT
from tests.live import LiveLixi, running_lixi

pytestmark = [pytest.mark.live, pytest.mark.slow]

RACERS = 50
COST = 100  # points per reward exchange and per negative adjustment


# Every member the races made (their ids, which loyalty-check names): checked once, at the end.
RACED: set[int] = set()


@pytest.fixture(scope="module")
def live(tmp_path_factory, redis_url, migrated):
    with running_lixi(tmp_path_factory.mktemp("loyalty-live"), redis_url, workers=4, threads=8) as lixi:
        # No earning rules: the members' points come only from the manual credits below.
        response = requests.put(lixi.url("/loyalty"), json={"name": "Race"}, headers=lixi.headers, timeout=60)
        assert response.status_code == 200, response.text
        RACED.clear()
        yield lixi
        _loyalty_check(lixi, RACED)


def _member(live: LiveLixi, external_id: str, points: int) -> None:
    """A member holding `points` (a manual credit)."""
    created = live.post("/members", {"external_id": external_id})
    assert created.status_code == 201, created.text
    credit = live.post(f"/members/{external_id}/points", {"points": points, "reason": "Funding"})
    assert credit.status_code == 201, credit.text
    RACED.add(created.json()["id"])


def _reward(live: LiveLixi, **fields: object) -> dict:
    offer = live.post("/offers", {"name": "Free drink", "kind": "free_item", "value": 0})
    assert offer.status_code == 201, offer.text
    body = {"name": "Trà sữa", "offer_id": offer.json()["id"], "cost_points": COST, **fields}
    reward = live.post("/rewards", body)
    assert reward.status_code == 201, reward.text
    return reward.json()


def _all_at_once(request: Callable[[int, requests.Session], requests.Response]) -> list[requests.Response]:
    """request(i, session) on RACERS threads released together by a barrier, each on its own
    connection (a kept-alive one can be reset under load, and a POST is not retried)."""
    barrier = threading.Barrier(RACERS)
    sessions = [requests.Session() for _ in range(RACERS)]

    def fire(i: int) -> requests.Response:
        barrier.wait()
        return request(i, sessions[i])

    try:
        with ThreadPoolExecutor(RACERS) as pool:
            return list(pool.map(fire, range(RACERS)))
    finally:
        for session in sessions:
            session.close()


def _outcomes(responses: list[requests.Response]) -> Counter:
    """(status, error code or None) per response: the 409s must say why."""
    return Counter(
        (r.status_code, r.json()["error"]["code"] if r.status_code >= 400 else None) for r in responses
    )


def _exchange(live: LiveLixi, reward_id: int, external_id: str, session: requests.Session):
    return live.post(f"/rewards/{reward_id}/exchanges", {"member_external_id": external_id}, session=session)


def _assert_ledger_agrees(live: LiveLixi, external_id: str, expected_points: int) -> None:
    """The balance is what the race should leave, equals the sum of the ledger, and no entry on the
    way went below zero (each balance_after follows from the one before)."""
    points = live.get(f"/members/{external_id}/loyalty").json()["points"]
    entries = live.get(f"/members/{external_id}/ledger?limit=200").json()["entries"][::-1]  # oldest first
    assert points == expected_points
    assert sum(entry["points"] for entry in entries) == points
    running = 0
    for entry in entries:
        running += entry["points"]
        assert entry["balance_after"] == running >= 0, entries


def _loyalty_check(live: LiveLixi, member_ids: set[int]) -> None:
    """`flask loyalty-check --json` on the live database finds nothing wrong with these members
    (their balances, ledgers and buckets). On PostgreSQL the database is the suite's, shared with
    other tests' brands (a check test may have left a broken ledger there): only ours count."""
    result = subprocess.run(  # noqa: S603 - our own argv
        [FLASK, "--app", "wsgi", "loyalty-check", "--json"],
        env={**os.environ, "PYTHONPATH": str(ROOT), **live.server.env},
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode in (0, 1), result.stderr
    problems = [p for p in json.loads(result.stdout)["problems"] if p["member_id"] in member_ids]
    assert problems == []


def test_fifty_exchanges_against_a_balance_that_pays_for_seven(live):
    _member(live, "race-exchange", 7 * COST + COST - 1)
    reward = _reward(live)
    responses = _all_at_once(lambda i, s: _exchange(live, reward["id"], "race-exchange", s))
    assert _outcomes(responses) == {(201, None): 7, (409, "insufficient_points"): RACERS - 7}
    won = [r.json() for r in responses if r.status_code == 201]
    assert len({exchange["voucher"]["code"] for exchange in won}) == 7
    assert sorted(exchange["points"] for exchange in won) == [COST * k + COST - 1 for k in range(7)]
    _assert_ledger_agrees(live, "race-exchange", COST - 1)


def test_fifty_negative_adjustments_against_a_balance_that_pays_for_twelve(live):
    _member(live, "race-adjust", 12 * COST + 34)
    body = {"points": -COST, "reason": "Correction"}
    responses = _all_at_once(lambda i, s: live.post("/members/race-adjust/points", body, session=s))
    assert _outcomes(responses) == {(201, None): 12, (409, "insufficient_points"): RACERS - 12}
    _assert_ledger_agrees(live, "race-adjust", 34)


def test_fifty_members_race_for_a_stock_of_five(live):
    names = [f"race-stock-{i}" for i in range(RACERS)]
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(lambda name: _member(live, name, 3 * COST), names))
    reward = _reward(live, stock=5)
    responses = _all_at_once(lambda i, s: _exchange(live, reward["id"], names[i], s))
    assert _outcomes(responses) == {(201, None): 5, (409, "out_of_stock"): RACERS - 5}
    with ThreadPoolExecutor(8) as pool:
        expected = [2 * COST if r.status_code == 201 else 3 * COST for r in responses]
        list(pool.map(lambda name, points: _assert_ledger_agrees(live, name, points), names, expected))
    listed = {r["id"]: r for r in live.get("/rewards").json()["rewards"]}
    assert listed[reward["id"]]["stock_left"] == 0


def test_one_member_fifty_times_against_a_limit_of_two(live):
    _member(live, "race-limit", 100 * COST)
    reward = _reward(live, per_member_limit=2)
    responses = _all_at_once(lambda i, s: _exchange(live, reward["id"], "race-limit", s))
    assert _outcomes(responses) == {(201, None): 2, (409, "limit_reached"): RACERS - 2}
    _assert_ledger_agrees(live, "race-limit", 98 * COST)
