"""Scheduled lucky draws: entries until draw_at, then winners drawn once, verifiable from the seed."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from sqlalchemy import select

from games.draws import entry_rank, winning_entries
from games.models import Campaign, Play
from lixi.extensions import db
from tests.conftest import error_code

DRAW_AT = datetime(2031, 1, 20, 12, 0, tzinfo=UTC)


@pytest.fixture
def draw(api, make_offer, clock):
    offer = make_offer(name="Lì xì 100k", value=100000)
    body = {
        "name": "Bốc thăm Tết",
        "game": "lucky_draw",
        "draw_at": DRAW_AT.isoformat(),
        "prizes": [{"label": "Lì xì 100k", "weight": 1, "stock": 3, "offer_id": offer["id"]}],
    }
    campaign = api.post("/campaigns", body).get_json()
    api.post(f"/campaigns/{campaign['id']}/activate", {})
    for i in range(8):
        api.post("/members", {"external_id": f"d-{i}"})
        api.post(f"/members/d-{i}/plays", {"campaign_id": campaign["id"], "plays": 2})
    return campaign


def test_draw_at_is_for_lucky_draws_only(api):
    body = {
        "name": "x",
        "game": "spin_wheel",
        "draw_at": DRAW_AT.isoformat(),
        "prizes": [{"label": "a", "weight": 1}],
    }
    assert api.post("/campaigns", body).status_code == 422


def test_entries_then_one_draw_with_distinct_winners(app, api, draw, clock):
    path = f"/campaigns/{draw['id']}/plays"
    for i in range(8):
        result = api.post(path, {"member_external_id": f"d-{i}"}).get_json()
        assert result["entered"] is True and result["prize"] is None and result["voucher"] is None
    api.post(path, {"member_external_id": "d-0"})  # a second entry for d-0

    runner = app.test_cli_runner()
    assert json.loads(runner.invoke(args=["run-draws", "--json"]).output) == {"drawn": {}}  # not due yet

    clock.now = DRAW_AT
    closed = api.post(path, {"member_external_id": "d-1"})
    assert closed.status_code == 409 and error_code(closed) == "campaign_not_active"

    first = json.loads(runner.invoke(args=["run-draws", "--json"]).output)
    assert first == {"drawn": {str(draw["id"]): 3}}
    assert json.loads(runner.invoke(args=["run-draws", "--json"]).output) == {"drawn": {}}  # once only

    db.session.expire_all()
    entries = db.session.execute(select(Play).where(Play.campaign_id == draw["id"])).scalars().all()
    winners = [e for e in entries if e.voucher_id is not None]
    assert len(winners) == 3 and len({w.member_id for w in winners}) == 3
    stats = api.get(f"/campaigns/{draw['id']}/stats").get_json()
    assert stats["prizes"][0]["won"] == 3 and stats["vouchers_issued"] == 3

    # After the end, the ranking recomputes from the revealed seed.
    api.post(f"/campaigns/{draw['id']}/end", {})
    campaign = db.session.execute(select(Campaign).where(Campaign.id == draw["id"])).scalar_one()
    recomputed = winning_entries(campaign.seed, campaign, entries)
    assert sorted(e.id for e, _ in recomputed) == sorted(w.id for w in winners)
    assert all(w.proof["rank"] == entry_rank(campaign.seed, campaign.id, w.id) for w in winners)
    page = app.test_client().get(f"/fairness/{draw['id']}", headers={"Accept-Language": "en"})
    assert "9 plays recomputed from the seed and match; 0 do not." in page.get_data(as_text=True)
