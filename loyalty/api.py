"""JSON API of the loyalty programme, members' points, the rewards catalogue and referrals (API.md)."""

from __future__ import annotations

from flask import g

from lixi.blueprints import api_blueprint
from lixi.extensions import db
from lixi.idempotency import idempotent
from lixi.members import get_member
from lixi.models import Brand
from lixi.schemas import ErrorSchema
from loyalty import ledger, programme, referrals, rewards, standing
from loyalty.schemas import (
    AdjustmentInSchema,
    EntrySchema,
    ExchangeInSchema,
    ExchangeOutSchema,
    LedgerQuerySchema,
    LedgerSchema,
    MemberLoyaltySchema,
    ProgrammeOutSchema,
    ProgrammeSchema,
    ReferralListSchema,
    RewardInSchema,
    RewardListSchema,
    RewardOutSchema,
    RewardQuerySchema,
)

blp = api_blueprint(
    "loyalty", __name__, "The points programme, members' points and ledger, rewards, referrals."
)

CONFLICTS = "insufficient_points, out_of_stock, limit_reached, tier_required, reward_not_active."


def _programme_out(saved: programme.Programme) -> dict:
    """The stored document (JSON already) with its one date as a date, for the output schema."""
    return {**saved.settings, "member_goal_date": saved.member_goal_date, "updated_at": saved.updated_at}


@blp.route("/loyalty", methods=["PUT"])
@blp.arguments(ProgrammeSchema)
@blp.response(200, ProgrammeOutSchema)
@blp.alt_response(422, schema=ErrorSchema, description="invalid_request: a rule, tier or offer is wrong.")
def put_programme(data: dict):
    """Create or replace the brand's loyalty programme.

    Earning rules per event type (fixed points, or points per amount within an amount band),
    tiers by points earned in the last `tier_window_days` with their multipliers, the pending
    days of purchases (the return window), the expiry of each earning (at the end of the local
    day, `expire_days` after it became available), the money value of a point, referral and
    birthday rewards. Changes apply to events from now on; points already earned keep their terms.
    """
    return _programme_out(programme.save_programme(g.brand_id, data))


@blp.route("/loyalty", methods=["GET"])
@blp.response(200, ProgrammeOutSchema)
@blp.alt_response(404, schema=ErrorSchema, description="not_found: no programme yet.")
def get_programme():
    """The brand's loyalty programme.

    The document the last PUT saved, with when it was saved.
    """
    return _programme_out(programme.get_programme(g.brand_id))


@blp.route("/members/<string:external_id>/loyalty", methods=["GET"])
@blp.response(200, MemberLoyaltySchema)
@blp.alt_response(404, schema=ErrorSchema, description="not_found: no such member, or no programme.")
def member_loyalty(external_id: str):
    """A member's points, tier and the way to the next tier.

    Available points, pending points (waiting out the return window), the tier by points earned
    in the window and the points still needed for the next one, the soonest expiries, and the
    member's referral code.
    """
    member = get_member(g.brand_id, external_id)
    return standing.member_loyalty(g.brand_id, member)


@blp.route("/members/<string:external_id>/ledger", methods=["GET"])
@blp.arguments(LedgerQuerySchema, location="query")
@blp.response(200, LedgerSchema)
@blp.alt_response(404, schema=ErrorSchema, description="not_found: no such member, or no programme.")
def member_ledger(query: dict, external_id: str):
    """A member's points ledger, newest first.

    Each entry: its kind (earn, pending, spend, expire, adjust, clawback, referral, birthday), the
    points (negative when taken), the balance after it, and the event or reason. Pass `next` as
    `after` for the following page.
    """
    member = get_member(g.brand_id, external_id)
    standing.settled_account(programme.get_programme(g.brand_id), member)
    entries, following = standing.history(g.brand_id, member.id, query["limit"], query.get("after"))
    return {"entries": entries, "next": following}


@blp.route("/members/<string:external_id>/points", methods=["POST"])
@idempotent
@blp.arguments(AdjustmentInSchema)
@blp.response(201, EntrySchema)
@blp.alt_response(404, schema=ErrorSchema, description="not_found: no such member, or no programme.")
@blp.alt_response(409, schema=ErrorSchema, description="insufficient_points: the balance cannot pay it.")
def adjust_points(data: dict, external_id: str):
    """Add or take away points by hand, with a reason (audited).

    A positive adjustment is a bucket like an earning (it expires by the programme's rule but
    does not count towards a tier); a negative one draws from the soonest-expiring points and is
    refused if the balance is short.
    """
    member = get_member(g.brand_id, external_id)
    return ledger.adjust(g.brand_id, member, data["points"], data["reason"])


@blp.route("/members/<string:external_id>/referrals", methods=["GET"])
@blp.response(200, ReferralListSchema)
@blp.alt_response(404, schema=ErrorSchema, description="not_found: no such member, or no programme.")
def member_referrals(external_id: str):
    """A member's referral code, share link and referrals.

    Each friend they referred, with its state: joined, then rewarded on the friend's first purchase.
    """
    member = get_member(g.brand_id, external_id)
    account = standing.settled_account(programme.get_programme(g.brand_id), member)
    brand = db.session.get(Brand, g.brand_id)
    return {
        "referral_code": account.referral_code,
        "share_url": referrals.share_url(brand, member),
        "referrals": referrals.referrals_of(g.brand_id, member.id),
    }


def _reward_out(option: rewards.RewardOption) -> dict:
    reward = option.reward
    return {
        **{name: getattr(reward, name) for name in RewardOutSchema.REWARD_FIELDS},
        "stock_left": option.stock_left,
        "available": option.available,
        "reason_code": option.reason_code,
        "reason": option.reason,
    }


@blp.route("/rewards", methods=["POST"])
@idempotent
@blp.arguments(RewardInSchema)
@blp.response(201, RewardOutSchema)
@blp.alt_response(404, schema=ErrorSchema, description="not_found: no such offer, or no programme.")
def create_reward(data: dict):
    """Put an offer in the rewards catalogue at a price in points.

    Optional: `stock` (how many may be taken in all), `per_member_limit`, `min_tier` (a tier of
    the programme), and an active window.
    """
    return _reward_out(rewards.RewardOption(rewards.create_reward(g.brand_id, data)))


@blp.route("/rewards", methods=["GET"])
@blp.arguments(RewardQuerySchema, location="query")
@blp.response(200, RewardListSchema)
@blp.alt_response(404, schema=ErrorSchema, description="not_found: no such member.")
def list_rewards(query: dict):
    """The rewards catalogue on offer now.

    With `member_external_id`, each reward says whether that member may take it now and, if not,
    why (`reason_code` and `reason` in words, such as "còn thiếu 1.200 điểm").
    """
    external_id = query.get("member_external_id")
    member = get_member(g.brand_id, external_id) if external_id else None
    return {"rewards": [_reward_out(option) for option in rewards.catalogue(g.brand_id, member)]}


@blp.route("/rewards/<int:reward_id>/exchanges", methods=["POST"])
@idempotent
@blp.arguments(ExchangeInSchema)
@blp.response(201, ExchangeOutSchema)
@blp.alt_response(404, schema=ErrorSchema, description="not_found: no such reward or member.")
@blp.alt_response(409, schema=ErrorSchema, description=CONFLICTS)
def exchange_reward(data: dict, reward_id: int):
    """Exchange a member's points for a reward.

    Spends the points (from those expiring soonest), takes one of the stock and issues the voucher
    in one transaction, or does none of it.
    """
    member = get_member(g.brand_id, data["member_external_id"])
    return rewards.exchange(g.brand_id, reward_id, member)
