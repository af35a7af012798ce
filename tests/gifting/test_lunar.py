"""The Vietnamese lunar calendar (UTC+7) on known Tết days, impossible days refused, and a gift
scheduled on a lunar date through the API."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from gifting.lunar import solar_date
from tests.conftest import error_code

# Mùng 1 Tết in Vietnam. 1985, 2007 and 2030 are where Vietnam (UTC+7) and China (UTC+8) part:
# China's New Year falls on 20 February 1985, 18 February 2007 and 3 February 2030 (that new moon
# is at 16:07 UTC on 2 February: 23:07 in Hà Nội, already the 3rd in Beijing).
TET = {
    1985: date(1985, 1, 21),
    2007: date(2007, 2, 17),
    2024: date(2024, 2, 10),
    2025: date(2025, 1, 29),
    2026: date(2026, 2, 17),
    2027: date(2027, 2, 6),
    2030: date(2030, 2, 2),
}


@pytest.mark.parametrize("year", sorted(TET))
def test_tet_falls_on_the_vietnamese_day(year):
    assert solar_date(year, 1, 1) == TET[year]


def test_ram_thang_gieng_is_the_fifteenth_day_of_the_first_month():
    assert solar_date(2026, 1, 15) == date(2026, 3, 3)
    assert solar_date(2024, 1, 15) == date(2024, 2, 24)


def test_the_leap_month_of_2025_follows_the_sixth():
    # Ất Tỵ has a leap sixth month: 25 July 2025 to 22 August 2025.
    assert solar_date(2025, 6, 1, leap=True) == date(2025, 7, 25)
    assert solar_date(2025, 6, 1) < solar_date(2025, 6, 1, leap=True) < solar_date(2025, 7, 1)
    with pytest.raises(ValueError):
        solar_date(2025, 5, 1, leap=True)  # no leap fifth month that year


def test_a_month_is_29_or_30_days_and_a_30th_that_does_not_exist_is_refused():
    short_months = 0
    for month in range(1, 12):
        first, next_first = solar_date(2026, month, 1), solar_date(2026, month + 1, 1)
        length = (next_first - first).days
        assert length in (29, 30), (month, length)
        assert solar_date(2026, month, 29) == first + timedelta(days=28)
        if length == 30:
            assert solar_date(2026, month, 30) == next_first - timedelta(days=1)
        else:
            short_months += 1
            with pytest.raises(ValueError):
                solar_date(2026, month, 30)
    assert short_months > 0  # a lunar year always has 29-day months: the refusal was exercised


@pytest.mark.parametrize(("month", "day"), [(1, 31), (1, 0), (0, 1), (13, 1)])
def test_days_and_months_out_of_range_are_refused(month, day):
    with pytest.raises(ValueError):
        solar_date(2026, month, day)


def test_a_gift_sent_on_mung_1_tet_is_scheduled_for_8_am_in_vietnam(api, make_offer, clock):
    clock.now = datetime(2026, 11, 1, tzinfo=UTC)
    offer = make_offer()
    body = {
        "offer_id": offer["id"],
        "recipient": {"email": "lan@example.com"},
        "send_on_lunar": {"year": 2027, "month": 1, "day": 1},
    }
    response = api.post("/gifts", body)
    assert response.status_code == 201, response.get_json()
    gift = response.get_json()
    assert gift["status"] == "scheduled"
    # 08:00 in Hồ Chí Minh City (UTC+7) on 6 February 2027.
    assert datetime.fromisoformat(gift["send_at"]) == datetime(2027, 2, 6, 1, 0, tzinfo=UTC)
    assert gift["sent_at"] is None

    later = {**body, "send_on_lunar": {"year": 2027, "month": 1, "day": 15, "time": "19:30"}}
    gift = api.post("/gifts", later).get_json()
    assert datetime.fromisoformat(gift["send_at"]) == datetime(2027, 2, 20, 12, 30, tzinfo=UTC)


def test_a_lunar_day_that_does_not_exist_or_both_send_times_are_refused(api, make_offer, clock):
    clock.now = datetime(2026, 11, 1, tzinfo=UTC)
    offer = make_offer()
    body = {"offer_id": offer["id"], "recipient": {"email": "lan@example.com"}}
    for lunar in ({"year": 2027, "month": 1, "day": 31}, {"year": 2027, "month": 13, "day": 1}):
        response = api.post("/gifts", {**body, "send_on_lunar": lunar})
        assert response.status_code == 422, response.get_json()
        assert error_code(response) == "invalid_request"
    both = {
        **body,
        "send_at": "2027-01-01T08:00:00+07:00",
        "send_on_lunar": {"year": 2027, "month": 1, "day": 1},
    }
    response = api.post("/gifts", both)
    assert response.status_code == 422 and error_code(response) == "invalid_request"
