"""One clock: the fake time of the `clock` fixture reaches every module that reads "now"; local days."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from sqlalchemy import select

from lixi.extensions import db
from lixi.models import AuditEvent
from lixi.timeutil import end_of_local_day, local_date, utcnow
from tests.conftest import error_code


def test_without_the_fake_clock_utcnow_is_the_real_time_in_utc():
    before = datetime.now(UTC)
    now = utcnow()
    assert now.tzinfo is not None and now.utcoffset() == timedelta(0)
    assert before <= now <= datetime.now(UTC)


def test_the_fake_clock_moves_utcnow_for_callers_that_imported_it_by_name(clock):
    # `utcnow` was imported by name at the top of this module, before the fixture ran.
    assert utcnow() == datetime(2030, 1, 1, tzinfo=UTC)
    clock.advance(hours=5)
    assert utcnow() == datetime(2030, 1, 1, 5, tzinfo=UTC)


def test_the_fake_clock_reaches_the_services_the_schemas_and_the_column_defaults(
    clock, app, api, merchant, make_offer, issue
):
    """Issue, expire, redeem and void in fake time: each module below imports utcnow by name, so
    monkeypatching lixi.timeutil.utcnow (the old fixture) left all of them on the real clock."""
    issued_at = clock.now  # 2030-01-01 00:00 UTC, 07:00 in Hồ Chí Minh City
    voucher = issue(make_offer(valid_days=1)["id"])[0]
    card = issue(make_offer(kind="gift_card", value=100000)["id"])[0]

    # vouchers/service.py: issued_at, and expires_at from the fake day (end of 2 Jan, local).
    assert datetime.fromisoformat(voucher["issued_at"]) == issued_at
    assert datetime.fromisoformat(voucher["expires_at"]) == datetime(2030, 1, 2, 17, tzinfo=UTC)
    # lixi/audit.py: the audit rows are stamped with the fake time.
    stamps = db.session.execute(select(AuditEvent.created_at)).scalars().all()
    assert stamps and set(stamps) == {issued_at}

    # vouchers/schemas.py and vouchers/rules.py: a voucher's status follows the fake clock.
    clock.now = datetime(2030, 1, 2, 16, 59, tzinfo=UTC)
    assert api.get(f"/vouchers/{voucher['code']}").get_json()["status"] == "issued"
    assert api.post("/vouchers/validate", {"code": voucher["code"]}).status_code == 200
    clock.now = datetime(2030, 1, 2, 17, tzinfo=UTC)
    assert api.get(f"/vouchers/{voucher['code']}").get_json()["status"] == "expired"
    refused = api.post("/vouchers/validate", {"code": voucher["code"]})
    assert refused.status_code == 409 and error_code(refused) == "expired"

    # vouchers/redemptions.py and the Redemption.created_at default: the void window in fake time.
    window = app.config["VOID_WINDOW_SECONDS"]
    body = {"code": card["code"], "merchant_id": merchant["id"], "amount": 1000}
    early, late = (api.post("/redemptions", body).get_json() for _ in range(2))
    assert datetime.fromisoformat(early["created_at"]) == clock.now
    clock.advance(seconds=window)
    assert api.post(f"/redemptions/{early['id']}/void", {}).status_code == 200
    clock.advance(seconds=1)
    closed = api.post(f"/redemptions/{late['id']}/void", {})
    assert closed.status_code == 409 and error_code(closed) == "void_window_closed"


def test_a_date_runs_to_the_end_of_that_day_in_the_zone():
    assert end_of_local_day(date(2030, 1, 31), "Asia/Ho_Chi_Minh") == datetime(2030, 1, 31, 17, tzinfo=UTC)
    assert end_of_local_day(date(2030, 1, 31), "UTC") == datetime(2030, 2, 1, tzinfo=UTC)
    evening_in_utc = datetime(2030, 1, 31, 17, tzinfo=UTC)  # already 1 Feb in Hồ Chí Minh City
    assert local_date(evening_in_utc, "Asia/Ho_Chi_Minh") == date(2030, 2, 1)
    assert local_date(evening_in_utc, "UTC") == date(2030, 1, 31)
