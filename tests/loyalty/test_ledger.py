"""The member's points and ledger through the API, and manual adjustments (± with a reason, audited)."""

from __future__ import annotations

import json

from sqlalchemy import select

from lixi.extensions import db
from lixi.models import AuditEvent
from tests.conftest import error_code

LOYALTY_FIELDS = {
    "points",
    "pending_points",
    "tier",
    "next_tier",
    "points_to_next_tier",
    "expiring",
    "referral_code",
}
ENTRY_FIELDS = {
    "id",
    "kind",
    "points",
    "balance_after",
    "event_external_id",
    "reason",
    "created_at",
    "available_at",
    "expires_at",
}


def test_member_loyalty_answers_the_contract(programme, member, loyalty_of, api):
    answer = loyalty_of("m-1")
    assert set(answer) >= LOYALTY_FIELDS
    assert (answer["points"], answer["pending_points"], answer["expiring"]) == (0, 0, [])
    assert answer["referral_code"]
    assert api.get("/members/nobody/loyalty").status_code == 404
    assert api.get("/members/nobody/ledger").status_code == 404


def test_every_entry_carries_its_balance_after(programme, member, purchase, give_points, adjust, ledger_of):
    purchase("m-1", 250000, "bill-1")
    give_points("m-1", 10, reason="Xin lỗi vì chờ lâu")
    assert adjust("m-1", -5, reason="Sửa nhầm").status_code == 201
    entries = ledger_of("m-1")
    assert all(set(e) >= ENTRY_FIELDS for e in entries)
    oldest_first = list(reversed(entries))
    assert [(e["kind"], e["points"], e["balance_after"]) for e in oldest_first] == [
        ("earn", 25, 25),
        ("adjust", 10, 35),
        ("adjust", -5, 30),
    ]
    assert oldest_first[0]["event_external_id"] == "bill-1"
    assert oldest_first[1]["reason"] == "Xin lỗi vì chờ lâu"


def test_the_ledger_pages_newest_first(programme, member, give_points, api):
    for points in range(1, 6):
        give_points("m-1", points)
    first = api.get("/members/m-1/ledger?limit=2").get_json()
    assert [e["points"] for e in first["entries"]] == [5, 4] and first["next"]
    second = api.get(f"/members/m-1/ledger?limit=2&after={first['next']}").get_json()
    assert [e["points"] for e in second["entries"]] == [3, 2] and second["next"]
    last = api.get(f"/members/m-1/ledger?limit=2&after={second['next']}").get_json()
    assert [e["points"] for e in last["entries"]] == [1] and not last["next"]


def test_manual_points_need_a_reason_and_a_non_zero_amount(programme, member, api, balance):
    for body in ({"points": 10}, {"points": 0, "reason": "x"}, {"points": 10, "reason": ""}, {"reason": "x"}):
        response = api.post("/members/m-1/points", body)
        assert response.status_code == 422 and error_code(response) == "invalid_request", body
    assert balance("m-1") == 0
    assert api.post("/members/nobody/points", {"points": 5, "reason": "x"}).status_code == 404


def test_a_deduction_below_zero_is_refused_and_changes_nothing(
    programme, member, give_points, adjust, ledger_of
):
    give_points("m-1", 30)
    refused = adjust("m-1", -31)
    assert refused.status_code == 409 and error_code(refused) == "insufficient_points"
    assert [e["balance_after"] for e in ledger_of("m-1")] == [30]
    taken = adjust("m-1", -30)
    assert taken.status_code == 201 and taken.get_json()["balance_after"] == 0


def test_manual_points_are_audited_with_the_reason_and_the_key(programme, member, adjust):
    before = db.session.execute(select(AuditEvent.id)).scalars().all()
    assert adjust("m-1", 42, reason="Khách VIP sinh nhật").status_code == 201
    new = db.session.execute(select(AuditEvent).where(AuditEvent.id.not_in(before))).scalars().all()
    audited = [a for a in new if "Khách VIP sinh nhật" in json.dumps(a.data, ensure_ascii=False)]
    assert audited, [(a.action, a.data) for a in new]
    assert audited[0].actor.startswith("api_key:")
    # a refused deduction leaves no audit of a change
    before = db.session.execute(select(AuditEvent.id)).scalars().all()
    assert adjust("m-1", -1000, reason="Không đủ").status_code == 409
    new = db.session.execute(select(AuditEvent).where(AuditEvent.id.not_in(before))).scalars().all()
    assert not [a for a in new if "Không đủ" in json.dumps(a.data, ensure_ascii=False)]


def test_manual_points_take_an_idempotency_key(programme, member, api, balance):
    headers = {"Idempotency-Key": "adj-1"}
    body = {"points": 7, "reason": "Quà"}
    first = api.post("/members/m-1/points", body, headers=headers)
    again = api.post("/members/m-1/points", body, headers=headers)
    assert first.status_code == again.status_code == 201
    assert first.get_json() == again.get_json()
    assert balance("m-1") == 7
