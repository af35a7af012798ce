"""Pacing with a fake clock: a paced prize is never won before its first moment, and all of it by the end."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from games.models import PrizeMoment
from lixi.extensions import db

START = datetime(2030, 2, 1, tzinfo=UTC)
END = START + timedelta(days=10)


@pytest.fixture
def paced(api, make_offer):
    offer = make_offer(name="Grand", value=1_000_000)
    body = {
        "name": "Paced",
        "game": "lucky_draw",
        "pacing": True,
        "starts_at": START.isoformat(),
        "ends_at": END.isoformat(),
        "prizes": [
            {"label": "Grand", "weight": 1000, "stock": 5, "offer_id": offer["id"]},
            {"label": "Nothing", "weight": 1},
        ],
    }
    campaign = api.post("/campaigns", body).get_json()
    assert api.post(f"/campaigns/{campaign['id']}/activate", {}).status_code == 200
    api.post("/members", {"external_id": "p-1"})
    api.post("/members/p-1/plays", {"campaign_id": campaign["id"], "plays": 100})
    return campaign


def _play(api, campaign) -> str | None:
    response = api.post(f"/campaigns/{campaign['id']}/plays", {"member_external_id": "p-1"})
    assert response.status_code == 201, response.get_json()
    prize = response.get_json()["prize"]
    return prize["label"] if prize else None


def test_pacing_needs_a_schedule(api):
    body = {
        "name": "x",
        "game": "spin_wheel",
        "pacing": True,
        "prizes": [{"label": "a", "weight": 1, "stock": 1}],
    }
    assert api.post("/campaigns", body).status_code == 422


def test_paced_prize_waits_for_its_moments_and_is_all_won_by_the_end(app, api, paced, clock):
    moments = sorted(m.at for m in db.session.execute(select(PrizeMoment)).scalars())
    assert len(moments) == 5 and all(START <= at < END for at in moments)

    clock.now = START
    if moments[0] > START:
        assert [_play(api, paced) for _ in range(10)] == ["Nothing"] * 10

    clock.now = moments[0] - timedelta(seconds=1)
    assert "Grand" not in [_play(api, paced) for _ in range(5)]
    clock.now = moments[0]
    # Weight 1000:1 and one moment has passed: Grand, unless the fair draw lands on the 1-in-1001.
    assert any(_play(api, paced) == "Grand" for _ in range(3))  # stops at the first Grand
    assert moments[1] <= clock.now or _play(api, paced) == "Nothing"

    clock.now = END - timedelta(seconds=1)
    results = [_play(api, paced) for _ in range(10)]
    last_grand = max(i for i, label in enumerate(results) if label == "Grand")
    assert results.count("Grand") == 4 and set(results[last_grand + 1 :]) <= {"Nothing"}
    stats = api.get(f"/campaigns/{paced['id']}/stats").get_json()
    assert stats["prizes"][0]["won"] == 5 and stats["prizes"][0]["stock_left"] == 0
