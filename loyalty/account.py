"""A member's loyalty account as a change sees it: the locked row, the programme, the member, the
brand and the time of the change; the tier a member stands at; the account created on first need."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime

from lixi.database import insert_ignoring_duplicates
from lixi.extensions import db
from lixi.models import Brand, Member
from lixi.timeutil import utcnow
from loyalty.models import EntryKind, LoyaltyAccount
from loyalty.programme import Programme

# Kinds of bucket whose points count towards a tier (a manual adjustment does not).
TIER_KINDS = (EntryKind.EARN, EntryKind.REFERRAL, EntryKind.BIRTHDAY)
# Referral codes: the voucher codes' alphabet (no 0/O, 1/I/L), 8 characters (40 bits).
CODE_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"


def new_referral_code() -> str:
    return "".join(secrets.choice(CODE_ALPHABET) for _ in range(8))


@dataclass
class Account:
    """The locked account of one member, with what a change needs at hand."""

    programme: Programme
    member: Member
    brand: Brand
    row: LoyaltyAccount
    now: datetime

    @property
    def tier(self) -> str | None:
        return current_tier(self.programme, self.member)


def current_tier(programme: Programme, member: Member) -> str | None:
    """The member's tier; a member never reviewed yet stands at the tier 0 points reach."""
    names = {tier.name for tier in programme.tiers}
    return member.tier if member.tier in names else programme.tier_for(0)


def ensure_account(brand_id: int, member_id: int) -> None:
    """Create the member's account if it does not exist (inside the caller's transaction)."""
    for _attempt in range(5):
        if db.session.get(LoyaltyAccount, member_id) is not None:
            return
        insert_ignoring_duplicates(
            LoyaltyAccount,
            {
                "member_id": member_id,
                "brand_id": brand_id,
                "points": 0,
                "pending_points": 0,
                "referral_code": new_referral_code(),
                "version": 0,
                "created_at": utcnow(),
            },
        )
    # Five 40-bit codes in a row taken: about never.
    if db.session.get(LoyaltyAccount, member_id) is None:
        raise RuntimeError("could not draw a unique referral code")
