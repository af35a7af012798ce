"""Instants and local days: the clock (patchable in tests) and the brand-time-zone rules."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo


def utcnow() -> datetime:
    return datetime.now(UTC)


def end_of_local_day(day: date, tz_name: str) -> datetime:
    """The first instant after `day` in the zone (exclusive end), as UTC: a date means 'through that day'."""
    zone = ZoneInfo(tz_name)
    next_midnight = datetime.combine(day + timedelta(days=1), time.min, tzinfo=zone)
    return next_midnight.astimezone(UTC)


def local_date(instant: datetime, tz_name: str) -> date:
    return instant.astimezone(ZoneInfo(tz_name)).date()
