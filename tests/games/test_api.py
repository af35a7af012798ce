"""Contract tests of the games API: campaigns, activation, grants, events, plays and stats."""

from __future__ import annotations

from collections import Counter

import pytest
from sqlalchemy import func, select

from games.fairness import commitment, verify
from games.models import Campaign, Play
from lixi.extensions import db
from lixi.models import AuditEvent
from tests.conftest import POSTGRES, error_code, statements_sent


@pytest.fixture
def member(api) -> dict:
    return api.post("/members", {"external_id": "m-1", "name": "An"}).get_json()


@pytest.fixture
def make_campaign(make_campaign, make_offer):
    """The shared factory with a stocked 20k voucher prize and a loss unless `prizes` are given."""

    def make(prizes=None, activate=True, **fields) -> dict:
        offer = make_offer(name="20k", value=20000)
        prizes = prizes or [
            {"label": "20k voucher", "weight": 1, "stock": 10, "offer_id": offer["id"], "value": 20000},
            {"label": "Better luck next time", "weight": 3},
        ]
        return make_campaign(prizes=prizes, activate=activate, **{"name": "Tết wheel", **fields})

    return make


def test_create_campaign_shows_odds_as_percentages(api, make_campaign):
    campaign = make_campaign(activate=False)
    assert campaign["status"] == "draft" and campaign["seed_hash"] is None
    assert [p["odds_percent"] for p in campaign["prizes"]] == [25.0, 75.0]
    assert campaign["prizes"][0]["stock_left"] == 10


@pytest.mark.parametrize(
    "body",
    [
        {"name": "x", "game": "spin_wheel", "prizes": []},
        {"name": "x", "game": "spin_wheel", "prizes": [{"label": "a", "weight": 0}]},
        {"name": "x", "game": "poker", "prizes": [{"label": "a", "weight": 1}]},
        {"name": "x", "game": "spin_wheel", "prizes": [{"label": "a", "weight": 1, "offer_id": 99999}]},
        {"name": "x", "game": "spin_wheel", "prizes": [{"label": "a", "weight": 1, "stock": -1}]},
        {
            "name": "x",
            "game": "spin_wheel",
            "prizes": [{"label": "a", "weight": 1}],
            "earning_rules": [{"event": "purchase", "plays": 1, "min_amount": 500, "max_amount": 100}],
        },
    ],
)
def test_invalid_campaigns_are_422(api, body):
    response = api.post("/campaigns", body)
    assert response.status_code == 422 and error_code(response) == "invalid_request"


def test_activation_commits_to_a_seed_and_statuses_move_in_order(app, api, make_campaign):
    campaign = make_campaign(activate=False)
    path = f"/campaigns/{campaign['id']}"
    assert error_code(api.post(f"{path}/pause", {})) == "invalid_transition"
    activated = api.post(f"{path}/activate", {}).get_json()
    assert activated["status"] == "active" and len(activated["seed_hash"]) == 64
    stored = db.session.execute(select(Campaign).where(Campaign.id == campaign["id"])).scalar_one()
    assert commitment(stored.seed) == activated["seed_hash"]
    assert api.post(f"{path}/pause", {}).get_json()["status"] == "paused"
    again = api.post(f"{path}/activate", {}).get_json()
    assert again["seed_hash"] == activated["seed_hash"]  # one seed for the campaign's life
    assert api.post(f"{path}/end", {}).get_json()["status"] == "ended"
    assert api.post(f"{path}/activate", {}).status_code == 409


def test_each_status_change_is_audited_by_its_name_and_a_refused_one_is_not(api, make_campaign):
    from lixi.models import AuditEvent

    campaign = make_campaign(activate=False)
    path = f"/campaigns/{campaign['id']}"
    for action in ("activate", "pause", "activate", "end", "pause"):
        api.post(f"{path}/{action}", {})
    actions = db.session.execute(
        select(AuditEvent.action)
        .where(AuditEvent.subject_type == "campaign", AuditEvent.subject_id == str(campaign["id"]))
        .order_by(AuditEvent.id)
    ).scalars()
    assert list(actions) == [
        "campaign.created",
        "campaign.activated",
        "campaign.paused",
        "campaign.activated",
        "campaign.ended",
    ]


def test_play_needs_plays_and_a_running_campaign(api, member, make_campaign):
    draft = make_campaign(activate=False)
    response = api.post(f"/campaigns/{draft['id']}/plays", {"member_external_id": "m-1"})
    assert response.status_code == 409 and error_code(response) == "campaign_not_active"
    campaign = make_campaign()
    response = api.post(f"/campaigns/{campaign['id']}/plays", {"member_external_id": "m-1"})
    assert response.status_code == 409 and error_code(response) == "no_plays_left"
    granted = api.post("/members/m-1/plays", {"campaign_id": campaign["id"], "plays": 2})
    assert granted.status_code == 200 and granted.get_json() == {"plays_left": 2}
    lefts = [
        api.post(f"/campaigns/{campaign['id']}/plays", {"member_external_id": "m-1"}).get_json()["plays_left"]
        for _ in range(2)
    ]
    assert lefts == [1, 0]
    assert (
        error_code(api.post(f"/campaigns/{campaign['id']}/plays", {"member_external_id": "m-1"}))
        == "no_plays_left"
    )


def test_a_lost_play_writes_the_play_its_proof_and_its_audit_row(api, member, make_campaign):
    """On PostgreSQL the play's writes are two statements inside its transaction (use the play,
    insert it and read the prizes' room; then its outcome with its audit row); on SQLite, five."""
    campaign = make_campaign(prizes=[{"label": "Nothing", "weight": 1}])
    api.post("/members/m-1/plays", {"campaign_id": campaign["id"], "plays": 2})
    with statements_sent() as seen:
        response = api.post(f"/campaigns/{campaign['id']}/plays", {"member_external_id": "m-1"})
    assert response.status_code == 201, response.get_json()
    result = response.get_json()
    assert result["plays_left"] == 1 and result["prize"]["label"] == "Nothing" and result["voucher"] is None
    play = db.session.execute(select(Play).where(Play.id == result["id"])).scalar_one()
    assert play.proof == result["proof"] and play.prize_id == campaign["prizes"][0]["id"]
    assert play.voucher_id is None and play.proof["candidates"] == [[play.prize_id, 1]]
    (audit,) = db.session.execute(select(AuditEvent).where(AuditEvent.action == "play.made")).scalars()
    assert audit.subject_id == str(play.id) and audit.actor.startswith("api_key:")
    assert audit.data == {"campaign_id": campaign["id"], "member": "m-1", "prize_id": play.prize_id}
    writes = [s.split()[:2] for s in seen if s.split()[0] in ("WITH", "UPDATE", "INSERT", "DELETE")]
    if POSTGRES:
        assert writes == [["WITH", "used"], ["WITH", "finished"]], seen
    else:  # use the play, insert it, its outcome, its audit row (the room's read is a SELECT)
        assert writes == [
            ["UPDATE", "member_plays"],
            ["INSERT", "INTO"],
            ["UPDATE", "plays"],
            ["INSERT", "INTO"],
        ]
    played_out = api.post(f"/campaigns/{campaign['id']}/plays", {"member_external_id": "m-1"})
    assert played_out.get_json()["plays_left"] == 0
    refused = api.post(f"/campaigns/{campaign['id']}/plays", {"member_external_id": "m-1"})
    assert refused.status_code == 409 and error_code(refused) == "no_plays_left"
    assert db.session.scalar(select(func.count()).select_from(Play)) == 2  # the refusal inserted nothing


def test_a_win_issues_a_voucher_and_the_proof_verifies(app, api, member, make_offer, make_campaign):
    campaign = make_campaign(prizes=[{"label": "Sure win", "weight": 1, "offer_id": make_offer()["id"]}])
    api.post("/members/m-1/plays", {"campaign_id": campaign["id"], "plays": 1})
    result = api.post(f"/campaigns/{campaign['id']}/plays", {"member_external_id": "m-1"}).get_json()
    assert result["prize"]["label"] == "Sure win"
    voucher = result["voucher"]
    assert voucher["member_external_id"] == "m-1" and voucher["status"] == "issued"
    assert api.post("/vouchers/validate", {"code": voucher["code"]}).status_code == 200
    stored = db.session.execute(select(Campaign).where(Campaign.id == campaign["id"])).scalar_one()
    assert verify(
        stored.seed,
        result["proof"]["seed_hash"],
        campaign["id"],
        result["id"],
        result["proof"],
        result["proof"]["prize_id"],
    )


def test_daily_limit(api, member, make_campaign):
    campaign = make_campaign(plays_per_member_per_day=1)
    api.post("/members/m-1/plays", {"campaign_id": campaign["id"], "plays": 5})
    assert api.post(f"/campaigns/{campaign['id']}/plays", {"member_external_id": "m-1"}).status_code == 201
    second = api.post(f"/campaigns/{campaign['id']}/plays", {"member_external_id": "m-1"})
    assert second.status_code == 409 and error_code(second) == "daily_limit_reached"
    # The refused play was not spent.
    assert api.post("/members/m-1/plays", {"campaign_id": campaign["id"], "plays": 1}).get_json() == {
        "plays_left": 5
    }


def test_purchase_bands_grant_plays_once_per_event(api, member, make_campaign):
    rules = [
        {"event": "purchase", "plays": 1, "min_amount": 200000, "max_amount": 499999},
        {"event": "purchase", "plays": 2, "min_amount": 500000, "max_amount": 999999},
        {"event": "purchase", "plays": 3, "min_amount": 1000000},
        {"event": "survey_completed", "plays": 1},
    ]
    campaign = make_campaign(earning_rules=rules)

    def event(external_id, type_, amount=None):
        body = {"member_external_id": "m-1", "type": type_, "external_id": external_id}
        if amount is not None:
            body["amount"] = amount
        return api.post("/events", body)

    expected = {"b1": (199999, 0), "b2": (200000, 1), "b3": (750000, 2), "b4": (1000000, 3)}
    for external_id, (amount, plays) in expected.items():
        response = event(external_id, "purchase", amount)
        assert response.status_code == 201
        grants = response.get_json()["grants"]
        assert sum(g["plays"] for g in grants) == plays, external_id
    repeat = event("b4", "purchase", 1000000)
    assert repeat.status_code == 200 and repeat.get_json()["grants"][0]["plays"] == 3
    assert event("s1", "survey_completed").get_json()["grants"] == [
        {"campaign_id": campaign["id"], "plays": 1}
    ]
    left = api.post("/members/m-1/plays", {"campaign_id": campaign["id"], "plays": 1}).get_json()[
        "plays_left"
    ]
    assert left == 0 + 1 + 2 + 3 + 1 + 1


def test_events_create_unknown_members(api, make_campaign):
    make_campaign(earning_rules=[{"event": "signup", "plays": 2}])
    response = api.post(
        "/events", {"member_external_id": "new-1", "type": "signup", "external_id": "s-new-1"}
    )
    assert response.status_code == 201
    assert api.get("/members/new-1").status_code == 200


def test_mass_assignment_in_a_play_is_refused(api, member, make_campaign):
    campaign = make_campaign()
    api.post("/members/m-1/plays", {"campaign_id": campaign["id"], "plays": 1})
    for extra in (
        {"prize_id": 1},
        {"prize": "20k voucher"},
        {"stock": 99},
        {"status": "won"},
        {"brand_id": 2},
    ):
        response = api.post(f"/campaigns/{campaign['id']}/plays", {"member_external_id": "m-1", **extra})
        assert response.status_code == 422, extra


def test_stats_count_plays_wins_vouchers_and_liability(api, member, merchant, make_offer, make_campaign):
    offer = make_offer(value=30000)
    campaign = make_campaign(
        prizes=[{"label": "30k", "weight": 1, "stock": 3, "offer_id": offer["id"], "value": 30000}],
        budget=1000000,
    )
    api.post("/members/m-1/plays", {"campaign_id": campaign["id"], "plays": 5})
    results = [
        api.post(f"/campaigns/{campaign['id']}/plays", {"member_external_id": "m-1"}).get_json()
        for _ in range(5)
    ]
    assert Counter(r["prize"]["label"] if r["prize"] else None for r in results) == {"30k": 3, None: 2}
    api.post("/redemptions", {"code": results[0]["voucher"]["code"], "merchant_id": merchant["id"]})
    stats = api.get(f"/campaigns/{campaign['id']}/stats").get_json()
    assert (stats["plays"], stats["wins"]) == (5, 3)
    assert stats["prizes"] == [
        {"id": campaign["prizes"][0]["id"], "label": "30k", "won": 3, "stock": 3, "stock_left": 0}
    ]
    assert (stats["vouchers_issued"], stats["vouchers_redeemed"]) == (3, 1)
    assert stats["budget_spent"] == 90000 and stats["liability"] == 60000


def test_other_brands_campaigns_are_404(api, make_brand, make_campaign):
    campaign = make_campaign()
    other = make_brand("Other")
    for response in (
        api.get(f"/campaigns/{campaign['id']}", who=other),
        api.get(f"/campaigns/{campaign['id']}/stats", who=other),
        api.post(f"/campaigns/{campaign['id']}/activate", {}, who=other),
        api.post(f"/campaigns/{campaign['id']}/plays", {"member_external_id": "m-1"}, who=other),
    ):
        assert response.status_code == 404


def test_every_play_recomputes_from_the_seed_and_a_changed_outcome_is_caught(app, api, member, make_campaign):
    campaign = make_campaign()
    api.post("/members/m-1/plays", {"campaign_id": campaign["id"], "plays": 30})
    for _ in range(30):
        api.post(f"/campaigns/{campaign['id']}/plays", {"member_external_id": "m-1"})
    stored = db.session.execute(select(Campaign).where(Campaign.id == campaign["id"])).scalar_one()
    plays = db.session.execute(select(Play).where(Play.campaign_id == campaign["id"])).scalars().all()
    assert len(plays) == 30
    for p in plays:
        assert verify(stored.seed, stored.seed_hash, stored.id, p.id, p.proof, p.prize_id)
    tampered = plays[0]
    other_prize = next(pr["id"] for pr in campaign["prizes"] if pr["id"] != tampered.prize_id)
    assert not verify(stored.seed, stored.seed_hash, stored.id, tampered.id, tampered.proof, other_prize)
    assert not verify("0" * 64, stored.seed_hash, stored.id, tampered.id, tampered.proof, tampered.prize_id)


@pytest.mark.parametrize("app", [{"RATE_LIMIT_PLAYS_PER_MEMBER": "3 per minute"}], indirect=True)
def test_plays_are_rate_limited_per_member_and_refusals_are_counted(api, member, make_campaign):
    campaign = make_campaign()
    api.post("/members/m-1/plays", {"campaign_id": campaign["id"], "plays": 10})
    api.post("/members", {"external_id": "m-2"})
    api.post("/members/m-2/plays", {"campaign_id": campaign["id"], "plays": 10})
    path = f"/campaigns/{campaign['id']}/plays"
    statuses = [api.post(path, {"member_external_id": "m-1"}).status_code for _ in range(5)]
    assert statuses == [201, 201, 201, 429, 429]
    assert api.post(path, {"member_external_id": "m-2"}).status_code == 201  # another member is not held back
    stats = api.get(f"/campaigns/{campaign['id']}/stats").get_json()
    assert stats["refused_for_abuse"] == 2 and stats["plays"] == 4
