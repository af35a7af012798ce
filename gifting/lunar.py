"""Dates on the Vietnamese lunar calendar (âm lịch): Mùng 1 Tết and the other days people send
lì xì on, turned into the solar date.

lunar-vn implements Hồ Ngọc Đức's algorithm at UTC+7, the Vietnamese calendar's meridian: it
differs from the Chinese calendar (UTC+8) on some dates, e.g. Tết 1985 is 21 January 1985 in
Vietnam and 20 February in China.
"""

from __future__ import annotations

import warnings
from datetime import date

from lunar_vn import convert_lunar_to_solar, convert_solar_to_lunar

VIETNAM_UTC_OFFSET = 7.0
FIRST_YEAR, LAST_YEAR = 1900, 2099  # what the library covers (its solar range ends in 2100)


def solar_date(year: int, month: int, day: int, leap: bool = False) -> date:
    """The solar date of a lunar date; ValueError for a date the lunar calendar does not have (a
    30th of a 29-day month, a leap month that year has not)."""
    if not FIRST_YEAR <= year <= LAST_YEAR or not 1 <= month <= 12 or not 1 <= day <= 30:
        raise ValueError("That is not a date of the lunar calendar.")
    with warnings.catch_warnings():
        # The library warns (instead of raising) on a few edge computations; a date it cannot
        # place is refused below by the round trip.
        warnings.simplefilter("ignore")
        try:
            solar = convert_lunar_to_solar(day, month, year, int(leap), VIETNAM_UTC_OFFSET)
        except ValueError as error:
            raise ValueError("That month is not a leap month that year.") from error
        back = convert_solar_to_lunar(solar.day, solar.month, solar.year, VIETNAM_UTC_OFFSET)
    if (back.year, back.month, back.day, back.leap) != (year, month, day, leap):
        raise ValueError("That lunar month has no such day.")
    return solar
