"""The dashboard's forms: reading fields as people type them, validating them with the API's own
schemas, and the form-page pattern every create and edit page follows."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

from flask import Response, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from marshmallow import Schema, ValidationError

from dashboard.access import current_brand
from lixi.errors import InvalidRequest

T = TypeVar("T")


class FormErrors(Exception):
    """A form that did not validate: field → messages, shown next to the fields."""

    def __init__(self, fields: dict[str, list[str]]) -> None:
        super().__init__("invalid form")
        self.fields = fields


def form_page(template: str, errors: dict[str, Any], **context: Any) -> tuple[str, int]:
    """A page with a form: the submitted values come back with the errors, and a 422 if any."""
    return render_template(template, errors=errors, form=request.form, **context), (422 if errors else 200)


class FormPage:
    """A dashboard page with a form, for the admin's brand. GET shows it; a POST makes the change
    and moves on or, when the schema or the service refuses the form, shows it again with its
    values and the errors beside its fields (422)."""

    def __init__(self, template: str) -> None:
        self.template = template
        self.errors: dict[str, Any] = {}

    def submit(self, change: Callable[[], T]) -> T | None:
        """On a POST, make the change and return what it made (never None); None on a GET or a
        refused form."""
        if request.method != "POST":
            return None
        try:
            return change()
        except (FormErrors, InvalidRequest) as error:
            self.errors = field_errors(error)
            return None

    def render(self, **context: Any) -> tuple[str, int]:
        """The page (on a GET, or after a refusal), with the brand and the rows as they are now."""
        return form_page(self.template, self.errors, brand=current_brand(), **context)


def saved(message: str, endpoint: str, **values: Any) -> Response:
    """After a change: say so, and go to `endpoint`."""
    flash(message, "ok")
    return redirect(url_for(endpoint, **values))


def field_errors(error: InvalidRequest | FormErrors) -> dict[str, Any]:
    """The messages of a refused form by field; a refusal about no field in particular is the form's."""
    if isinstance(error, FormErrors):
        return error.fields
    return (error.details or {}).get("fields") or {"form": [error.message]}


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


def text(name: str) -> str:
    """The form field `name`, trimmed ("" when absent)."""
    return request.form.get(name, "").strip()


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
