"""How money, dates and offers read on pages, in the visitor's language."""

from __future__ import annotations

from datetime import datetime, time, timedelta
from decimal import Decimal
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from babel.dates import format_date, format_datetime, format_time
from babel.numbers import format_currency, format_decimal, format_percent
from flask import Flask, Response, request, url_for
from flask_babel import get_locale
from werkzeug.routing import BuildError

from lixi.plugins import VoucherAction, plugged

LANGUAGES = ("vi", "en")


def current_locale() -> str:
    """The visitor's language code (Vietnamese when none was chosen or negotiated)."""
    return str(get_locale() or "vi")


def money(amount: int | None, currency: str = "VND") -> str:
    """Minor units to display: VND has no minor unit, so 50000 reads '50.000 ₫' in Vietnamese."""
    if amount is None:
        return ""
    locale = current_locale()
    digits = {"VND": 0, "JPY": 0, "KRW": 0}.get(currency, 2)
    major = Decimal(amount).scaleb(-digits)  # exact: money is never a float
    return format_currency(major, currency, locale=locale, currency_digits=True)


def number(value: int | float | None) -> str:
    """A count in the visitor's digits: 1234567 reads '1.234.567' in Vietnamese, '1,234,567' in English."""
    if value is None:
        return "—"
    return format_decimal(value, locale=current_locale())


def percent(share: float | None, digits: int = 1) -> str:
    """A share (0.1) as a percentage in the visitor's locale: '10,0%' in Vietnamese, '10.0%' in English.

    `digits` decimals at least, one more when it is not zero (1/3 reads 33,33%).
    """
    if share is None:
        return "—"
    pattern = "#,##0" + ("." + "0" * digits + "#" if digits else "") + "%"
    return format_percent(share, pattern, locale=current_locale())


def local_datetime(instant: datetime | None, tz_name: str) -> str:
    """An instant in the brand's zone; a local midnight (an expiry 'through that day') shows as the day."""
    if instant is None:
        return ""
    locale = current_locale()
    local = instant.astimezone(ZoneInfo(tz_name))
    if local.time() == time.min:
        return format_date((local - timedelta(days=1)).date(), "long", locale=locale)
    return format_datetime(local, "medium", tzinfo=local.tzinfo, locale=locale)


def local_time(instant: datetime | None, tz_name: str) -> str:
    """The time of day in the brand's zone (lists of today's events)."""
    if instant is None:
        return ""
    locale = current_locale()
    return format_time(instant.astimezone(ZoneInfo(tz_name)), "short", locale=locale)


def url_in_language(code: str) -> str:
    """This page in another language, keeping its other query arguments (a member link's token)."""
    # The same path with its query string: not url_for, whose own parameters ("endpoint",
    # "_external") a query argument could collide with, and which a 404 has no endpoint for.
    args = request.args.to_dict()
    args["lang"] = code
    return f"{request.script_root}{request.path}?{urlencode(args)}"


def remember_language(response: Response) -> Response:
    """?lang= sticks: the next page opens in the language the visitor picked."""
    if request.args.get("lang") in LANGUAGES:
        response.set_cookie("lang", request.args["lang"], max_age=365 * 86400, samesite="Lax")
    return response


def voucher_actions() -> list[VoucherAction]:
    """The links the wallet offers beside each usable voucher (a domain's add_voucher_action)."""
    return plugged().voucher_actions


def url_if_served(endpoint: str, **values: object) -> str | None:
    """url_for, or None when no domain of this app serves `endpoint` (a page links to another
    domain's page without depending on it)."""
    try:
        return url_for(endpoint, **values)
    except BuildError:
        return None


def register_template_helpers(app: Flask) -> None:
    app.after_request(remember_language)
    app.jinja_env.filters["money"] = money
    app.jinja_env.filters["number"] = number
    app.jinja_env.filters["percent"] = percent
    app.jinja_env.filters["local_datetime"] = local_datetime
    app.jinja_env.filters["local_time"] = local_time
    app.jinja_env.globals["current_locale"] = current_locale
    app.jinja_env.globals["url_in_language"] = url_in_language
    app.jinja_env.globals["voucher_actions"] = voucher_actions
    app.jinja_env.globals["url_if_served"] = url_if_served
