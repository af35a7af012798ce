"""Exactly-once under real concurrency: many gunicorn workers and threads, one database."""

from __future__ import annotations

import os
import signal
import subprocess
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from harness.liveserver import unlimited_env
from tests.live import LiveLixi, live_database_url, running_lixi, start_live_lixi

pytestmark = [pytest.mark.live, pytest.mark.slow]


@pytest.fixture(scope="module")
def live(tmp_path_factory, redis_url, migrated):
    with running_lixi(tmp_path_factory.mktemp("live"), redis_url, workers=4, threads=8) as lixi:
        yield lixi


@pytest.fixture(scope="module")
def store(live: LiveLixi) -> int:
    return live.post("/merchants", {"name": "Counter 1"}).json()["id"]


def _offer(live: LiveLixi, **fields) -> int:
    response = live.post("/offers", {"name": "Race", "kind": "fixed_amount", "value": 50000, **fields})
    assert response.status_code == 201, response.text
    return response.json()["id"]


def _issue(live: LiveLixi, offer_id: int, count: int) -> list[dict]:
    response = live.post("/vouchers", {"offer_id": offer_id, "count": count})
    assert response.status_code == 201, response.text
    return response.json()["vouchers"]


def _all_at_once(n: int, request) -> list[requests.Response]:
    """Run request(i, session) on n threads released together by a barrier."""
    barrier = threading.Barrier(n)
    sessions = [requests.Session() for _ in range(n)]

    def fire(i: int) -> requests.Response:
        barrier.wait()
        return request(i, sessions[i])

    with ThreadPoolExecutor(n) as pool:
        responses = list(pool.map(fire, range(n)))
    for session in sessions:
        session.close()
    return responses


def test_fifty_simultaneous_redeems_of_one_voucher_succeed_once(live, store):
    vouchers = _issue(live, _offer(live), 50)
    for voucher in vouchers:
        body = {"code": voucher["code"], "merchant_id": store}
        responses = _all_at_once(50, lambda i, s, body=body: live.post("/redemptions", body, session=s))
        statuses = Counter(r.status_code for r in responses)
        assert statuses == {201: 1, 409: 49}, statuses
        assert {r.json()["error"]["code"] for r in responses if r.status_code == 409} == {"already_redeemed"}
        assert live.get(f"/vouchers/{voucher['code']}").json()["status"] == "redeemed"


def test_forty_partial_redemptions_drain_a_gift_card_exactly(live, store):
    card = _issue(live, _offer(live, kind="gift_card", value=100000), 1)[0]
    body = {"code": card["code"], "merchant_id": store, "amount": 5000}
    responses = _all_at_once(40, lambda i, s: live.post("/redemptions", body, session=s))
    statuses = Counter(r.status_code for r in responses)
    assert statuses == {201: 20, 409: 20}, statuses
    codes = {r.json()["error"]["code"] for r in responses if r.status_code == 409}
    assert codes <= {"insufficient_balance", "already_redeemed"}
    after = live.get(f"/vouchers/{card['code']}").json()
    assert after["balance"] == 0 and after["status"] == "redeemed"


def test_one_idempotency_key_fired_twenty_times_changes_once(live, store):
    card = _issue(live, _offer(live, kind="gift_card", value=100000), 1)[0]
    body = {"code": card["code"], "merchant_id": store, "amount": 7000}
    responses = _all_at_once(
        20, lambda i, s: live.post("/redemptions", body, session=s, **{"Idempotency-Key": "till-1-tx-42"})
    )
    assert all(r.status_code == 201 for r in responses), [r.text for r in responses]
    assert len({r.json()["id"] for r in responses}) == 1
    assert sum(r.headers.get("Idempotent-Replayed") == "true" for r in responses) == 19
    assert live.get(f"/vouchers/{card['code']}").json()["balance"] == 93000


def _worker_pids(master_pid: int) -> list[int]:
    out = subprocess.run(["pgrep", "-P", str(master_pid)], capture_output=True, text=True).stdout
    return [int(pid) for pid in out.split()]


def test_a_worker_killed_mid_request_leaves_no_half_redemption(tmp_path, redis_url, migrated):
    lixi = start_live_lixi(unlimited_env(live_database_url(tmp_path), redis_url), workers=3, threads=4)
    try:
        store = lixi.post("/merchants", {"name": "Kill"}).json()["id"]
        cards = _issue(lixi, _offer(lixi, kind="gift_card", value=100000), 120)
        answered = threading.Semaphore(0)
        killed = threading.Event()

        def killer() -> None:
            # Kill only once the load is under way: 24 clients keep all 12 worker threads busy.
            for _ in range(12):
                assert answered.acquire(timeout=60)
            assert lixi.server.process is not None
            for pid in _worker_pids(lixi.server.process.pid)[:2]:
                os.kill(pid, signal.SIGKILL)
                time.sleep(0.05)
            killed.set()

        def redeem(i: int) -> tuple[str, int | None]:
            key = f"kill-{i}"
            body = {"code": cards[i]["code"], "merchant_id": store, "amount": 10000}
            try:
                return key, lixi.post("/redemptions", body, **{"Idempotency-Key": key}).status_code
            except requests.RequestException:
                return key, None  # the connection died with the worker
            finally:
                answered.release()

        thread = threading.Thread(target=killer)
        thread.start()
        with ThreadPoolExecutor(24) as pool:
            outcomes = list(pool.map(redeem, range(len(cards))))
        thread.join()
        assert killed.is_set()
        # The kill did cut requests off mid-flight (without this, the test could pass on a
        # server that had finished everything before the kill and would show nothing).
        cut_off = [key for key, status in outcomes if status is None]
        assert cut_off, Counter(status for _, status in outcomes)

        time.sleep(1.0)  # gunicorn replaces the killed workers
        for i, (key, status) in enumerate(outcomes):
            body = {"code": cards[i]["code"], "merchant_id": store, "amount": 10000}
            retry = lixi.post("/redemptions", body, **{"Idempotency-Key": key})
            # Whatever happened the first time (done, lost with the worker, or never started),
            # the retry answers 201 and the card carries exactly one redemption of 10,000.
            assert retry.status_code == 201, (status, retry.text)
            assert lixi.get(f"/vouchers/{cards[i]['code']}").json()["balance"] == 90000, status
    finally:
        lixi.server.stop()
