"""Schemas the kernel shares: the error envelope, merchants and members."""

from __future__ import annotations

import re
from typing import Any

from marshmallow import Schema, ValidationError, fields, validate

from lixi.models import MAX_ID


def parse_id(text: str | None) -> int | None:
    """An id from a form or query string: None unless it is a whole number an id column can hold
    (a larger one would overflow the database driver, not just miss)."""
    if not text or not text.strip().isdigit():
        return None
    value = int(text.strip())
    return value if 1 <= value <= MAX_ID else None


def parse_ids(texts: list[str]) -> list[int]:
    """The ids among form values (a forged out-of-range one is dropped, so it is not found)."""
    return [value for value in map(parse_id, texts) if value is not None]


# Patterns the OpenAPI document states and the server checks with the same regex (JSON Schema
# patterns are searched, not anchored, as re.search does).
NO_NUL = r"^[^\u0000]*$"
# Some character that is neither a space nor a NUL, and no NUL anywhere: "blank" is refused.
NOT_BLANK = r"^[^\u0000]*[^\s\u0000][^\u0000]*$"
# The year at the start of an ISO 8601 date or datetime, 1970–9998 (1900–9998 for birthdays).
YEARS_FROM_1970 = r"^(19[7-9][0-9]|[2-8][0-9]{3}|9[0-8][0-9]{2}|99[0-8][0-9]|999[0-8])-"
YEARS_FROM_1900 = r"^(19[0-9]{2}|[2-8][0-9]{3}|9[0-8][0-9]{2}|99[0-8][0-9]|999[0-8])-"


class Text(fields.String):
    """A string that PostgreSQL can store: NUL characters are refused (SQLite would take them).

    `pattern` (documented in the OpenAPI) may ask more, such as NOT_BLANK; `pattern_error` says why.
    """

    def __init__(
        self, *args: Any, pattern: str = NO_NUL, pattern_error: str | None = None, **kwargs: Any
    ) -> None:
        kwargs["metadata"] = {"pattern": pattern, **(kwargs.get("metadata") or {})}
        super().__init__(*args, **kwargs)
        # NO_NUL is what the check below already makes sure of: only a stricter pattern is searched.
        self.pattern = None if pattern == NO_NUL else re.compile(pattern)
        self.pattern_error = pattern_error

    def _deserialize(self, value, attr, data, **kwargs):  # type: ignore[no-untyped-def]
        text = super()._deserialize(value, attr, data, **kwargs)
        if "\x00" in text:
            raise ValidationError("NUL characters are not allowed.")
        if self.pattern is not None and not self.pattern.search(text):
            raise ValidationError(self.pattern_error or f"Does not match {self.pattern.pattern}.")
        return text


class StrictBoolean(fields.Boolean):
    """JSON true or false only: marshmallow's Boolean also takes 0, 1, "yes" and "on", which the
    OpenAPI document's `type: boolean` refuses."""

    def _deserialize(self, value, attr, data, **kwargs):  # type: ignore[no-untyped-def]
        if not isinstance(value, bool):
            raise self.make_error("invalid")
        return value


class _YearBounded:
    """A date or datetime field whose year is bounded, said in the OpenAPI by a pattern."""

    def __init__(self, *args: Any, min_year: int = 1970, **kwargs: Any) -> None:
        assert min_year in (1900, 1970)
        pattern = YEARS_FROM_1900 if min_year == 1900 else YEARS_FROM_1970
        kwargs["metadata"] = {"pattern": pattern, **(kwargs.get("metadata") or {})}
        super().__init__(*args, **kwargs)  # type: ignore[call-arg]
        self.min_year = min_year

    def _deserialize(self, value, attr, data, **kwargs):  # type: ignore[no-untyped-def]
        moment = super()._deserialize(value, attr, data, **kwargs)  # type: ignore[misc]
        if not self.min_year <= moment.year <= 9998:
            raise ValidationError(f"Out of range: use a year from {self.min_year} to 9998.")
        return moment


class Instant(_YearBounded, fields.AwareDateTime):
    """An ISO 8601 datetime with offset, within the years 1970–9998 (so UTC conversions never overflow)."""


class Day(_YearBounded, fields.Date):
    """A calendar date within the years 1970–9998 (or from `min_year`, 1900 for birthdays)."""


class ErrorDetailSchema(Schema):
    code = fields.String(required=True, metadata={"example": "not_found"})
    message = fields.String(required=True)
    details = fields.Dict()


class ErrorSchema(Schema):
    """Every error: {"error": {"code", "message", "details"?}}."""

    error = fields.Nested(ErrorDetailSchema, required=True)


class MerchantInSchema(Schema):
    name = Text(required=True, validate=validate.Length(min=1, max=200))
    address = Text(validate=validate.Length(max=500), allow_none=True)


class MerchantOutSchema(Schema):
    id = fields.Integer()
    name = fields.String()
    address = fields.String(allow_none=True)
    created_at = fields.AwareDateTime()


class MerchantListSchema(Schema):
    merchants = fields.List(fields.Nested(MerchantOutSchema))


class MemberInSchema(Schema):
    external_id = Text(required=True, validate=validate.Length(min=1, max=100))
    name = Text(validate=validate.Length(max=200), allow_none=True)
    phone = Text(validate=validate.Length(max=32), allow_none=True)
    email = fields.Email(validate=validate.Length(max=254), allow_none=True)
    birthday = Day(allow_none=True, min_year=1900)
    subscribed = fields.Boolean(
        metadata={"description": "The member agreed to the brand's mail and messages (default false)."}
    )
    referred_by = Text(
        validate=validate.Length(min=1, max=16),
        allow_none=True,
        metadata={"description": "A new member's referrer: the referral code of another member (loyalty)."},
    )


class MemberOutSchema(Schema):
    id = fields.Integer()
    external_id = fields.String()
    name = fields.String(allow_none=True)
    phone = fields.String(allow_none=True)
    email = fields.String(allow_none=True)
    birthday = fields.Date(allow_none=True)
    tier = fields.String()
    subscribed = fields.Boolean()
    created_at = fields.AwareDateTime()


class StaffInSchema(Schema):
    email = fields.Email(required=True, validate=validate.Length(max=254))
    password = Text(
        required=True,
        load_only=True,
        validate=validate.Length(max=200),
        # The minimum is STAFF_MIN_PASSWORD_LENGTH, checked by lixi.staff and documented from config.
        metadata={"min_length_setting": "STAFF_MIN_PASSWORD_LENGTH"},
    )
    name = Text(validate=validate.Length(max=200), allow_none=True)
    role = fields.String(
        load_default="merchant_staff", validate=validate.OneOf(["merchant_staff", "brand_admin"])
    )
    merchant_ids = fields.List(
        fields.Integer(strict=True, validate=validate.Range(min=1, max=MAX_ID)),
        load_default=list,
        validate=validate.Length(max=1000),
    )

    # lixi.staff.create_staff: merchant staff work at one or more stores (brand admins at any).
    OPENAPI_EXTRA = {
        "anyOf": [
            {"required": ["role"], "properties": {"role": {"enum": ["brand_admin"]}}},
            {"required": ["merchant_ids"], "properties": {"merchant_ids": {"minItems": 1}}},
        ]
    }


class StaffOutSchema(Schema):
    id = fields.Integer()
    email = fields.String()
    name = fields.String(allow_none=True)
    role = fields.String()
    merchant_ids = fields.Function(lambda user: [m.id for m in user.merchants])
    created_at = fields.AwareDateTime()
    disabled_at = fields.AwareDateTime(allow_none=True)


class StaffListSchema(Schema):
    staff = fields.List(fields.Nested(StaffOutSchema))
