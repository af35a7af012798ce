"""Marshmallow schemas of the gifts API (API.md "Gifting"); the member's "Tặng bạn" form and the
bulk file's rows are turned into the same GiftRequest."""

from __future__ import annotations

from datetime import time
from typing import Any

from marshmallow import Schema, ValidationError, fields, post_load, validate, validates_schema

from gifting.links import claim_url
from gifting.models import Design, GiftStatus, SplitMode
from gifting.queries import deliveries_of
from gifting.service import GiftRequest, LunarDay
from lixi.schemas import NOT_BLANK, YEARS_FROM_1970, StrictBoolean, Text
from vouchers.schemas import ID_RANGE, POSITIVE_MONEY

NAME = validate.Length(min=1, max=200)
LANGUAGES = ("vi", "en")
MESSAGE_MAX = 500
SPLIT_MAX = 100
CLAIM_DAYS = validate.Range(min=1, max=365)
HH_MM = r"^([01][0-9]|2[0-3]):[0-5][0-9]$"


class LocalOrAwareDateTime(fields.DateTime):
    """A date-time with an offset, or without one (then in the brand's time zone), years 1970–9998."""

    def _deserialize(self, value, attr, data, **kwargs):  # type: ignore[no-untyped-def]
        moment = super()._deserialize(value, attr, data, **kwargs)
        if not 1970 <= moment.year <= 9998:
            raise ValidationError("Out of range: use a year from 1970 to 9998.")
        return moment


class SenderSchema(Schema):
    member_external_id = Text(validate=validate.Length(min=1, max=100))
    name = Text(validate=NAME, pattern=NOT_BLANK)


class RecipientSchema(Schema):
    name = Text(validate=NAME, pattern=NOT_BLANK)
    email = Text(validate=validate.Length(min=3, max=254), metadata={"format": "email"})
    phone = Text(
        validate=validate.Length(min=3, max=40),
        metadata={"description": "Any usual spelling; a number without a country code is Vietnamese."},
    )
    language = fields.String(validate=validate.OneOf(LANGUAGES))


class LunarDateSchema(Schema):
    year = fields.Integer(required=True, strict=True, validate=validate.Range(min=1970, max=2099))
    month = fields.Integer(required=True, strict=True, validate=validate.Range(min=1, max=12))
    day = fields.Integer(required=True, strict=True, validate=validate.Range(min=1, max=30))
    leap = StrictBoolean(
        load_default=False,
        metadata={"description": "The leap month (tháng nhuận)."},
    )
    time = Text(load_default="08:00", pattern=HH_MM, metadata={"description": "Local time, HH:MM."})


class SplitSchema(Schema):
    count = fields.Integer(required=True, strict=True, validate=validate.Range(min=2, max=SPLIT_MAX))
    total = fields.Integer(
        strict=True,
        validate=POSITIVE_MONEY,
        metadata={
            "description": "From an offer: the amount to split. From a member's gift card: its balance."
        },
    )
    mode = fields.String(load_default=SplitMode.EQUAL, validate=validate.OneOf([m.value for m in SplitMode]))
    floor = fields.Integer(
        strict=True,
        validate=POSITIVE_MONEY,
        metadata={"description": "The least an envelope holds (GIFT_ENVELOPE_FLOOR by default)."},
    )


class GiftInSchema(Schema):
    offer_id = fields.Integer(strict=True, validate=ID_RANGE)
    voucher_code = Text(validate=validate.Length(min=1, max=512))
    amount = fields.Integer(
        strict=True,
        validate=POSITIVE_MONEY,
        metadata={"description": "A gift card of this balance instead of the offer's value."},
    )
    sender = fields.Nested(SenderSchema)
    recipient = fields.Nested(RecipientSchema, load_default=dict)
    message = Text(validate=validate.Length(max=MESSAGE_MAX))
    design = fields.String(load_default=Design.PLAIN, validate=validate.OneOf([d.value for d in Design]))
    send_at = LocalOrAwareDateTime(
        metadata={
            "pattern": YEARS_FROM_1970,
            "description": "When to send; without an offset, the brand's local time. Omitted or past: now.",
        }
    )
    send_on_lunar = fields.Nested(
        LunarDateSchema, metadata={"description": "Send on a Vietnamese lunar date."}
    )
    claim_days = fields.Integer(strict=True, load_default=30, validate=CLAIM_DAYS)
    split = fields.Nested(
        SplitSchema, metadata={"description": "A lì xì: the gift card split into envelopes."}
    )

    # The cross-field rules create_gift also checks, for the OpenAPI document.
    OPENAPI_EXTRA = {
        "anyOf": [
            {"required": ["offer_id"], "not": {"required": ["voucher_code"]}},
            {
                "required": ["voucher_code"],
                "not": {"anyOf": [{"required": ["offer_id"]}, {"required": ["amount"]}]},
            },
        ],
        "not": {"anyOf": [{"required": ["send_at", "send_on_lunar"]}, {"required": ["amount", "split"]}]},
    }

    @validates_schema
    def _one_source_one_time(self, data: dict, **_kwargs: object) -> None:
        if ("offer_id" in data) == ("voucher_code" in data):
            raise ValidationError("Give an offer_id or a voucher_code (one of them).", "offer_id")
        if "voucher_code" in data and "amount" in data:
            raise ValidationError("A member gives their voucher as it is: no amount.", "amount")
        if "amount" in data and "split" in data:
            raise ValidationError("A lì xì splits split.total: give no amount.", "amount")
        if "send_at" in data and "send_on_lunar" in data:
            raise ValidationError("Give send_at or send_on_lunar, not both.", "send_on_lunar")

    @post_load
    def _to_request(self, data: dict, **_kwargs: object) -> GiftRequest:
        return gift_request(data)


def gift_request(data: dict[str, Any]) -> GiftRequest:
    """The loaded document as the service's request (shared by the API and the member's form)."""
    sender, recipient, split = data.get("sender") or {}, data.get("recipient") or {}, data.get("split")
    lunar = data.get("send_on_lunar")
    return GiftRequest(
        offer_id=data.get("offer_id"),
        voucher_code=data.get("voucher_code"),
        amount=data.get("amount"),
        sender_member_external_id=sender.get("member_external_id"),
        sender_name=sender.get("name"),
        recipient_name=recipient.get("name"),
        recipient_email=recipient.get("email"),
        recipient_phone=recipient.get("phone"),
        language=recipient.get("language"),
        message=data.get("message") or None,
        design=data.get("design", Design.PLAIN),
        send_at=data.get("send_at"),
        send_on_lunar=LunarDay(
            lunar["year"], lunar["month"], lunar["day"], lunar["leap"], time.fromisoformat(lunar["time"])
        )
        if lunar
        else None,
        claim_days=data.get("claim_days", 30),
        split_count=split["count"] if split else None,
        split_total=split.get("total") if split else None,
        split_mode=split["mode"] if split else SplitMode.EQUAL,
        split_floor=split.get("floor") if split else None,
    )


class ResendInSchema(Schema):
    email = Text(validate=validate.Length(min=3, max=254), metadata={"format": "email"})
    phone = Text(validate=validate.Length(min=3, max=40))


class GiftQuerySchema(Schema):
    status = fields.String(validate=validate.OneOf([s.value for s in GiftStatus]))
    member_external_id = Text(validate=validate.Length(min=1, max=100))
    before_id = fields.Integer(validate=ID_RANGE)
    limit = fields.Integer(load_default=50, validate=validate.Range(min=1, max=100))


class EnvelopeOutSchema(Schema):
    position = fields.Integer()
    amount = fields.Integer()
    claimed_at = fields.AwareDateTime(allow_none=True)
    claimer_name = fields.String(allow_none=True)


class SplitOutSchema(Schema):
    count = fields.Integer()
    mode = fields.String()
    total = fields.Integer()
    claimed = fields.Integer()
    envelopes = fields.List(fields.Nested(EnvelopeOutSchema))


class DeliveryOutSchema(Schema):
    kind = fields.String()
    channel = fields.String()
    to = fields.String(allow_none=True)
    created_at = fields.AwareDateTime()
    status = fields.String(metadata={"description": "pending, sent or failed (mail); requested; shared."})


class GiftOutSchema(Schema):
    id = fields.Integer()
    status = fields.String()
    claim_url = fields.Function(claim_url)
    offer_id = fields.Integer()
    value = fields.Integer()
    sender = fields.Function(
        lambda gift: {
            "member_external_id": gift.sender.external_id if gift.sender else None,
            "name": gift.sender_name,
        }
    )
    recipient = fields.Function(
        lambda gift: {
            "name": gift.recipient_name,
            "email": gift.recipient_email,
            "phone": gift.recipient_phone,
            "language": gift.language,
            "member_external_id": gift.recipient_member.external_id if gift.recipient_member else None,
        }
    )
    message = fields.String(allow_none=True)
    design = fields.String()
    claim_days = fields.Integer()
    send_at = fields.AwareDateTime()
    sent_at = fields.AwareDateTime(allow_none=True)
    opened_at = fields.AwareDateTime(allow_none=True)
    claimed_at = fields.AwareDateTime(allow_none=True)
    expires_at = fields.AwareDateTime(allow_none=True)
    reminded_at = fields.AwareDateTime(allow_none=True)
    cancelled_at = fields.AwareDateTime(allow_none=True)
    returned_at = fields.AwareDateTime(allow_none=True)
    split = fields.Method("_split")
    deliveries = fields.Method("_deliveries")
    batch_id = fields.Integer(allow_none=True)
    row_id = fields.String(allow_none=True)

    def _split(self, gift: Any) -> dict | None:
        if not gift.is_split:
            return None
        envelopes = gift.envelopes
        return SplitOutSchema().dump(
            {
                "count": gift.split_count,
                "mode": gift.split_mode,
                "total": sum(e.amount for e in envelopes),
                "claimed": sum(1 for e in envelopes if e.claimed_at is not None),
                "envelopes": envelopes,
            }
        )

    def _deliveries(self, gift: Any) -> list[dict]:
        return DeliveryOutSchema(many=True).dump(deliveries_of(gift.id))


class GiftListedSchema(GiftOutSchema):
    """A gift in a page of the list: without its deliveries (GET /gifts/{id} has them), so a page
    costs the same few queries however many gifts it holds."""

    class Meta:
        exclude = ("deliveries",)


class GiftListSchema(Schema):
    gifts = fields.List(fields.Nested(GiftListedSchema))
    next_before_id = fields.Integer(allow_none=True)
