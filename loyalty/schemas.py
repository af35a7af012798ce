"""Marshmallow schemas of the loyalty API: the programme document is also what the dashboard's
settings form validates with, so the rules live here once."""

from __future__ import annotations

from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from games.schemas import EVENT_TYPES, ID, MONEY
from lixi.schemas import NOT_BLANK, Day, Instant, Text
from vouchers.schemas import VoucherOutSchema

POINTS = validate.Range(min=1, max=10**9)
DAYS = validate.Range(min=1, max=3650)
TIER_NAME = validate.Length(min=1, max=40)


class PointsPerSchema(Schema):
    amount = fields.Integer(required=True, strict=True, validate=validate.Range(min=1, max=10**15))
    points = fields.Integer(required=True, strict=True, validate=POINTS)


class EarnRuleSchema(Schema):
    """Fixed `points` per event, or `points_per` amount (1 point per 10,000 ₫), within an amount band."""

    event = fields.String(required=True, validate=validate.OneOf(EVENT_TYPES))
    points = fields.Integer(strict=True, validate=POINTS, allow_none=True)
    points_per = fields.Nested(PointsPerSchema)
    min_amount = fields.Integer(strict=True, validate=MONEY, allow_none=True)
    max_amount = fields.Integer(strict=True, validate=MONEY, allow_none=True)

    OPENAPI_EXTRA = {
        "oneOf": [
            {"required": ["points"], "properties": {"points": {"type": "integer"}}},
            {"required": ["points_per"], "properties": {"points_per": {"type": "object"}}},
        ]
    }

    @validates_schema
    def _one_way_to_earn(self, data: dict, **_kwargs: object) -> None:
        has_points, has_per = data.get("points") is not None, data.get("points_per") is not None
        if has_points == has_per:
            raise ValidationError("Give either points or points_per.", "points")
        low, high = data.get("min_amount"), data.get("max_amount")
        if low is not None and high is not None and high < low:
            raise ValidationError("max_amount must not be below min_amount.", "max_amount")


class TierSchema(Schema):
    name = Text(required=True, validate=TIER_NAME, pattern=NOT_BLANK)
    min_points = fields.Integer(required=True, strict=True, validate=validate.Range(min=0, max=10**12))


class ReferralSettingsSchema(Schema):
    referrer_points = fields.Integer(strict=True, validate=POINTS, allow_none=True)
    referee_points = fields.Integer(strict=True, validate=POINTS, allow_none=True)
    referrer_offer_id = fields.Integer(strict=True, validate=ID, allow_none=True)
    referee_offer_id = fields.Integer(strict=True, validate=ID, allow_none=True)
    max_per_referrer = fields.Integer(strict=True, validate=validate.Range(min=1, max=10**6), allow_none=True)
    join_url = Text(
        allow_none=True,
        validate=validate.Length(max=500),
        pattern=r"^https?://\S+$",
        pattern_error="An http(s) URL.",
        metadata={"description": "Where a shared referral link sends a friend to sign up (?ref=<code>)."},
    )


class BirthdaySettingsSchema(Schema):
    points = fields.Integer(strict=True, validate=POINTS, allow_none=True)
    offer_id = fields.Integer(strict=True, validate=ID, allow_none=True)


class ProgrammeSchema(Schema):
    """The whole programme (PUT replaces it)."""

    name = Text(required=True, validate=validate.Length(min=1, max=200), pattern=NOT_BLANK)
    earn = fields.List(fields.Nested(EarnRuleSchema), load_default=list, validate=validate.Length(max=50))
    pending_days = fields.Integer(strict=True, validate=validate.Range(min=0, max=365), load_default=0)
    expire_days = fields.Integer(
        strict=True,
        validate=DAYS,
        allow_none=True,
        load_default=None,
        metadata={"description": "null: never"},
    )
    point_value = fields.Integer(
        strict=True,
        validate=MONEY,
        allow_none=True,
        load_default=None,
        metadata={"description": "What one point is worth in the brand's minor unit (for the liability)."},
    )
    tiers = fields.List(fields.Nested(TierSchema), load_default=list, validate=validate.Length(max=10))
    tier_window_days = fields.Integer(strict=True, validate=DAYS, load_default=365)
    tier_grace_days = fields.Integer(strict=True, validate=validate.Range(min=0, max=3650), load_default=0)
    tier_multipliers = fields.Dict(
        keys=fields.String(),  # each must name a tier (checked below)
        values=fields.Float(validate=validate.Range(min=1, max=100)),
        load_default=dict,
        metadata={"description": "Tier name → what its members' earnings are multiplied by (Gold: 1.5)."},
    )
    # Leave out to have none (not null: apispec documents a nullable object as any object).
    referral = fields.Nested(ReferralSettingsSchema)
    birthday = fields.Nested(BirthdaySettingsSchema)
    expiring_notice_days = fields.Integer(
        strict=True, validate=validate.Range(min=1, max=365), load_default=7
    )
    member_goal = fields.Integer(
        strict=True, validate=validate.Range(min=1, max=10**9), allow_none=True, load_default=None
    )
    member_goal_date = Day(allow_none=True, load_default=None)

    @validates_schema
    def _tiers_consistent(self, data: dict, **_kwargs: object) -> None:
        tiers = data.get("tiers") or []
        names = [tier["name"] for tier in tiers]
        if len(set(names)) != len(names):
            raise ValidationError("Tier names must differ.", "tiers")
        thresholds = [tier["min_points"] for tier in tiers]
        if len(set(thresholds)) != len(thresholds):
            raise ValidationError("Tiers must have different min_points.", "tiers")
        unknown = sorted(set(data.get("tier_multipliers") or {}) - set(names))
        if unknown:
            raise ValidationError(f"No such tier: {', '.join(unknown)}.", "tier_multipliers")


class ProgrammeOutSchema(ProgrammeSchema):
    referral = fields.Nested(ReferralSettingsSchema, allow_none=True)
    birthday = fields.Nested(BirthdaySettingsSchema, allow_none=True)
    updated_at = fields.AwareDateTime()


class ExpiringSchema(Schema):
    points = fields.Integer()
    expires_at = fields.AwareDateTime()


class MemberLoyaltySchema(Schema):
    points = fields.Integer()
    pending_points = fields.Integer()
    tier = fields.String(allow_none=True)
    next_tier = fields.String(allow_none=True)
    points_to_next_tier = fields.Integer(allow_none=True)
    window_points = fields.Integer(metadata={"description": "Points earned in the tier window."})
    expiring = fields.List(fields.Nested(ExpiringSchema))
    referral_code = fields.String()


class LedgerQuerySchema(Schema):
    limit = fields.Integer(validate=validate.Range(min=1, max=200), load_default=50)
    after = fields.Integer(
        validate=ID, allow_none=True, metadata={"description": "The `next` of the previous page."}
    )


class EntrySchema(Schema):
    id = fields.Integer()
    kind = fields.String()
    points = fields.Integer()
    balance_after = fields.Integer()
    event_external_id = fields.String(allow_none=True)
    reason = fields.String(allow_none=True)
    created_at = fields.AwareDateTime()
    available_at = fields.AwareDateTime(allow_none=True)
    expires_at = fields.AwareDateTime(allow_none=True)


class LedgerSchema(Schema):
    entries = fields.List(fields.Nested(EntrySchema))
    next = fields.Integer(allow_none=True)


class AdjustmentInSchema(Schema):
    points = fields.Integer(
        required=True,
        strict=True,
        validate=[validate.Range(min=-(10**9), max=10**9), validate.NoneOf([0])],
        metadata={"description": "Points to add (positive) or take away (negative); not zero."},
    )
    reason = Text(required=True, validate=validate.Length(min=1, max=500), pattern=NOT_BLANK)

    OPENAPI_EXTRA = {"not": {"required": ["points"], "properties": {"points": {"enum": [0]}}}}


class RewardInSchema(Schema):
    name = Text(required=True, validate=validate.Length(min=1, max=200), pattern=NOT_BLANK)
    offer_id = fields.Integer(required=True, strict=True, validate=ID)
    cost_points = fields.Integer(required=True, strict=True, validate=POINTS)
    stock = fields.Integer(strict=True, validate=validate.Range(min=0, max=10**9), allow_none=True)
    per_member_limit = fields.Integer(strict=True, validate=validate.Range(min=1, max=10**6), allow_none=True)
    min_tier = Text(validate=TIER_NAME, allow_none=True)
    starts_at = Instant(allow_none=True)
    ends_at = Instant(allow_none=True, metadata={"description": "After starts_at."})

    @validates_schema
    def _window(self, data: dict, **_kwargs: object) -> None:
        starts, ends = data.get("starts_at"), data.get("ends_at")
        if starts is not None and ends is not None and ends <= starts:
            raise ValidationError("ends_at must come after starts_at.", "ends_at")


class RewardOutSchema(Schema):
    REWARD_FIELDS = (
        "id",
        "name",
        "offer_id",
        "cost_points",
        "stock",
        "per_member_limit",
        "min_tier",
        "starts_at",
        "ends_at",
        "active",
    )

    id = fields.Integer()
    name = fields.String()
    offer_id = fields.Integer()
    cost_points = fields.Integer()
    stock = fields.Integer(allow_none=True)
    stock_left = fields.Integer(allow_none=True)
    per_member_limit = fields.Integer(allow_none=True)
    min_tier = fields.String(allow_none=True)
    starts_at = fields.AwareDateTime(allow_none=True)
    ends_at = fields.AwareDateTime(allow_none=True)
    active = fields.Boolean()
    available = fields.Boolean(
        allow_none=True, metadata={"description": "With member_external_id: may this member take it now?"}
    )
    reason_code = fields.String(allow_none=True)
    reason = fields.String(allow_none=True, metadata={"description": "Why not, in words."})


class RewardQuerySchema(Schema):
    member_external_id = Text(validate=validate.Length(min=1, max=100))


class RewardListSchema(Schema):
    rewards = fields.List(fields.Nested(RewardOutSchema))


class ExchangeInSchema(Schema):
    member_external_id = Text(required=True, validate=validate.Length(min=1, max=100))


class ExchangeOutSchema(Schema):
    voucher = fields.Nested(VoucherOutSchema)
    points_spent = fields.Integer()
    points = fields.Integer(metadata={"description": "The member's balance after the exchange."})


class ReferralSchema(Schema):
    referee_external_id = fields.Function(lambda referral: referral.referee.external_id)
    referee_name = fields.Function(lambda referral: referral.referee.name)
    state = fields.String(metadata={"description": "joined, then rewarded at the friend's first purchase."})
    created_at = fields.AwareDateTime()
    purchased_at = fields.AwareDateTime(allow_none=True)
    rewarded_at = fields.AwareDateTime(allow_none=True)


class ReferralListSchema(Schema):
    referral_code = fields.String()
    share_url = fields.String()
    referrals = fields.List(fields.Nested(ReferralSchema))
