"""Instants and local days: the one clock every module reads, and the brand-time-zone rules."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo


def system_clock() -> datetime:
    return datetime.now(UTC)


# Modules import utcnow by name (column defaults too), so the tests' fake clock replaces this
# callable rather than utcnow itself: every `from lixi.timeutil import utcnow` then follows it.
_clock: Callable[[], datetime] = system_clock


def utcnow() -> datetime:
    """Now, aware and in UTC, from the current clock (the system's, or a test's fake one)."""
    return _clock()


def end_of_local_day(day: date, tz_name: str) -> datetime:
    """The first instant after `day` in the zone (exclusive end), as UTC: a date means 'through that day'."""
    zone = ZoneInfo(tz_name)
    next_midnight = datetime.combine(day + timedelta(days=1), time.min, tzinfo=zone)
    return next_midnight.astimezone(UTC)


def local_date(instant: datetime, tz_name: str) -> date:
    return instant.astimezone(ZoneInfo(tz_name)).date()
