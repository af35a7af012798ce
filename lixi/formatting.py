"""How money, dates and offers read on pages, in the visitor's language."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from babel.numbers import format_currency
from flask import Flask
from flask_babel import format_datetime, get_locale


def money(amount: int | None, currency: str = "VND") -> str:
    """Minor units to display: VND has no minor unit, so 50000 reads '50.000 ₫' in Vietnamese."""
    if amount is None:
        return ""
    locale = str(get_locale() or "vi")
    digits = {"VND": 0, "JPY": 0, "KRW": 0}.get(currency, 2)
    major = amount if digits == 0 else amount / 10**digits
    return format_currency(major, currency, locale=locale, currency_digits=True)


def local_datetime(instant: datetime | None, tz_name: str) -> str:
    if instant is None:
        return ""
    return format_datetime(instant.astimezone(ZoneInfo(tz_name)).replace(tzinfo=None), "medium")


def register_template_helpers(app: Flask) -> None:
    app.jinja_env.filters["money"] = money
    app.jinja_env.filters["local_datetime"] = local_datetime
    app.jinja_env.globals["current_locale"] = lambda: str(get_locale() or "vi")
