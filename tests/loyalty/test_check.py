"""`flask loyalty-check`: exit 0 while every balance equals its ledger, non-zero once one is tampered with."""

from __future__ import annotations

from sqlalchemy import func, select, text

from lixi.extensions import db
from lixi.members import get_member
from loyalty.models import LoyaltyAccount, PointsEntry
from tests.loyalty.conftest import run_cli


def test_check_passes_then_finds_a_tampered_balance(app, programme, member, purchase, give_points, brand):
    purchase("m-1", 500000)
    give_points("m-1", 5)
    assert run_cli(app, "loyalty-check").exit_code == 0
    member_id = get_member(brand.id, "m-1").id
    table = LoyaltyAccount.__tablename__
    db.session.execute(
        text(f"UPDATE {table} SET points = points + 7 WHERE member_id = :id"), {"id": member_id}
    )
    db.session.commit()
    result = run_cli(app, "loyalty-check")
    assert result.exit_code != 0
    assert "m-1" in result.output or str(member_id) in result.output  # it names the member


def test_check_finds_a_tampered_ledger_entry(app, programme, member, purchase, brand):
    purchase("m-1", 500000)
    purchase("m-1", 300000)
    assert run_cli(app, "loyalty-check").exit_code == 0
    newest = db.session.execute(select(func.max(PointsEntry.id))).scalar()
    table = PointsEntry.__tablename__
    db.session.execute(text(f"UPDATE {table} SET points = points + 3 WHERE id = :id"), {"id": newest})
    db.session.commit()
    assert run_cli(app, "loyalty-check").exit_code != 0
