"""Who may see the dashboard: logged-in brand admins, each scoped to their own brand."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from datetime import date, datetime, time
from typing import Any
from zoneinfo import ZoneInfo

from flask import Blueprint, Response, abort, render_template, request, stream_with_context
from flask_babel import gettext as _
from flask_babel import refresh
from flask_login import current_user
from marshmallow import Schema, ValidationError

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


def form_page(template: str, errors: dict[str, list[str]], **context: Any) -> tuple[str, int]:
    """A page with a form: the submitted values come back with the errors, and a 422 if any."""
    return render_template(template, errors=errors, form=request.form, **context), (422 if errors else 200)


def current_brand() -> Brand:
    brand = db.session.get(Brand, current_user.brand_id)
    assert brand is not None
    return brand


class FormErrors(Exception):
    """A form that did not validate: field → messages, shown next to the fields."""

    def __init__(self, fields: dict[str, list[str]]) -> None:
        super().__init__("invalid form")
        self.fields = fields


def load_form(schema: Schema, data: dict[str, Any]) -> dict[str, Any]:
    """Validate a page form with the API's own schema, so the pages accept exactly what the API does."""
    cleaned = {key: value for key, value in data.items() if value not in ("", None, [])}
    try:
        return schema.load(cleaned)
    except ValidationError as error:
        raise FormErrors(_flatten(error.messages)) from None


def _flatten(messages: Any, prefix: str = "") -> dict[str, list[str]]:
    if isinstance(messages, list):
        return {prefix or "form": [str(m) for m in messages]}
    flat: dict[str, list[str]] = {}
    for key, value in messages.items():
        flat.update(_flatten(value, f"{prefix}.{key}" if prefix else str(key)))
    return flat


def whole_number(raw: str | None, field: str) -> int | None:
    """A whole number as people type it ("50.000" and "50 000" read as 50000); None when empty."""
    cleaned = (raw or "").replace(".", "").replace(",", "").replace(" ", "").strip()
    if not cleaned:
        return None
    if not cleaned.isdigit():
        raise FormErrors({field: [_("Enter a whole number.")]})
    return int(cleaned)


def integer(name: str) -> int | None:
    """The form field `name` as a whole number (see whole_number)."""
    return whole_number(request.form.get(name), name)


def local_instant(name: str, tz_name: str) -> str | None:
    """A datetime-local form field read in the brand's zone, as ISO 8601 with offset."""
    raw = (request.form.get(name) or "").strip()
    if not raw:
        return None
    try:
        naive = datetime.fromisoformat(raw)
    except ValueError:
        raise FormErrors({name: ["Enter a date and time."]}) from None
    return naive.replace(tzinfo=ZoneInfo(tz_name)).isoformat()


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
