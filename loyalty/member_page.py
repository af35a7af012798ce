"""What the member's own page (/me) shows, gathered in one place: points, tier, history in words,
rewards, vouchers, games with plays left, referrals and the member card."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from flask_babel import gettext as _
from sqlalchemy import or_, select

from games.models import Campaign, CampaignStatus, MemberEvent, MemberPlays
from games.wallet import member_vouchers
from lixi.extensions import db
from lixi.formatting import local_datetime, money, number
from lixi.member_links import member_token
from lixi.models import Brand, Member
from lixi.timeutil import utcnow
from loyalty import referrals, rewards, standing
from loyalty.links import member_card_token
from loyalty.models import EntryKind, LoyaltyAccount, PointsEntry, Referral
from loyalty.programme import Programme, find_programme
from vouchers.models import Voucher

HISTORY_SHOWN = 20  # the newest entries on the page; the brand's app or the dashboard has the rest


@dataclass(frozen=True)
class HistoryLine:
    """One ledger entry as the member reads it: "+50 points — purchase 500,000 ₫"."""

    entry: PointsEntry
    points: str  # signed, in the member's digits, with the word ("+50 points", "−300 points")
    words: str
    when: datetime

    @property
    def gain(self) -> bool:
        return self.entry.points > 0


@dataclass(frozen=True)
class OpenGame:
    campaign: Campaign
    plays_left: int
    token: str  # a fresh link made for this campaign (the game page opens only its own)


@dataclass(frozen=True)
class MemberPage:
    brand: Brand
    member: Member
    programme: Programme | None
    loyalty: standing.MemberLoyalty | None
    history: list[HistoryLine]
    rewards: list[rewards.RewardOption]
    vouchers: list[Voucher]
    games: list[OpenGame]
    referrals: list[tuple[Referral, Member | None]]
    share_url: str | None
    card_token: str  # the member card's signed token (its QR is /m/<token>/qr.svg)


def signed_points(points: int, pending: bool = False) -> str:
    """'+1.200 điểm', '−300 điểm' (a true minus sign), '+50 điểm chờ' for pending points."""
    sign = "+" if points > 0 else "−"
    amount = number(abs(points))
    if pending:
        return _("%(sign)s%(points)s pending points", sign=sign, points=amount)
    return _("%(sign)s%(points)s points", sign=sign, points=amount)


def _event_words(event_type: str | None, amount: int | None, currency: str) -> str:
    words = {
        "purchase": _("purchase"),
        "survey_completed": _("survey"),
        "social_share": _("share"),
        "referral": _("referral"),
        "signup": _("sign-up"),
        "birthday": _("birthday"),
    }.get(event_type or "", _("activity"))
    return f"{words} {money(amount, currency)}" if amount is not None else words


def _entry_words(entry: PointsEntry, events: dict[str, MemberEvent], brand: Brand) -> str:
    """What happened, in the member's words and language."""
    event = events.get(entry.event_external_id or "")
    about = _event_words(
        event.type if event else entry.reason, event.amount if event else None, brand.currency
    )
    kind = entry.kind
    if kind == EntryKind.EARN and entry.reason == "available":
        return _("now usable (%(what)s)", what=about)
    if kind == EntryKind.EARN:
        return about
    if kind == EntryKind.PENDING and entry.points > 0:
        usable = local_datetime(entry.available_at, brand.timezone)
        return _("%(what)s, usable from %(day)s", what=about, day=usable)
    if kind in (EntryKind.PENDING, EntryKind.CLAWBACK):
        return _("refund of a purchase")
    if kind == EntryKind.SPEND:
        return _("exchanged for %(reward)s", reward=entry.reason or _("a reward"))
    if kind == EntryKind.EXPIRE:
        return _("expired")
    if kind == EntryKind.REFERRAL:
        return _("referral reward")
    if kind == EntryKind.BIRTHDAY:
        return _("birthday gift")
    return _("adjusted by %(brand)s: %(reason)s", brand=brand.name, reason=entry.reason or "")


def history_lines(brand: Brand, member_id: int, limit: int = HISTORY_SHOWN) -> list[HistoryLine]:
    entries, _next = standing.history(brand.id, member_id, limit=limit)
    external_ids = {e.event_external_id for e in entries if e.event_external_id}
    events = {
        event.external_id: event
        for event in db.session.execute(
            select(MemberEvent).where(
                MemberEvent.brand_id == brand.id, MemberEvent.external_id.in_(external_ids)
            )
        ).scalars()
    }
    return [
        HistoryLine(
            entry,
            signed_points(entry.points, pending=entry.kind == EntryKind.PENDING),
            _entry_words(entry, events, brand),
            entry.created_at,
        )
        for entry in entries
    ]


def open_games(brand_id: int, member_id: int) -> list[OpenGame]:
    """The brand's running campaigns in which the member has plays left, each with a fresh link."""
    now = utcnow()
    rows = db.session.execute(
        select(Campaign, MemberPlays.granted - MemberPlays.used)
        .join(MemberPlays, MemberPlays.campaign_id == Campaign.id)
        .where(
            Campaign.brand_id == brand_id,
            Campaign.status == CampaignStatus.ACTIVE,
            or_(Campaign.starts_at.is_(None), Campaign.starts_at <= now),
            or_(Campaign.ends_at.is_(None), Campaign.ends_at > now),
            or_(Campaign.draw_at.is_(None), Campaign.draw_at > now),
            MemberPlays.member_id == member_id,
            MemberPlays.granted > MemberPlays.used,
        )
        .order_by(Campaign.id)
    ).all()
    return [
        OpenGame(campaign, left, member_token(brand_id, member_id, campaign.id)) for campaign, left in rows
    ]


def member_page(brand: Brand, member: Member) -> MemberPage:
    """Everything /me shows; without a programme, the vouchers, games and card alone."""
    programme = find_programme(brand.id)
    loyalty = standing.member_loyalty(brand.id, member) if programme else None
    referred = []
    if programme is not None:
        referred = [
            (r, db.session.get(Member, r.referee_id)) for r in referrals.referrals_of(brand.id, member.id)
        ]
    return MemberPage(
        brand=brand,
        member=member,
        programme=programme,
        loyalty=loyalty,
        history=history_lines(brand, member.id) if programme else [],
        rewards=rewards.catalogue(brand.id, member) if programme else [],
        vouchers=member_vouchers(brand.id, member.id),
        games=open_games(brand.id, member.id),
        referrals=referred,
        share_url=referrals.share_url(brand, member) if programme else None,
        card_token=member_card_token(member),
    )


@dataclass(frozen=True)
class Invitation:
    """What a shared referral link (/r/<code>) shows: the brand, who invites, their code and reward."""

    brand: Brand
    referrer: Member
    code: str
    referral: dict


def invitation(code: str) -> Invitation | None:
    """The invitation behind a referral code; None for no such code, or (codes are unique per
    brand only) a code two brands share, since the link does not say which."""
    accounts = list(
        db.session.execute(
            select(LoyaltyAccount).where(LoyaltyAccount.referral_code == code.strip().upper()[:16]).limit(2)
        ).scalars()
    )
    if len(accounts) != 1:
        return None
    account = accounts[0]
    programme = find_programme(account.brand_id)
    referrer = db.session.get(Member, account.member_id)
    brand = db.session.get(Brand, account.brand_id)
    if programme is None or referrer is None or brand is None:
        return None
    return Invitation(brand, referrer, account.referral_code, programme.referral or {})
