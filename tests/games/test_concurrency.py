"""Prize stock, budgets and members' plays hold under real concurrency (gunicorn, many workers)."""

from __future__ import annotations

from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from tests.live import LiveLixi, running_lixi

pytestmark = [pytest.mark.live, pytest.mark.slow]


@pytest.fixture(scope="module")
def live(tmp_path_factory, redis_url, migrated):
    with running_lixi(tmp_path_factory.mktemp("games-live"), redis_url, workers=4, threads=8) as lixi:
        yield lixi


def _campaign(live: LiveLixi, prizes: list[dict], **fields) -> dict:
    offer = live.post("/offers", {"name": "Prize", "kind": "fixed_amount", "value": 10000}).json()
    for prize in prizes:
        prize.setdefault("offer_id", offer["id"])  # an explicit None stays: "better luck next time"
    campaign = live.post(
        "/campaigns", {"name": "Race", "game": "spin_wheel", "prizes": prizes, **fields}
    ).json()
    assert live.post(f"/campaigns/{campaign['id']}/activate", {}).status_code == 200
    return campaign


def _members(live: LiveLixi, campaign_id: int, count: int, plays: int, prefix: str) -> list[str]:
    ids = [f"{prefix}-{i}" for i in range(count)]
    with ThreadPoolExecutor(16) as pool:
        list(
            pool.map(
                lambda m: (
                    live.post(f"/members/{m}/plays", {"campaign_id": campaign_id, "plays": plays})
                    if live.post("/members", {"external_id": m}).ok
                    else None
                ),
                ids,
            )
        )
    return ids


def _play_all(live: LiveLixi, campaign_id: int, member_ids: list[str]) -> list[requests.Response]:
    """All the plays from 64 threads at once, each on its own connection: a kept-alive connection
    reused after the server's keep-alive timeout can be reset under load, and a POST is not retried."""

    def one(member: str) -> requests.Response:
        return live.post(f"/campaigns/{campaign_id}/plays", {"member_external_id": member})

    with ThreadPoolExecutor(64) as pool:
        return list(pool.map(one, member_ids))


def test_500_simultaneous_plays_never_exceed_stock(live):
    campaign = _campaign(
        live, [{"label": "Grand", "weight": 1000, "stock": 10}, {"label": "Nothing", "weight": 1}]
    )
    members = _members(live, campaign["id"], 500, 1, "stock")
    responses = _play_all(live, campaign["id"], members)
    assert Counter(r.status_code for r in responses) == {201: 500}
    won = Counter(r.json()["prize"]["label"] for r in responses if r.json()["prize"])
    assert won["Grand"] == 10
    stats = live.get(f"/campaigns/{campaign['id']}/stats").json()
    assert stats["prizes"][0]["stock_left"] == 0 and stats["prizes"][0]["won"] == 10
    assert stats["vouchers_issued"] == 10 + won["Nothing"]


def test_the_budget_is_never_exceeded(live):
    campaign = _campaign(live, [{"label": "50k", "weight": 1, "value": 50000}], budget=1_000_000)
    members = _members(live, campaign["id"], 100, 1, "budget")
    responses = _play_all(live, campaign["id"], members)
    assert all(r.status_code == 201 for r in responses)
    wins = sum(1 for r in responses if r.json()["prize"])
    stats = live.get(f"/campaigns/{campaign['id']}/stats").json()
    assert wins == 20 and stats["budget_spent"] == 1_000_000 <= stats["budget"]


def test_a_member_with_three_plays_firing_twenty_plays_three_times(live):
    campaign = _campaign(live, [{"label": "Nothing", "weight": 1, "offer_id": None}])
    _members(live, campaign["id"], 1, 3, "greedy")
    responses = _play_all(live, campaign["id"], ["greedy-0"] * 20)
    statuses = Counter(r.status_code for r in responses)
    assert statuses == {201: 3, 409: 17}
    assert {r.json()["error"]["code"] for r in responses if r.status_code == 409} == {"no_plays_left"}
