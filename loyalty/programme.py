"""The brand's loyalty programme: its rules, read once per change into plain objects."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import ROUND_FLOOR, Decimal
from typing import Any

from lixi.audit import record_audit
from lixi.database import write_transaction
from lixi.errors import NotFound
from lixi.extensions import db
from lixi.timeutil import utcnow
from loyalty.events import PROGRAMME_SAVED
from loyalty.models import LoyaltyProgramme
from loyalty.schemas import ProgrammeSchema
from vouchers.offers import get_offer


@dataclass(frozen=True)
class EarnRule:
    key: str  # names the rule in a bucket's source, so an event earns once per rule
    event: str
    points: int | None
    per_amount: int | None
    per_points: int | None
    min_amount: int | None
    max_amount: int | None

    def base_points(self, amount: int | None) -> int:
        """What the rule gives an event of this amount before the tier multiplier (0: not met)."""
        if (self.min_amount is not None or self.max_amount is not None or self.per_amount) and amount is None:
            return 0
        if self.min_amount is not None and amount < self.min_amount:  # type: ignore[operator]
            return 0
        if self.max_amount is not None and amount > self.max_amount:  # type: ignore[operator]
            return 0
        if self.points is not None:
            return self.points
        assert self.per_amount and self.per_points and amount is not None
        return amount // self.per_amount * self.per_points


@dataclass(frozen=True)
class Tier:
    name: str
    min_points: int


@dataclass(frozen=True)
class Programme:
    brand_id: int
    name: str
    earn: list[EarnRule]
    pending_days: int
    expire_days: int | None
    point_value: int | None
    tiers: list[Tier]  # ascending by min_points
    tier_window_days: int
    tier_grace_days: int
    tier_multipliers: dict[str, Decimal]
    referral: dict[str, Any] | None
    birthday: dict[str, Any] | None
    expiring_notice_days: int
    member_goal: int | None
    member_goal_date: date | None
    updated_at: datetime
    settings: dict[str, Any] = field(repr=False)  # as stored, for the API's answer

    def tier_for(self, window_points: int) -> str | None:
        """The highest tier the points reach (None below the first)."""
        reached = [tier.name for tier in self.tiers if tier.min_points <= window_points]
        return reached[-1] if reached else None

    def rank(self, tier_name: str | None) -> int:
        """0 below every tier, then 1, 2… by threshold."""
        names = [tier.name for tier in self.tiers]
        return names.index(tier_name) + 1 if tier_name in names else 0

    def next_tier(self, tier_name: str | None) -> Tier | None:
        rank = self.rank(tier_name)
        return self.tiers[rank] if rank < len(self.tiers) else None

    def multiplier(self, tier_name: str | None) -> Decimal:
        return self.tier_multipliers.get(tier_name or "", Decimal(1))

    def earnings(self, event_type: str, amount: int | None, tier_name: str | None) -> list[tuple[str, int]]:
        """(rule key, points) of every rule this event meets, the tier multiplier applied (rounded down)."""
        multiplier = self.multiplier(tier_name)
        found = []
        for rule in self.earn:
            if rule.event != event_type:
                continue
            points = int((rule.base_points(amount) * multiplier).to_integral_value(ROUND_FLOOR))
            if points > 0:
                found.append((rule.key, points))
        return found


def points_for(programme: Programme, event_type: str, amount: int | None, tier_name: str | None) -> int:
    """What one event earns under every rule (the dashboard's preview uses it)."""
    return sum(points for _key, points in programme.earnings(event_type, amount, tier_name))


def _programme(row: LoyaltyProgramme) -> Programme:
    brand_id, settings = row.brand_id, row.settings
    tiers = sorted(
        (Tier(t["name"], t["min_points"]) for t in settings.get("tiers") or []), key=lambda t: t.min_points
    )
    goal_date = settings.get("member_goal_date")
    return Programme(
        brand_id=brand_id,
        name=settings["name"],
        earn=[
            EarnRule(
                key=f"r{index}",
                event=rule["event"],
                points=rule.get("points"),
                per_amount=(rule.get("points_per") or {}).get("amount"),
                per_points=(rule.get("points_per") or {}).get("points"),
                min_amount=rule.get("min_amount"),
                max_amount=rule.get("max_amount"),
            )
            for index, rule in enumerate(settings.get("earn") or [])
        ],
        pending_days=settings.get("pending_days") or 0,
        expire_days=settings.get("expire_days"),
        point_value=settings.get("point_value"),
        tiers=tiers,
        tier_window_days=settings.get("tier_window_days") or 365,
        tier_grace_days=settings.get("tier_grace_days") or 0,
        tier_multipliers={
            name: Decimal(str(value)) for name, value in (settings.get("tier_multipliers") or {}).items()
        },
        referral=settings.get("referral"),
        birthday=settings.get("birthday"),
        expiring_notice_days=settings.get("expiring_notice_days") or 7,
        member_goal=settings.get("member_goal"),
        member_goal_date=date.fromisoformat(goal_date) if goal_date else None,
        updated_at=row.updated_at,
        settings=settings,
    )


def find_programme(brand_id: int) -> Programme | None:
    row = db.session.get(LoyaltyProgramme, brand_id)
    return None if row is None else _programme(row)


def get_programme(brand_id: int) -> Programme:
    programme = find_programme(brand_id)
    if programme is None:
        raise NotFound("This brand has no loyalty programme yet (PUT /api/v1/loyalty).")
    return programme


def _check_offers(brand_id: int, settings: dict[str, Any]) -> None:
    """The offers a referral or birthday gives must be the brand's (404 otherwise, as for any id)."""
    for section in ("referral", "birthday"):
        for name, offer_id in (settings.get(section) or {}).items():
            if name.endswith("offer_id") and offer_id is not None:
                get_offer(brand_id, offer_id)


def save_programme(brand_id: int, settings: dict[str, Any]) -> Programme:
    """Create or replace the programme with settings as ProgrammeSchema loaded them (audited)."""
    _check_offers(brand_id, settings)
    stored = ProgrammeSchema().dump(settings)  # JSON-safe (dates as ISO text)
    with write_transaction():
        row = db.session.get(LoyaltyProgramme, brand_id)
        if row is None:
            row = LoyaltyProgramme(brand_id=brand_id, settings=stored)
            db.session.add(row)
        else:
            row.settings = stored
            row.updated_at = utcnow()
        record_audit(brand_id, PROGRAMME_SAVED, "loyalty_programme", brand_id, {"name": stored["name"]})
    return _programme(row)
