"""The daily job (`flask loyalty-daily`, and the worker's sweep every LOYALTY_SWEEP_SECONDS):
pending points that came due, expiry, expiring-soon notices, the tier review and birthdays.

Every step is safe to run again (each change is keyed once), so the worker runs it hourly and a
missed day is caught up. Each member's change is its own transaction: one failure stops nobody else.
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import date, timedelta

from flask_babel import force_locale
from flask_babel import gettext as _
from sqlalchemy import and_, extract, or_, select, update
from sqlalchemy.exc import IntegrityError

from lixi.audit import acting_as, record_audit
from lixi.database import write_transaction
from lixi.extensions import db
from lixi.formatting import number
from lixi.models import Brand, Member
from lixi.outbox import publish
from lixi.timeutil import end_of_local_day, local_date, utcnow
from loyalty import ledger, messages, tiers
from loyalty.events import MEMBER_BIRTHDAY, POINTS_CHANGED, POINTS_EXPIRING
from loyalty.models import (
    BirthdayGrant,
    EntryKind,
    LoyaltyAccount,
    LoyaltyProgramme,
    PointsBucket,
    StatementSent,
)
from loyalty.programme import Programme, find_programme
from loyalty.urls import member_page_url
from vouchers.offers import get_offer
from vouchers.service import insert_vouchers


@dataclass
class DailyReport:
    settled: int = 0
    expiring_notices: int = 0
    tiers_reviewed: int = 0
    birthdays: int = 0
    statements: int = 0


def run_daily() -> DailyReport:
    """Run every step for every brand with a programme."""
    report = DailyReport()
    with acting_as("system:loyalty-daily"):
        for brand_id in db.session.execute(select(LoyaltyProgramme.brand_id)).scalars().all():
            programme = find_programme(brand_id)
            assert programme is not None
            _settle_due(programme, report)
            _notify_expiring(programme, report)
            _review_tiers(programme, report)
            _birthdays(programme, report)
            _monthly_statements(programme, report)
    return report


def _members(ids: list[int]) -> list[Member]:
    return list(db.session.execute(select(Member).where(Member.id.in_(ids))).scalars()) if ids else []


def _settle_due(programme: Programme, report: DailyReport) -> None:
    now = utcnow()
    due = or_(
        and_(PointsBucket.released.is_(False), PointsBucket.available_at <= now),
        and_(
            PointsBucket.released.is_(True), PointsBucket.expired_at.is_(None), PointsBucket.expires_at <= now
        ),
    )
    ids = (
        db.session.execute(
            select(PointsBucket.member_id).where(PointsBucket.brand_id == programme.brand_id, due).distinct()
        )
        .scalars()
        .all()
    )
    for member in _members(list(ids)):
        with write_transaction():
            ledger.lock_account(programme, member)
        report.settled += 1


def _notify_expiring(programme: Programme, report: DailyReport) -> None:
    """points.expiring once per bucket, expiring_notice_days before its end."""
    now = utcnow()
    horizon = now + timedelta(days=programme.expiring_notice_days)
    buckets = db.session.execute(
        select(PointsBucket.id, PointsBucket.member_id).where(
            PointsBucket.brand_id == programme.brand_id,
            PointsBucket.released.is_(True),
            PointsBucket.expired_at.is_(None),
            PointsBucket.notified_at.is_(None),
            PointsBucket.remaining > 0,
            PointsBucket.expires_at <= horizon,
        )
    ).all()
    members = {member.id: member for member in _members(list({member_id for _, member_id in buckets}))}
    for bucket_id, member_id in buckets:
        with write_transaction():
            claimed = db.session.execute(
                update(PointsBucket)
                .where(PointsBucket.id == bucket_id, PointsBucket.notified_at.is_(None))
                .values(notified_at=now)
                .returning(PointsBucket.remaining, PointsBucket.expires_at)
            ).first()
            if claimed is None:
                continue
            points, expires_at = claimed
            member = members[member_id]
            publish(
                programme.brand_id,
                POINTS_EXPIRING,
                {
                    "member_external_id": member.external_id,
                    "points": points,
                    "expires_at": expires_at.isoformat(),
                },
            )
            messages.points_expiring(member, points, expires_at, member_page_url(member))
        report.expiring_notices += 1


def _review_tiers(programme: Programme, report: DailyReport) -> None:
    """Down only here, after the grace: members above the tier that 0 points reach."""
    above_base = [tier.name for tier in programme.tiers if tier.min_points > 0]
    if not above_base:
        return
    members = (
        db.session.execute(
            select(Member).where(Member.brand_id == programme.brand_id, Member.tier.in_(above_base))
        )
        .scalars()
        .all()
    )
    for member in members:
        with write_transaction():
            account = ledger.lock_account(programme, member)
            tiers.review_tier(account, downgrade=True)
        report.tiers_reviewed += 1


def birthday_today(birthday: date, today: date) -> bool:
    """29 February is celebrated on 28 February in other years."""
    if (birthday.month, birthday.day) == (today.month, today.day):
        return True
    return (
        (birthday.month, birthday.day) == (2, 29)
        and (today.month, today.day) == (2, 28)
        and not calendar.isleap(today.year)
    )


def _birthdays(programme: Programme, report: DailyReport) -> None:
    settings = programme.birthday or {}
    if not settings.get("points") and not settings.get("offer_id"):
        return
    brand = db.session.get(Brand, programme.brand_id)
    assert brand is not None
    today = local_date(utcnow(), brand.timezone)
    days = [(today.month, today.day)]
    if (today.month, today.day) == (2, 28) and not calendar.isleap(today.year):
        days.append((2, 29))
    members = (
        db.session.execute(
            select(Member).where(
                Member.brand_id == brand.id,
                Member.birthday.is_not(None),
                or_(
                    *(
                        and_(extract("month", Member.birthday) == m, extract("day", Member.birthday) == d)
                        for m, d in days
                    )
                ),
            )
        )
        .scalars()
        .all()
    )
    for member in members:
        try:
            if _grant_birthday(programme, brand, member, today.year):
                report.birthdays += 1
        except IntegrityError:  # granted by a concurrent run: once is all
            db.session.rollback()


def _reward_in_words(brand: Brand, points: int | None, voucher_code: str | None) -> str:
    with force_locale(brand.locale):
        parts = [_("%(points)s points", points=number(points))] if points else []
        if voucher_code:
            parts.append(_("a voucher (code %(code)s)", code=voucher_code))
        return _(" and ").join(parts)


def _grant_birthday(programme: Programme, brand: Brand, member: Member, year: int) -> bool:
    settings = programme.birthday or {}
    with write_transaction():
        if db.session.execute(
            select(BirthdayGrant.id).where(BirthdayGrant.member_id == member.id, BirthdayGrant.year == year)
        ).first():
            return False
        db.session.add(BirthdayGrant(brand_id=brand.id, member_id=member.id, year=year))
        db.session.flush()  # the unique (member, year) decides, whatever races
        account = ledger.lock_account(programme, member)
        points = settings.get("points")
        if points:
            ledger.credit(
                account, EntryKind.BIRTHDAY, points, f"birthday:{member.id}:{year}", reason="birthday"
            )
        voucher_code = None
        if settings.get("offer_id"):
            offer = get_offer(brand.id, settings["offer_id"])
            voucher_code = insert_vouchers(brand, offer, 1, member.id, "birthday")[0].code
        payload = {
            "member_external_id": member.external_id,
            "name": member.name,
            "year": year,
            "points": points,
            "offer_id": settings.get("offer_id"),
            "voucher_code": voucher_code,
            "balance": account.row.points,
        }
        record_audit(brand.id, POINTS_CHANGED, "member", member.external_id, {"birthday": payload})
        publish(brand.id, MEMBER_BIRTHDAY, payload)
        messages.birthday(member, _reward_in_words(brand, points, voucher_code), member_page_url(member))
    return True


def _monthly_statements(programme: Programme, report: DailyReport) -> None:
    """Last month's statement message, once per member who had an account before this month began
    (sent on the 1st, or on the first run after it)."""
    brand = db.session.get(Brand, programme.brand_id)
    assert brand is not None
    first_of_month = local_date(utcnow(), brand.timezone).replace(day=1)
    last_month = (first_of_month - timedelta(days=1)).strftime("%Y-%m")
    sent = select(StatementSent.member_id).where(
        StatementSent.brand_id == brand.id, StatementSent.month == last_month
    )
    members = (
        db.session.execute(
            select(Member)
            .join(LoyaltyAccount, LoyaltyAccount.member_id == Member.id)
            .where(
                LoyaltyAccount.brand_id == brand.id,
                LoyaltyAccount.created_at
                < end_of_local_day(first_of_month - timedelta(days=1), brand.timezone),
                Member.id.not_in(sent),
            )
        )
        .scalars()
        .all()
    )
    for member in members:
        try:
            with write_transaction():
                db.session.add(StatementSent(brand_id=brand.id, member_id=member.id, month=last_month))
                db.session.flush()  # the unique (member, month) decides, whatever races
                account = db.session.get(LoyaltyAccount, member.id)
                assert account is not None
                messages.monthly_statement(member, last_month, member_page_url(member) or "", account.points)
            report.statements += 1
        except IntegrityError:
            db.session.rollback()
