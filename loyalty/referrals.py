"""Referrals: a new member joins with another member's code; both are rewarded once, on the
referee's first purchase."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select, update

from lixi.audit import record_audit
from lixi.errors import invalid_field
from lixi.extensions import db
from lixi.models import Brand, Member
from lixi.outbox import publish
from loyalty import ledger
from loyalty.account import Account, ensure_account
from loyalty.events import REFERRAL_JOINED, REFERRAL_REWARDED
from loyalty.models import EntryKind, LoyaltyAccount, Referral, ReferralState
from loyalty.programme import find_programme
from vouchers.offers import get_offer
from vouchers.schemas import base_url
from vouchers.service import insert_vouchers

FIELD = "referred_by"


def tie_referral(member: Member, created: bool, fields: dict[str, Any]) -> None:
    """A new member joining with a referrer's code: tie them (422 naming referred_by if refused)."""
    code = fields.get(FIELD)
    if not code:
        return
    programme = find_programme(member.brand_id)
    referrer_account = (
        db.session.execute(
            select(LoyaltyAccount).where(
                LoyaltyAccount.brand_id == member.brand_id,
                LoyaltyAccount.referral_code == str(code).strip().upper(),
            )
        ).scalar()
        if programme is not None
        else None
    )
    if referrer_account is None:
        raise invalid_field(FIELD, "No member has this referral code.")
    existing = db.session.execute(select(Referral).where(Referral.referee_id == member.id)).scalar()
    if existing is not None and existing.referrer_id == referrer_account.member_id:
        return  # the same referral posted again
    if not created or existing is not None:
        raise invalid_field(FIELD, "Only a new member can join with a referral code.")
    referrer = db.session.get(Member, referrer_account.member_id)
    assert referrer is not None
    if _same_person(referrer, member):
        raise invalid_field(FIELD, "A member cannot refer themselves.")
    # Lock the referrer's account: their referrals are counted one joiner at a time.
    ledger.lock_account(programme, referrer)  # type: ignore[arg-type]
    limit = (programme.referral or {}).get("max_per_referrer")  # type: ignore[union-attr]
    if limit is not None:
        count = db.session.execute(
            select(func.count()).select_from(Referral).where(Referral.referrer_id == referrer.id)
        ).scalar_one()
        if count >= limit:
            raise invalid_field(FIELD, "This referral code has been used as often as allowed.")
    ensure_account(member.brand_id, member.id)
    db.session.execute(
        update(LoyaltyAccount).where(LoyaltyAccount.member_id == member.id).values(referred_by_id=referrer.id)
    )
    db.session.add(Referral(brand_id=member.brand_id, referrer_id=referrer.id, referee_id=member.id))
    record_audit(
        member.brand_id,
        REFERRAL_JOINED,
        "member",
        member.external_id,
        {"referrer_external_id": referrer.external_id},
    )


def _same_person(referrer: Member, referee: Member) -> bool:
    if referrer.id == referee.id:
        return True
    same_phone = referrer.phone and referee.phone and _digits(referrer.phone) == _digits(referee.phone)
    same_email = (
        referrer.email and referee.email and referrer.email.strip().lower() == referee.email.strip().lower()
    )
    return bool(same_phone or same_email)


def _digits(phone: str) -> str:
    """The national number: +84 912… and 0912… are one phone."""
    digits = "".join(ch for ch in phone if ch.isdigit())
    if digits.startswith("84"):
        digits = digits[2:]
    return digits.lstrip("0")


def on_purchase(account: Account) -> list[dict]:
    """The referee's first purchase: mark the referral rewarded (once: a conditional UPDATE) and
    reward both sides as the programme says. Returns the referee's grants."""
    member, programme = account.member, account.programme
    now = account.now
    rewarded = db.session.execute(
        update(Referral)
        .where(Referral.referee_id == member.id, Referral.state == ReferralState.JOINED)
        .values(state=ReferralState.REWARDED, purchased_at=now, rewarded_at=now)
        .returning(Referral.id, Referral.referrer_id)
        .execution_options(synchronize_session=False)
    ).first()
    if rewarded is None:
        return []
    referral_id, referrer_id = rewarded
    settings = programme.referral or {}
    referrer = db.session.get(Member, referrer_id)
    assert referrer is not None
    grants = _reward(
        account, referral_id, "referee", settings.get("referee_points"), settings.get("referee_offer_id")
    )
    referrer_account = ledger.lock_account(programme, referrer)
    referrer_grants = _reward(
        referrer_account,
        referral_id,
        "referrer",
        settings.get("referrer_points"),
        settings.get("referrer_offer_id"),
    )
    payload = {
        "referral_id": referral_id,
        "referrer_external_id": referrer.external_id,
        "referee_external_id": member.external_id,
        "referrer": referrer_grants,
        "referee": grants,
    }
    record_audit(member.brand_id, REFERRAL_REWARDED, "referral", referral_id, payload)
    publish(member.brand_id, REFERRAL_REWARDED, payload)
    return [{**grant, "referral": referral_id} for grant in grants]


def _reward(
    account: Account, referral_id: int, side: str, points: int | None, offer_id: int | None
) -> list[dict]:
    grants: list[dict] = []
    if points:
        ledger.credit(
            account, EntryKind.REFERRAL, points, f"referral:{referral_id}:{side}", reason=f"referral ({side})"
        )
        grants.append({"points": points, "kind": EntryKind.REFERRAL})
    if offer_id:
        offer = get_offer(account.member.brand_id, offer_id)
        voucher = insert_vouchers(account.brand, offer, 1, account.member.id, "referral")[0]
        grants.append({"voucher": voucher.code, "offer_id": offer.id})
    return grants


def referrals_of(brand_id: int, member_id: int) -> list[Referral]:
    """The member's referrals as referrer, newest first (each with its referee)."""
    return list(
        db.session.execute(
            select(Referral)
            .where(Referral.brand_id == brand_id, Referral.referrer_id == member_id)
            .order_by(Referral.id.desc())
        ).scalars()
    )


def share_url(brand: Brand, member: Member) -> str:
    """The link a member shares: the brand's sign-up page with ?ref=, or Lixi's own landing page."""
    account = db.session.get(LoyaltyAccount, member.id)
    assert account is not None, "settle the account first (standing.member_loyalty)"
    programme = find_programme(brand.id)
    join_url = ((programme.referral if programme else None) or {}).get("join_url")
    if join_url:
        separator = "&" if "?" in join_url else "?"
        return f"{join_url}{separator}ref={account.referral_code}"
    return f"{base_url()}/r/{account.referral_code}"
