"""Marshmallow schemas of the voucher API and the merchant page: separate input and output shapes."""

from __future__ import annotations

from flask import current_app, g, request
from marshmallow import Schema, fields, validate

from lixi.models import MAX_ID
from lixi.schemas import NOT_BLANK, YEARS_FROM_1970, Day, Instant, Text
from lixi.timeutil import utcnow
from vouchers.models import OfferKind
from vouchers.service import voucher_token

MONEY = validate.Range(min=0, max=10**15)
POSITIVE_MONEY = validate.Range(min=1, max=10**15)
ID_RANGE = validate.Range(min=1, max=MAX_ID)


def base_url() -> str:
    """PUBLIC_BASE_URL when set (behind a proxy), else the request's own scheme and host (worked out
    once per request: a voucher's answer has three links)."""
    configured = current_app.config["PUBLIC_BASE_URL"]
    if configured:
        return configured
    if "lixi_base_url" not in g:
        g.lixi_base_url = request.host_url.rstrip("/")
    return g.lixi_base_url


def voucher_url(token: str, suffix: str = "") -> str:
    """The public page /v/<token> (suffix "/qr.png" or "/qr.svg" for its QR images).

    Built by hand rather than with url_for: a 10,000-voucher response needs 30,000 of them.
    tests/vouchers/test_api.py checks these against the routes in vouchers/views.py.
    """
    return f"{base_url()}/v/{token}{suffix}"


class ValidUntilField(fields.Field):
    """A date (through the end of that day, brand time) or an ISO 8601 datetime with offset."""

    def _deserialize(self, value, attr, data, **kwargs):  # type: ignore[no-untyped-def]
        if isinstance(value, str) and len(value) == 10:
            return Day()._deserialize(value, attr, data, **kwargs)
        return Instant()._deserialize(value, attr, data, **kwargs)

    def _serialize(self, value, attr, obj, **kwargs):  # type: ignore[no-untyped-def]
        return value.isoformat() if value is not None else None


# max_discount applies to percent offers only: other kinds leave it out or null.
_HAS_MAX_DISCOUNT = {"required": ["max_discount"], "properties": {"max_discount": {"type": "integer"}}}


class OfferInSchema(Schema):
    name = Text(required=True, validate=validate.Length(min=1, max=200))
    kind = fields.String(required=True, validate=validate.OneOf([k.value for k in OfferKind]))
    value = fields.Integer(
        required=True,
        strict=True,
        validate=MONEY,
        metadata={"description": "Minor units; for percent offers, a whole percent (1–100)."},
    )
    max_discount = fields.Integer(strict=True, validate=POSITIVE_MONEY, allow_none=True)
    min_bill = fields.Integer(strict=True, validate=MONEY, allow_none=True)
    valid_days = fields.Integer(strict=True, validate=validate.Range(min=0, max=3650), allow_none=True)
    valid_until = ValidUntilField(
        allow_none=True,
        metadata={
            "anyOf": [
                {"type": "string", "format": "date", "pattern": YEARS_FROM_1970},
                {"type": "string", "format": "date-time", "pattern": YEARS_FROM_1970},
            ],
            "description": (
                "A date (valid through the end of that day in the brand's time zone) "
                "or a datetime with offset."
            ),
        },
    )
    merchant_ids = fields.List(
        fields.Integer(strict=True, validate=ID_RANGE),
        validate=validate.Length(max=1000),
    )
    terms = Text(validate=validate.Length(max=5000), allow_none=True)

    # What vouchers.offers.create_offer checks across fields, for the OpenAPI document.
    OPENAPI_EXTRA = {
        "anyOf": [
            {"properties": {"kind": {"enum": ["percent"]}, "value": {"minimum": 1, "maximum": 100}}},
            {
                "properties": {"kind": {"enum": ["fixed_amount", "gift_card"]}, "value": {"minimum": 1}},
                "not": _HAS_MAX_DISCOUNT,
            },
            {"properties": {"kind": {"enum": ["free_item"]}}, "not": _HAS_MAX_DISCOUNT},
        ],
        # valid_days or valid_until, not both.
        "not": {
            "required": ["valid_days", "valid_until"],
            "properties": {"valid_days": {"type": "integer"}, "valid_until": {"type": "string"}},
        },
    }


class OfferOutSchema(Schema):
    id = fields.Integer()
    name = fields.String()
    kind = fields.String()
    value = fields.Integer()
    max_discount = fields.Integer(allow_none=True)
    min_bill = fields.Integer(allow_none=True)
    valid_days = fields.Integer(allow_none=True)
    valid_until = fields.AwareDateTime(allow_none=True)
    merchant_ids = fields.List(fields.Integer())
    terms = Text(allow_none=True)
    created_at = fields.AwareDateTime()


class VoucherOutSchema(Schema):
    code = Text()
    token = fields.Function(lambda v: voucher_token(v.code))
    status = fields.Function(lambda v: v.status_at(utcnow()))
    offer_id = fields.Integer()
    kind = fields.Function(lambda v: v.offer.kind)
    value = fields.Function(lambda v: v.offer.value)
    balance = fields.Integer(allow_none=True)
    member_external_id = fields.Function(lambda v: v.member.external_id if v.member else None)
    issued_at = fields.AwareDateTime()
    expires_at = fields.AwareDateTime(allow_none=True)
    redeemed_at = fields.AwareDateTime(allow_none=True)
    qr_png_url = fields.Function(lambda v: voucher_url(voucher_token(v.code), "/qr.png"))
    qr_svg_url = fields.Function(lambda v: voucher_url(voucher_token(v.code), "/qr.svg"))
    url = fields.Function(lambda v: voucher_url(voucher_token(v.code)))


class IssueInSchema(Schema):
    offer_id = fields.Integer(required=True, strict=True, validate=ID_RANGE)
    member_external_id = Text(validate=validate.Length(min=1, max=100), allow_none=True)
    count = fields.Integer(strict=True, load_default=1, validate=validate.Range(min=1, max=10000))


class VoucherListSchema(Schema):
    vouchers = fields.List(fields.Nested(VoucherOutSchema))


class CodeInSchema(Schema):
    code = Text(
        required=True,
        validate=validate.Length(min=1, max=2048),
        metadata={"description": "The short code as typed, the signed token, or the voucher URL."},
    )
    merchant_id = fields.Integer(strict=True, validate=ID_RANGE, allow_none=True)
    bill_amount = fields.Integer(strict=True, validate=MONEY, allow_none=True)


class RedeemInSchema(CodeInSchema):
    merchant_id = fields.Integer(required=True, strict=True, validate=ID_RANGE)
    amount = fields.Integer(
        strict=True,
        validate=POSITIVE_MONEY,
        allow_none=True,
        metadata={"description": "Gift cards only: the part of the balance to take."},
    )


class ValidationOutSchema(Schema):
    valid = fields.Boolean()
    voucher = fields.Nested(VoucherOutSchema)
    amount = fields.Integer(
        allow_none=True,
        metadata={"description": "What redeeming would take off this bill (null when it depends on it)."},
    )


class RedemptionOutSchema(Schema):
    id = fields.Integer()
    voucher = fields.Nested(VoucherOutSchema)
    amount = fields.Integer()
    bill_amount = fields.Integer(allow_none=True)
    merchant_id = fields.Integer()
    created_at = fields.AwareDateTime()
    voided_at = fields.AwareDateTime(allow_none=True)
    void_reason = Text(allow_none=True)


class VoidInSchema(Schema):
    reason = Text(
        validate=validate.Length(max=500),
        allow_none=True,
        pattern=NOT_BLANK,
        pattern_error="Give a reason or leave it out.",
    )


# --- the merchant page (/merchant/api/*): what its scanner script sends and gets back ------------


class CounterCheckInSchema(Schema):
    # The raw text the camera read (a voucher URL) or the short code typed by hand.
    code = Text(required=True, validate=validate.Length(min=1, max=1000))
    bill_amount = fields.Integer(strict=True, validate=MONEY, allow_none=True)


class CounterRedeemInSchema(CounterCheckInSchema):
    amount = fields.Integer(strict=True, validate=POSITIVE_MONEY, allow_none=True)


class CounterVoucherOutSchema(VoucherOutSchema):
    """The voucher as a cashier sees it: the API's fields that matter at the till, the offer's name
    and the customer's name (and not the token or links, which the till has no use for)."""

    offer = fields.Function(lambda v: v.offer.name)
    customer = fields.Function(lambda v: v.member.name if v.member else None)

    class Meta:
        fields = ("code", "kind", "offer", "value", "balance", "expires_at", "customer")


class CounterRedemptionOutSchema(RedemptionOutSchema):
    """A redemption as the merchant page's script needs it: what was taken and what is left."""

    voucher_status = fields.Function(lambda r: r.voucher.status)
    balance = fields.Function(lambda r: r.voucher.balance)

    class Meta:
        fields = ("id", "amount", "voucher_status", "balance")
