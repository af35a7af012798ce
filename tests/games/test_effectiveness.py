"""The dashboard's campaign figures come from real rows: series, funnel and effectiveness."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import update

from games import stats
from games.models import MemberEvent
from lixi.extensions import db
from lixi.timeutil import utcnow


def test_effectiveness_funnel_and_series_follow_the_events(api, brand, make_offer, merchant):
    now = utcnow()
    offer = make_offer(name="10k", value=10000)
    body = {
        "name": "Tết",
        "game": "spin_wheel",
        "starts_at": (now - timedelta(days=10)).isoformat(),
        "ends_at": (now + timedelta(days=10)).isoformat(),
        "prizes": [{"label": "10k", "weight": 1, "offer_id": offer["id"], "value": 10000}],
        "earning_rules": [{"event": "purchase", "plays": 1, "min_amount": 100000}],
    }
    campaign = api.post("/campaigns", body).get_json()
    assert api.post(f"/campaigns/{campaign['id']}/activate").status_code == 200

    # An old customer bought 300k five days before the campaign; a new one first appears during it.
    old = api.post(
        "/events", {"member_external_id": "old", "type": "purchase", "external_id": "e0", "amount": 300000}
    )
    assert old.get_json()["grants"] == [{"campaign_id": campaign["id"], "plays": 1}]
    db.session.execute(
        update(MemberEvent).where(MemberEvent.external_id == "e0").values(created_at=now - timedelta(days=15))
    )
    db.session.commit()
    api.post(
        "/events", {"member_external_id": "old", "type": "purchase", "external_id": "e1", "amount": 500000}
    )
    api.post(
        "/events", {"member_external_id": "new", "type": "purchase", "external_id": "e2", "amount": 200000}
    )
    api.post(
        "/events", {"member_external_id": "new", "type": "survey_completed", "external_id": "e3"}
    )  # no grant
    won = api.post(f"/campaigns/{campaign['id']}/plays", {"member_external_id": "old"}).get_json()
    api.post(f"/campaigns/{campaign['id']}/plays", {"member_external_id": "new"})
    redeemed = api.post("/redemptions", {"code": won["voucher"]["code"], "merchant_id": merchant["id"]})
    assert redeemed.status_code == 201

    effect = stats.campaign_effectiveness(brand.id, campaign["id"])
    assert (effect["participants"], effect["first_time"], effect["repeat"]) == (2, 1, 1)
    assert (effect["vouchers_issued"], effect["vouchers_redeemed"], effect["redemption_rate"]) == (2, 1, 0.5)
    assert effect["value_won"] == 20000 and effect["value_redeemed"] == 10000
    assert effect["revenue_before"] == 300000 and effect["revenue_during"] == 700000
    assert effect["net_uplift"] == 700000 - 300000 - 10000
    assert [m["external_id"] for m in effect["top_members"]] == ["old"]  # the top 20% of 2: one member

    funnel = stats.campaign_funnel(brand.id, campaign["id"])
    assert (funnel["events"], funnel["plays"], funnel["wins"], funnel["redeemed"]) == (3, 2, 2, 1)
    assert funnel["burn_per_day"] == 2000  # 20,000 spent over the 10 days so far

    series = stats.campaign_series(brand.id, campaign["id"])
    assert series["unit"] == "day" and sum(series["plays"]) == 2 and sum(series["redemptions"]) == 1
    assert len(series["labels"]) == 11  # ten days ago through today
