"""Marshmallow schemas of the games API."""

from __future__ import annotations

from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from games.models import GameKind
from lixi.models import MAX_ID
from lixi.schemas import Instant, Text
from vouchers.schemas import VoucherOutSchema

# What members do that earns (plays, points); a refund is an event too, but it takes back instead.
EVENT_TYPES = ["purchase", "survey_completed", "social_share", "referral", "signup", "birthday"]
REFUND = "refund"
ID = validate.Range(min=1, max=MAX_ID)
MONEY = validate.Range(min=0, max=10**15)


class PrizeInSchema(Schema):
    label = Text(required=True, validate=validate.Length(min=1, max=100))
    weight = fields.Integer(required=True, strict=True, validate=validate.Range(min=1, max=10**9))
    stock = fields.Integer(strict=True, validate=validate.Range(min=0, max=10**9), allow_none=True)
    daily_cap = fields.Integer(strict=True, validate=validate.Range(min=1, max=10**9), allow_none=True)
    offer_id = fields.Integer(strict=True, validate=ID, allow_none=True)
    value = fields.Integer(
        strict=True,
        validate=MONEY,
        allow_none=True,
        metadata={
            "description": "What winning it costs the brand (counted against the budget); offers only."
        },
    )

    # games.campaigns.create_campaign: a prize without an offer gives nothing, so it has no value.
    OPENAPI_EXTRA = {
        "anyOf": [
            {"required": ["offer_id"], "properties": {"offer_id": {"type": "integer"}}},
            {"not": {"required": ["value"], "properties": {"value": {"type": "integer", "minimum": 1}}}},
        ]
    }


class EarningRuleInSchema(Schema):
    event = fields.String(required=True, validate=validate.OneOf(EVENT_TYPES))
    plays = fields.Integer(required=True, strict=True, validate=validate.Range(min=1, max=1000))
    min_amount = fields.Integer(strict=True, validate=MONEY, allow_none=True)
    max_amount = fields.Integer(strict=True, validate=MONEY, allow_none=True)

    @validates_schema
    def _band(self, data: dict, **_kwargs: object) -> None:
        low, high = data.get("min_amount"), data.get("max_amount")
        if low is not None and high is not None and high < low:
            raise ValidationError("max_amount must not be below min_amount.", "max_amount")


class CampaignInSchema(Schema):
    name = Text(required=True, validate=validate.Length(min=1, max=200))
    game = fields.String(required=True, validate=validate.OneOf([g.value for g in GameKind]))
    starts_at = Instant(allow_none=True)
    ends_at = Instant(allow_none=True, metadata={"description": "After starts_at."})
    budget = fields.Integer(strict=True, validate=MONEY, allow_none=True)
    plays_per_member_per_day = fields.Integer(
        strict=True, validate=validate.Range(min=1, max=1000), allow_none=True
    )
    draw_at = Instant(
        allow_none=True,
        metadata={"description": "lucky_draw only: plays are entries until then; winners are drawn once."},
    )
    pacing = fields.Boolean(
        load_default=False,
        metadata={"description": "Release limited prizes at random moments spread over the schedule."},
    )
    prizes = fields.List(fields.Nested(PrizeInSchema), required=True, validate=validate.Length(min=1, max=50))
    earning_rules = fields.List(fields.Nested(EarningRuleInSchema), validate=validate.Length(max=50))

    # What games.campaigns.create_campaign checks across fields (ends_at after starts_at cannot be
    # said in JSON Schema; the description says it).
    OPENAPI_EXTRA = {
        "allOf": [
            # draw_at: lucky_draw campaigns only.
            {
                "anyOf": [
                    {"properties": {"game": {"enum": ["lucky_draw"]}}},
                    {"not": {"required": ["draw_at"], "properties": {"draw_at": {"type": "string"}}}},
                ]
            },
            # pacing spreads prizes over the schedule: it needs starts_at and ends_at.
            {
                "anyOf": [
                    {"not": {"required": ["pacing"], "properties": {"pacing": {"enum": [True]}}}},
                    {
                        "required": ["starts_at", "ends_at"],
                        "properties": {"starts_at": {"type": "string"}, "ends_at": {"type": "string"}},
                    },
                ]
            },
        ]
    }


class CampaignOutSchema(Schema):
    id = fields.Integer()
    name = fields.String()
    game = fields.String()
    status = fields.String()
    starts_at = fields.AwareDateTime(allow_none=True)
    ends_at = fields.AwareDateTime(allow_none=True)
    budget = fields.Integer(allow_none=True)
    budget_spent = fields.Integer()
    plays_per_member_per_day = fields.Integer(allow_none=True)
    pacing = fields.Boolean()
    draw_at = fields.AwareDateTime(allow_none=True)
    drawn_at = fields.AwareDateTime(allow_none=True)
    seed_hash = fields.String(allow_none=True, metadata={"description": "SHA-256 of the secret seed."})
    prizes = fields.Method(
        "_prizes",
        metadata={
            "type": "array",
            "items": {"type": "object"},
            "description": "label, weight, odds_percent (shown to players), stock, stock_left, daily_cap, "
            "offer_id, value",
        },
    )
    created_at = fields.AwareDateTime()

    def _prizes(self, campaign) -> list[dict]:  # type: ignore[no-untyped-def]
        total = sum(p.weight for p in campaign.prizes)
        return [
            {
                "id": p.id,
                "label": p.label,
                "weight": p.weight,
                "odds_percent": round(100 * p.weight / total, 2),
                "stock": p.stock,
                "stock_left": p.remaining,
                "daily_cap": p.daily_cap,
                "offer_id": p.offer_id,
                "value": p.value,
            }
            for p in campaign.prizes
        ]


class StatusOutSchema(Schema):
    id = fields.Integer()
    status = fields.String()
    seed_hash = fields.String(allow_none=True)


class GrantInSchema(Schema):
    campaign_id = fields.Integer(required=True, strict=True, validate=ID)
    plays = fields.Integer(required=True, strict=True, validate=validate.Range(min=1, max=1000))


class PlaysLeftSchema(Schema):
    plays_left = fields.Integer()


class PlayInSchema(Schema):
    member_external_id = Text(required=True, validate=validate.Length(min=1, max=100))


class WonPrizeSchema(Schema):
    id = fields.Integer()
    label = fields.String()
    value = fields.Integer()
    offer_id = fields.Integer(allow_none=True)


class PlayOutSchema(Schema):
    id = fields.Function(lambda r: r.play.id)
    entered = fields.Function(lambda r: bool(r.play.proof.get("entry")))
    prize = fields.Nested(WonPrizeSchema, allow_none=True)
    voucher = fields.Nested(VoucherOutSchema, allow_none=True)
    plays_left = fields.Integer()
    proof = fields.Function(lambda r: r.play.proof)


# The voucher as the customer pages show it: the voucher schema's fields, only those they use.
WON_VOUCHER_FIELDS = ("code", "url", "qr_svg_url", "value", "kind", "expires_at")
WALLET_VOUCHER_FIELDS = ("url", "status")


class PagePlaySchema(Schema):
    """A play as the game page shows it and its script reads it (POST /play/<id>, JSON or HTML)."""

    play_id = fields.Function(lambda r: r.play.id)
    position = fields.Function(lambda r: r.prize.position if r.prize else None)
    label = fields.Function(lambda r: r.prize.label if r.prize else None)
    won = fields.Function(lambda r: r.voucher is not None)
    voucher = fields.Nested(VoucherOutSchema(only=WON_VOUCHER_FIELDS), allow_none=True)
    plays_left = fields.Integer()


class EventInSchema(Schema):
    member_external_id = Text(required=True, validate=validate.Length(min=1, max=100))
    type = fields.String(
        required=True,
        validate=validate.OneOf([*EVENT_TYPES, REFUND]),
        metadata={"description": "`refund` takes back what the purchase `refund_of` earned, in proportion."},
    )
    external_id = Text(required=True, validate=validate.Length(min=1, max=100))
    amount = fields.Integer(
        strict=True, validate=MONEY, allow_none=True, metadata={"description": "A refund: the part refunded."}
    )
    refund_of = Text(
        validate=validate.Length(min=1, max=100),
        metadata={"description": "A refund's purchase (its external_id); refunds only."},
    )

    # A refund names its purchase and the amount refunded; no other event names a purchase.
    OPENAPI_EXTRA = {
        "anyOf": [
            {
                "required": ["refund_of", "amount"],
                "properties": {"type": {"enum": [REFUND]}, "amount": {"type": "integer"}},
            },
            {"not": {"required": ["refund_of"]}, "properties": {"type": {"not": {"enum": [REFUND]}}}},
        ]
    }

    @validates_schema
    def _refund(self, data: dict, **_kwargs: object) -> None:
        if data["type"] == REFUND:
            for name in ("refund_of", "amount"):
                if data.get(name) is None:
                    raise ValidationError("A refund needs refund_of and amount.", name)
        elif data.get("refund_of") is not None:
            raise ValidationError("Only a refund names a purchase.", "refund_of")


class EventOutSchema(Schema):
    id = fields.Integer()
    external_id = fields.String()
    type = fields.String()
    amount = fields.Integer(allow_none=True)
    refund_of = fields.String(allow_none=True)
    grants = fields.List(fields.Dict())


class PrizeStatsSchema(Schema):
    id = fields.Integer()
    label = fields.String()
    won = fields.Integer()
    stock = fields.Integer(allow_none=True)
    stock_left = fields.Integer(allow_none=True)


class StatsOutSchema(Schema):
    id = fields.Integer()
    status = fields.String()
    plays = fields.Integer()
    wins = fields.Integer()
    prizes = fields.List(fields.Nested(PrizeStatsSchema))
    vouchers_issued = fields.Integer()
    vouchers_redeemed = fields.Integer()
    budget = fields.Integer(allow_none=True)
    budget_spent = fields.Integer()
    liability = fields.Integer()
    refused_for_abuse = fields.Integer(
        allow_none=True, metadata={"description": "Plays refused by the rate limits (null if Redis is down)."}
    )


class LinkInSchema(Schema):
    campaign_id = fields.Integer(
        strict=True,
        validate=ID,
        allow_none=True,
        metadata={"description": "The game the link opens; without it, the member's own page (/me)."},
    )


class LinkOutSchema(Schema):
    url = fields.String(metadata={"description": "The game page, or without a campaign the member's page."})
    wallet_url = fields.String()
