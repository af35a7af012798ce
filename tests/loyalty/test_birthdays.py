"""Birthdays: the daily job grants once per member per year on the local birthday (29 February
→ 28 February in other years) and publishes member.birthday with the name and the reward."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from sqlalchemy import select

from lixi.extensions import db
from lixi.members import get_member
from tests.loyalty.conftest import outbox
from vouchers.models import Voucher


def _birthday_points(ledger_of, external_id: str) -> list[int]:
    return [e["points"] for e in ledger_of(external_id) if e["kind"] == "birthday"]


def test_birthday_granted_once_on_the_local_day(
    make_programme, make_member, clock, daily, ledger_of, balance, brand
):
    make_programme(birthday={"points": 100})
    make_member("b-1", name="Trần Thị Bích", birthday="1990-03-15")
    make_member("other", name="Lê Văn Cường", birthday="1990-03-16")
    clock.now = datetime(2030, 3, 14, 16, 58, tzinfo=UTC)  # 23:58 on 14 March, local
    daily()
    assert _birthday_points(ledger_of, "b-1") == []
    clock.now = datetime(2030, 3, 14, 17, 1, tzinfo=UTC)  # 00:01 on 15 March, local (still the 14th in UTC)
    daily()
    assert _birthday_points(ledger_of, "b-1") == [100] and balance("b-1") == 100
    assert _birthday_points(ledger_of, "other") == []
    clock.advance(hours=12)
    daily()  # twice the same day: once
    assert _birthday_points(ledger_of, "b-1") == [100]
    [message] = outbox("member.birthday", brand.id)
    text = json.dumps(message, ensure_ascii=False)
    assert "Trần Thị Bích" in text and "100" in text

    clock.now = datetime(2031, 3, 15, 2, 0, tzinfo=UTC)  # the next year: once more
    daily()
    daily()
    assert _birthday_points(ledger_of, "b-1") == [100, 100]
    assert len(outbox("member.birthday", brand.id)) == 2  # b-1 twice; no run fell on "other"'s day
    assert _birthday_points(ledger_of, "other") == []


def test_29_february_is_28_february_in_other_years(make_programme, make_member, clock, daily, ledger_of):
    make_programme(birthday={"points": 29})
    make_member("leap", name="Phạm Nhuận", birthday="2000-02-29")
    clock.now = datetime(2030, 2, 27, 12, 0, tzinfo=UTC)
    daily()
    assert _birthday_points(ledger_of, "leap") == []
    clock.now = datetime(2030, 2, 28, 3, 0, tzinfo=UTC)  # 2030 has no 29 February
    daily()
    assert _birthday_points(ledger_of, "leap") == [29]
    clock.now = datetime(2030, 3, 1, 3, 0, tzinfo=UTC)
    daily()
    assert _birthday_points(ledger_of, "leap") == [29]
    clock.now = datetime(2032, 2, 28, 3, 0, tzinfo=UTC)  # 2032 is a leap year: the 29th, not the 28th
    daily()
    assert _birthday_points(ledger_of, "leap") == [29]
    clock.now = datetime(2032, 2, 29, 3, 0, tzinfo=UTC)
    daily()
    assert _birthday_points(ledger_of, "leap") == [29, 29]


def test_birthday_voucher_reward(make_programme, make_offer, make_member, clock, daily, api, brand):
    offer = make_offer(name="Bánh sinh nhật")
    make_programme(birthday={"offer_id": offer["id"]})
    make_member("cake", name="Đỗ Minh", birthday="1985-06-01")
    clock.now = datetime(2030, 6, 1, 1, 0, tzinfo=UTC)
    daily()
    daily()
    [message] = outbox("member.birthday", brand.id)
    assert "Đỗ Minh" in json.dumps(message, ensure_ascii=False)
    codes = [v for v in _member_vouchers(brand.id, "cake") if v.offer_id == offer["id"]]
    assert len(codes) == 1  # one voucher, however many runs


def test_no_birthday_reward_without_a_birthday_setting(
    make_programme, make_member, clock, daily, ledger_of, brand
):
    make_programme()
    make_member("b-2", name="Vũ Lan", birthday="1990-05-05")
    clock.now = datetime(2030, 5, 5, 3, 0, tzinfo=UTC)
    daily()
    assert _birthday_points(ledger_of, "b-2") == []
    assert outbox("member.birthday", brand.id) == []


def _member_vouchers(brand_id: int, external_id: str) -> list[Voucher]:
    member = get_member(brand_id, external_id)
    return db.session.execute(select(Voucher).where(Voucher.member_id == member.id)).scalars().all()
