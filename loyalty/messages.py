"""Messages to members: the mails loyalty sends (welcome, points earned, birthday, points expiring,
monthly statement) and, for members with a phone, `message.requested` events that the brand's
own SMS or Zalo provider sends.

The loyalty core calls these inside its write transactions: a message exists if and only if its
change committed (lixi.mail queues the mail, lixi.outbox the event). The welcome goes to every new
member; the others only to members who subscribed (`Member.subscribed`, set by the brand), and
each mail carries the one-click unsubscribe link that ends them.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

from flask_babel import force_locale, format_date
from flask_babel import gettext as _

from lixi.extensions import db
from lixi.formatting import number
from lixi.mail import queue_member_mail
from lixi.models import Brand, Member
from lixi.outbox import publish
from lixi.timeutil import local_date
from loyalty.events import MESSAGE_REQUESTED

# Kinds of message (the mail's `kind`, the event's `kind`).
WELCOME = "welcome"
POINTS_EARNED = "points_earned"
BIRTHDAY = "birthday"
POINTS_EXPIRING = "points_expiring"
MONTHLY_STATEMENT = "monthly_statement"


def welcome(member: Member, page_url: str) -> None:
    """A new member's link to their page: to anyone with an email, subscribed or not."""
    brand = _brand(member)
    with force_locale(_locale(brand)):
        _send(
            member,
            WELCOME,
            subject=_("Welcome to %(brand)s", brand=brand.name),
            sms=_("Welcome to %(brand)s! Your points and rewards:", brand=brand.name),
            link=page_url,
            consent_required=False,
        )


def points_earned(member: Member, points: int, balance: int, page_url: str | None = None) -> None:
    brand = _brand(member)
    with force_locale(_locale(brand)):
        _send(
            member,
            POINTS_EARNED,
            subject=_("You earned %(points)s points", points=number(points)),
            sms=_(
                "%(brand)s: you earned %(points)s points; your balance is %(balance)s points.",
                brand=brand.name,
                points=number(points),
                balance=number(balance),
            ),
            link=page_url,
            points=points,
            balance=balance,
        )


def birthday(member: Member, reward_text: str | None, page_url: str | None = None) -> None:
    """The birthday greeting, naming the gift (`reward_text`, e.g. "200 points") when there is one."""
    brand = _brand(member)
    with force_locale(_locale(brand)):
        if reward_text:
            sms = _(
                "%(brand)s wishes you a happy birthday! Your gift: %(reward)s",
                brand=brand.name,
                reward=reward_text,
            )
        else:
            sms = _("%(brand)s wishes you a happy birthday!", brand=brand.name)
        _send(
            member,
            BIRTHDAY,
            subject=_("Happy birthday from %(brand)s", brand=brand.name),
            sms=sms,
            link=page_url,
            reward_text=reward_text,
        )


def points_expiring(member: Member, points: int, expires_at: datetime, page_url: str | None = None) -> None:
    """`expires_at` is the exclusive end (the first instant after the last day), as buckets store it."""
    brand = _brand(member)
    last_day = local_date(expires_at - timedelta(microseconds=1), brand.timezone)
    with force_locale(_locale(brand)):
        day = format_date(last_day, "medium")
        _send(
            member,
            POINTS_EXPIRING,
            subject=_("%(points)s points expire on %(day)s", points=number(points), day=day),
            sms=_(
                "%(brand)s: %(points)s of your points expire at the end of %(day)s.",
                brand=brand.name,
                points=number(points),
                day=day,
            ),
            link=page_url,
            points=points,
            day=day,
        )


def monthly_statement(member: Member, month: Any, summary_url: str, points: int | None = None) -> None:
    """The month's statement is ready: `month` is a date in it, "YYYY-MM", or an object with `first_day`."""
    brand = _brand(member)
    first_day = _first_day(month)
    with force_locale(_locale(brand)):
        # "tháng 2/2030" reads better than Babel's "tháng 2 2030"; "February 2030" in English.
        month_name = format_date(first_day, "'tháng' M/y" if _locale(brand) == "vi" else "MMMM y")
        _send(
            member,
            MONTHLY_STATEMENT,
            subject=_("Your points statement for %(month)s", month=month_name),
            sms=_("%(brand)s: your points statement for %(month)s:", brand=brand.name, month=month_name),
            link=summary_url,
            month_name=month_name,
            points=points,
        )


def _send(
    member: Member,
    kind: str,
    subject: str,
    sms: str,
    link: str | None,
    consent_required: bool = True,
    **context: Any,
) -> None:
    """The mail (if the member has an email) and the SMS/Zalo event (if a phone), under one consent rule."""
    if consent_required and not member.subscribed:
        return
    if member.email:
        queue_member_mail(
            member, kind, kind, subject, consent_required=consent_required, link=link, **context
        )
    if member.phone:
        payload = {
            "member_external_id": member.external_id,
            "phone": member.phone,
            "kind": kind,
            "text": sms,
            "link": link,
            "language": _locale(_brand(member)),
        }
        publish(member.brand_id, MESSAGE_REQUESTED, payload)


def _brand(member: Member) -> Brand:
    brand = db.session.get(Brand, member.brand_id)
    assert brand is not None  # a member's brand
    return brand


def _locale(brand: Brand) -> str:
    return brand.locale if brand.locale in ("vi", "en") else "vi"


def _first_day(month: Any) -> date:
    if isinstance(month, str):
        year, number_of_month = month.split("-")[:2]
        return date(int(year), int(number_of_month), 1)
    if isinstance(month, date):
        return month.replace(day=1)
    return month.first_day
