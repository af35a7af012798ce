"""Who may see the dashboard (logged-in brand admins, each scoped to their own brand), the filters of
its lists and its CSV downloads."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from datetime import date, datetime, time
from typing import Any
from zoneinfo import ZoneInfo

from flask import Blueprint, Response, abort, request, stream_with_context
from flask_babel import refresh
from flask_login import current_user

from lixi.auth import act_for_staff
from lixi.extensions import db, login_manager
from lixi.models import Brand, StaffRole


def admin_blueprint(name: str, import_name: str) -> Blueprint:
    """A blueprint under /dashboard whose every page needs a brand admin's session."""
    bp = Blueprint(name, import_name, url_prefix="/dashboard")
    bp.before_request(refresh)  # the locale is cached on the app context; each page picks its own
    bp.before_request(_require_brand_admin)
    return bp


def _require_brand_admin() -> Any:
    if not current_user.is_authenticated:
        return login_manager.unauthorized()
    if current_user.role != StaffRole.BRAND_ADMIN:
        abort(404)  # a cashier's session does not reveal the dashboard
    act_for_staff(current_user)
    return None


def current_brand() -> Brand:
    """The brand of the admin whose page this is."""
    brand = db.session.get(Brand, current_user.brand_id)
    assert brand is not None
    return brand


def local_day_bounds(
    since: str | None, until: str | None, tz_name: str
) -> tuple[datetime | None, datetime | None]:
    """Filter dates (inclusive, in the brand's zone) as UTC instants [since, until)."""
    zone = ZoneInfo(tz_name)

    def parse(raw: str | None, next_day: bool) -> datetime | None:
        if not raw:
            return None
        try:
            day = date.fromisoformat(raw)
        except ValueError:
            return None
        if next_day:
            day = date.fromordinal(day.toordinal() + 1)
        return datetime.combine(day, time.min, tzinfo=zone)

    return parse(since, False), parse(until, True)


def csv_response(rows: Iterator[str], filename: str) -> Response:
    """A streamed CSV download; `?excel=1` starts it with a BOM, without which Excel reads UTF-8
    (Vietnamese) as mojibake."""
    if request.args.get("excel") == "1":
        rows = itertools.chain(["\ufeff"], rows)
    response = Response(stream_with_context(rows), mimetype="text/csv")
    response.headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    response.headers["Cache-Control"] = "no-store"
    return response
