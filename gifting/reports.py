"""Gifting's read side for the dashboard and the member's pages: the funnel (sent → opened →
claimed → used) with counts per status and the value that moved, the gift list with its search,
and a gift's deliveries and audit trail, each in a fixed number of queries."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import and_, case, exists, func, or_, select
from sqlalchemy.sql.elements import ColumnElement

from gifting.models import Gift, GiftEnvelope, GiftStatus
from lixi.extensions import db
from lixi.models import AuditEvent
from vouchers.codes import normalize_code
from vouchers.models import Redemption, Voucher, VoucherStatus

GIFTS_PER_PAGE = 50
TRAIL_SIZE = 200  # a gift's audit rows shown (a resend or a code is one row each: plenty)
FUNNEL_STEPS = ("sent", "opened", "claimed", "used")


@dataclass(frozen=True)
class FunnelStep:
    name: str  # one of FUNNEL_STEPS
    count: int
    rate: float | None  # this step's share of the one before it (None for the first, or after 0)


@dataclass(frozen=True)
class Funnel:
    """How far the brand's gifts got: each step counts the gifts that reached it (a gift that was
    claimed was also opened and sent), so a step is never above the one before."""

    sent: int
    opened: int
    claimed: int
    used: int  # claimed, and its voucher (or one of its envelopes' vouchers) redeemed at least once
    by_status: dict[str, int]  # every GiftStatus, 0 when none
    value_sent: int
    value_claimed: int  # a lì xì counts the envelopes claimed, not its whole total
    value_returned: int  # what went back to the sender (or left the liability) at expiry

    @property
    def total(self) -> int:
        return sum(self.by_status.values())

    @property
    def steps(self) -> list[FunnelStep]:
        counts = [self.sent, self.opened, self.claimed, self.used]
        steps = []
        for i, (name, count) in enumerate(zip(FUNNEL_STEPS, counts, strict=True)):
            before = counts[i - 1] if i else 0
            steps.append(FunnelStep(name, count, count / before if i and before else None))
        return steps


def _claimed() -> ColumnElement[bool]:
    """A gift someone claimed: a single gift's claim, or at least one envelope of a lì xì."""
    envelope_claimed = exists().where(GiftEnvelope.gift_id == Gift.id, GiftEnvelope.claimed_at.is_not(None))
    return or_(Gift.claimed_at.is_not(None), and_(Gift.split_count.is_not(None), envelope_claimed))


def _voucher_used(voucher_id: ColumnElement[int]) -> ColumnElement[bool]:
    """The voucher was redeemed at least once (a voided redemption does not count)."""
    redeemed = exists().where(Voucher.id == voucher_id, Voucher.status == VoucherStatus.REDEEMED)
    redemption = exists().where(Redemption.voucher_id == voucher_id, Redemption.voided_at.is_(None))
    return or_(redeemed, redemption)


def _used() -> ColumnElement[bool]:
    """Claimed and used: the single gift's voucher, or any envelope's, redeemed at least once."""
    single = and_(
        Gift.split_count.is_(None),
        Gift.claimed_at.is_not(None),
        _voucher_used(func.coalesce(Gift.claimed_voucher_id, Gift.voucher_id)),
    )
    envelope = exists().where(GiftEnvelope.gift_id == Gift.id, _voucher_used(GiftEnvelope.voucher_id))
    return or_(single, and_(Gift.split_count.is_not(None), envelope))


def _count_if(condition: ColumnElement[bool]) -> ColumnElement[int]:
    return func.coalesce(func.sum(case((condition, 1), else_=0)), 0)


def _sum_if(condition: ColumnElement[bool], amount: ColumnElement[int]) -> ColumnElement[int]:
    return func.coalesce(func.sum(case((condition, amount), else_=0)), 0)


def gift_funnel(brand_id: int, since: datetime | None = None) -> Funnel:
    """The brand's gifts made since `since` (all when None): the funnel, the count per status and
    the value sent, claimed and returned. Three GROUP BY queries, whatever the number of gifts."""
    where = [Gift.brand_id == brand_id]
    if since is not None:
        where.append(Gift.created_at >= since)
    single = Gift.split_count.is_(None)
    rows = db.session.execute(
        select(
            Gift.status,
            func.count(),
            _count_if(Gift.sent_at.is_not(None)),
            _count_if(or_(Gift.opened_at.is_not(None), _claimed())),  # a claim saw the gift
            _count_if(_claimed()),
            _count_if(_used()),
            _sum_if(Gift.sent_at.is_not(None), Gift.value),
            _sum_if(and_(single, Gift.claimed_at.is_not(None)), Gift.value),
            _sum_if(Gift.status == GiftStatus.RETURNED, Gift.value),
        )
        .where(*where)
        .group_by(Gift.status)
    ).all()
    by_status = {status.value: 0 for status in GiftStatus}
    sent = opened = claimed = used = value_sent = value_claimed = value_returned = 0
    for status, count, s, o, c, u, v_sent, v_claimed, v_returned in rows:
        by_status[status] = int(count)
        sent, opened, claimed, used = sent + int(s), opened + int(o), claimed + int(c), used + int(u)
        value_sent += int(v_sent)
        value_claimed += int(v_claimed)
        value_returned += int(v_returned)
    # A lì xì's claimed envelopes: claimed value, and not returned when what was left went back.
    envelopes = db.session.execute(
        select(Gift.status, func.coalesce(func.sum(GiftEnvelope.amount), 0))
        .join(Gift, Gift.id == GiftEnvelope.gift_id)
        .where(*where, GiftEnvelope.claimed_at.is_not(None))
        .group_by(Gift.status)
    ).all()
    for status, amount in envelopes:
        value_claimed += int(amount)
        if status == GiftStatus.RETURNED:
            value_returned -= int(amount)
    return Funnel(
        sent=sent,
        opened=opened,
        claimed=claimed,
        used=used,
        by_status=by_status,
        value_sent=value_sent,
        value_claimed=value_claimed,
        value_returned=value_returned,
    )


# --- the list --------------------------------------------------------------------------------


@dataclass(frozen=True)
class GiftPage:
    gifts: list[Gift]
    next_before: int | None  # the cursor of the next (older) page, None on the last


def _like(text: str) -> str:
    """`text` as a LIKE pattern matching itself anywhere (its own % and _ taken literally)."""
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def _phone_pattern(query: str) -> str | None:
    """A phone number as people type it ("0901 234 567", "+84 901…") as the digits stored in
    E.164 (+84901234567); None when the query is not a phone number's digits."""
    digits = "".join(ch for ch in query if ch.isdigit())
    if len(digits) < 3 or any(ch.isalpha() or ch == "@" for ch in query):
        return None
    if digits.startswith("0"):
        digits = "84" + digits[1:]
    return _like(digits)


def search_gifts(
    brand_id: int,
    status: str | None = None,
    query: str | None = None,
    before_id: int | None = None,
    limit: int = GIFTS_PER_PAGE,
) -> GiftPage:
    """The brand's gifts, newest first, `limit` a page (keyset: ids below `before_id`), of one
    status or all; `query` matches the recipient's name, email or phone (as typed, 0… or +84…)."""
    select_gifts = select(Gift).where(Gift.brand_id == brand_id)
    if status:
        select_gifts = select_gifts.where(Gift.status == status)
    query = (query or "").strip()
    if query:
        pattern = _like(query.lower())
        matches = [
            func.lower(Gift.recipient_name).like(pattern, escape="\\"),
            func.lower(Gift.recipient_email).like(pattern, escape="\\"),
            func.lower(Gift.sender_name).like(pattern, escape="\\"),
        ]
        phone = _phone_pattern(query)
        if phone:
            matches.append(Gift.recipient_phone.like(phone, escape="\\"))
        select_gifts = select_gifts.where(or_(*matches))
    if before_id:
        select_gifts = select_gifts.where(Gift.id < before_id)
    gifts = list(db.session.execute(select_gifts.order_by(Gift.id.desc()).limit(limit + 1)).scalars())
    more = len(gifts) > limit
    gifts = gifts[:limit]
    return GiftPage(gifts, gifts[-1].id if more and gifts else None)


def used_gifts(brand_id: int, gift_ids: list[int]) -> set[int]:
    """Which of these gifts were claimed and then used (the funnel's last step), in one query."""
    if not gift_ids:
        return set()
    query = select(Gift.id).where(Gift.brand_id == brand_id, Gift.id.in_(gift_ids), _used())
    return set(db.session.execute(query).scalars())


# --- one gift --------------------------------------------------------------------------------


def gift_trail(gift: Gift) -> list[AuditEvent]:
    """The gift's audit rows (made, sent, opened, resent, claimed, cancelled…), oldest first. None
    is older than the gift, so the brand's (brand_id, created_at) index bounds the scan."""
    return list(
        db.session.execute(
            select(AuditEvent)
            .where(
                AuditEvent.brand_id == gift.brand_id,
                AuditEvent.created_at >= gift.created_at,
                AuditEvent.subject_type == "gift",
                AuditEvent.subject_id == str(gift.id),
            )
            .order_by(AuditEvent.id)
            .limit(TRAIL_SIZE)
        ).scalars()
    )


def member_voucher(brand_id: int, code: str) -> Voucher | None:
    """The brand's voucher of this short code (as typed), whoever holds it; None when there is none."""
    canonical = normalize_code(code)
    if canonical is None:
        return None
    return db.session.execute(
        select(Voucher).where(Voucher.brand_id == brand_id, Voucher.code == canonical)
    ).scalar_one_or_none()
