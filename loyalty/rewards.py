"""The rewards catalogue ("tích điểm đổi quà"): offers priced in points, and exchanges for them.

An exchange takes the stock, spends the points and issues the voucher in one transaction with
conditional UPDATEs (stock below its limit, balance at least the cost), or does none of it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from flask_babel import gettext as _
from sqlalchemy import func, or_, select, update

from lixi.audit import record_audit
from lixi.database import write_transaction
from lixi.errors import NotFound, invalid_field
from lixi.extensions import db
from lixi.formatting import number
from lixi.models import Member, scoped
from lixi.outbox import publish
from lixi.timeutil import utcnow
from loyalty import ledger, standing
from loyalty.account import current_tier
from loyalty.errors import LoyaltyConflict, LoyaltyErrorCode
from loyalty.events import EXCHANGE_MADE, REWARD_CREATED, REWARD_EXCHANGED, REWARD_UPDATED
from loyalty.models import EntryKind, Reward, RewardExchange
from loyalty.programme import Programme, get_programme
from vouchers.models import Voucher
from vouchers.offers import get_offer
from vouchers.service import insert_vouchers

VOUCHER_SOURCE = "points"


def create_reward(brand_id: int, data: dict[str, Any]) -> Reward:
    """A reward of one of the brand's offers (404 for another brand's offer), audited."""
    programme = get_programme(brand_id)
    offer = get_offer(brand_id, data["offer_id"])
    if offer.archived_at is not None:
        raise invalid_field("offer_id", "This offer is archived.")
    min_tier = data.get("min_tier")
    if min_tier is not None and programme.rank(min_tier) == 0:
        raise invalid_field("min_tier", "No such tier in the programme.")
    fields = ("name", "cost_points", "stock", "per_member_limit", "min_tier", "starts_at", "ends_at")
    with write_transaction():
        reward = Reward(brand_id=brand_id, offer_id=offer.id, **{name: data.get(name) for name in fields})
        db.session.add(reward)
        db.session.flush()
        record_audit(
            brand_id, REWARD_CREATED, "reward", reward.id, {"name": reward.name, "offer_id": offer.id}
        )
    return reward


def get_reward(brand_id: int, reward_id: int) -> Reward:
    reward = db.session.execute(scoped(Reward, brand_id).where(Reward.id == reward_id)).scalar()
    if reward is None:
        raise NotFound("No such reward.")
    return reward


def set_reward_active(brand_id: int, reward_id: int, active: bool) -> Reward:
    """Take a reward off the catalogue (or put it back), audited."""
    reward = get_reward(brand_id, reward_id)
    with write_transaction():
        reward.active = active
        record_audit(brand_id, REWARD_UPDATED, "reward", reward.id, {"active": active})
    return reward


def list_rewards(brand_id: int) -> list[Reward]:
    return list(
        db.session.execute(scoped(Reward, brand_id).order_by(Reward.cost_points, Reward.id)).scalars()
    )


@dataclass(frozen=True)
class RewardOption:
    """A reward as one member sees it: may they take it now, and if not, why."""

    reward: Reward
    available: bool | None = None  # None: no member asked about
    reason_code: str | None = None
    reason: str | None = None
    points_short: int | None = None

    @property
    def stock_left(self) -> int | None:
        return None if self.reward.stock is None else max(0, self.reward.stock - self.reward.taken)


def _is_offered(reward: Reward, now: datetime) -> bool:
    return (
        reward.active
        and (reward.starts_at is None or reward.starts_at <= now)
        and (reward.ends_at is None or reward.ends_at > now)
    )


def _refusal(
    programme: Programme, reward: Reward, tier: str | None, points: int, taken_by_member: int, now: datetime
) -> tuple[LoyaltyErrorCode, dict[str, Any]] | None:
    """Why this member may not take the reward now (None: they may), in the order a member would
    want to hear it: not offered, tier, limit, stock, points."""
    if not _is_offered(reward, now):
        return LoyaltyErrorCode.NOT_ACTIVE, {}
    if reward.min_tier is not None and programme.rank(tier) < programme.rank(reward.min_tier):
        return LoyaltyErrorCode.TIER_REQUIRED, {"min_tier": reward.min_tier, "tier": tier}
    if reward.per_member_limit is not None and taken_by_member >= reward.per_member_limit:
        return LoyaltyErrorCode.LIMIT_REACHED, {"per_member_limit": reward.per_member_limit}
    if reward.stock is not None and reward.taken >= reward.stock:
        return LoyaltyErrorCode.OUT_OF_STOCK, {}
    if points < reward.cost_points:
        return LoyaltyErrorCode.INSUFFICIENT_POINTS, {"points": max(points, 0), "needed": reward.cost_points}
    return None


def _in_words(code: LoyaltyErrorCode, details: dict[str, Any]) -> str:
    if code == LoyaltyErrorCode.INSUFFICIENT_POINTS:
        return _("%(points)s more points needed", points=number(details["needed"] - details["points"]))
    if code == LoyaltyErrorCode.TIER_REQUIRED:
        return _("For %(tier)s members and above", tier=details["min_tier"])
    if code == LoyaltyErrorCode.LIMIT_REACHED:
        return _("You have taken this reward as often as allowed")
    if code == LoyaltyErrorCode.OUT_OF_STOCK:
        return _("Out of stock")
    return _("Not offered now")


def _taken_by(member_id: int) -> dict[int, int]:
    rows = db.session.execute(
        select(RewardExchange.reward_id, func.count())
        .where(RewardExchange.member_id == member_id)
        .group_by(RewardExchange.reward_id)
    ).all()
    return {reward_id: count for reward_id, count in rows}


def catalogue(
    brand_id: int, member: Member | None = None, *, offered_only: bool = True
) -> list[RewardOption]:
    """The rewards on offer now (all of them with `offered_only=False`), each with whether
    `member` may take it and why not."""
    now = utcnow()
    rewards = [r for r in list_rewards(brand_id) if not offered_only or _is_offered(r, now)]
    if member is None:
        return [RewardOption(reward) for reward in rewards]
    programme = get_programme(brand_id)
    account = standing.settled_account(programme, member)
    tier = current_tier(programme, member)
    taken = _taken_by(member.id)
    options = []
    for reward in rewards:
        refusal = _refusal(programme, reward, tier, account.points, taken.get(reward.id, 0), now)
        if refusal is None:
            options.append(RewardOption(reward, True))
            continue
        code, details = refusal
        short = (
            details["needed"] - details["points"] if code == LoyaltyErrorCode.INSUFFICIENT_POINTS else None
        )
        options.append(RewardOption(reward, False, code, _in_words(code, details), short))
    return options


@dataclass(frozen=True)
class Exchange:
    voucher: Voucher
    points_spent: int
    points: int  # the balance after


def exchange(brand_id: int, reward_id: int, member: Member) -> Exchange:
    """Spend the member's points on the reward: stock, points and voucher in one transaction."""
    programme = get_programme(brand_id)
    reward = get_reward(brand_id, reward_id)
    offer = get_offer(brand_id, reward.offer_id)
    with write_transaction():
        account = ledger.lock_account(programme, member)  # one exchange of this member at a time
        db.session.refresh(reward)
        taken = db.session.execute(
            select(func.count()).where(
                RewardExchange.reward_id == reward.id, RewardExchange.member_id == member.id
            )
        ).scalar_one()
        refusal = _refusal(programme, reward, account.tier, account.row.points, taken, account.now)
        if refusal is not None and refusal[0] != LoyaltyErrorCode.OUT_OF_STOCK:
            raise LoyaltyConflict(*refusal)
        # The stock is shared by all members: only the conditional UPDATE decides who gets the last one.
        took_stock = db.session.execute(
            update(Reward)
            .where(Reward.id == reward.id, or_(Reward.stock.is_(None), Reward.taken < Reward.stock))
            .values(taken=Reward.taken + 1)
            .execution_options(synchronize_session=False)
        ).rowcount
        if not took_stock:
            raise LoyaltyConflict(LoyaltyErrorCode.OUT_OF_STOCK)
        entry = ledger.debit(account, EntryKind.SPEND, reward.cost_points, reason=reward.name)
        voucher = insert_vouchers(account.brand, offer, 1, member.id, VOUCHER_SOURCE)[0]
        db.session.add(
            RewardExchange(
                brand_id=brand_id,
                reward_id=reward.id,
                member_id=member.id,
                voucher_id=voucher.id,
                entry_id=entry.id,
                points=reward.cost_points,
                created_at=account.now,
            )
        )
        payload = {
            "reward_id": reward.id,
            "member_external_id": member.external_id,
            "points_spent": reward.cost_points,
            "balance": account.row.points,
            "voucher_code": voucher.code,
        }
        record_audit(brand_id, EXCHANGE_MADE, "reward", reward.id, payload)
        publish(brand_id, REWARD_EXCHANGED, payload)
    return Exchange(voucher, reward.cost_points, account.row.points)
