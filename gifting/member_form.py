"""The member's "Tặng bạn" form read into a GiftRequest: which voucher may be given, the fields in
words, the date or lunar date, a lì xì split; refusals named by the form's own fields."""

from __future__ import annotations

from datetime import date, datetime, time
from zoneinfo import ZoneInfo

from flask import current_app, request
from flask_babel import gettext as _

from gifting import lunar
from gifting.models import Design, SplitMode
from gifting.schemas import MESSAGE_MAX, SPLIT_MAX
from gifting.service import FURTHEST_SCHEDULE, GiftRequest, LunarDay, schedule_time
from lixi.errors import InvalidRequest
from lixi.formatting import current_locale, money
from lixi.member_links import MemberLink
from lixi.timeutil import utcnow
from vouchers.models import OfferKind, Voucher, VoucherStatus

CLAIM_DAYS_DEFAULT = 30
SPLIT_MIN = 2  # envelopes of a lì xì, as the API allows (up to gifting.schemas.SPLIT_MAX)
LUNAR_TIME_DEFAULT = "08:00"  # a lì xì sent on Mùng 1 Tết arrives in the morning


def why_not_giftable(voucher: Voucher | None, member_id: int) -> str | None:
    """Why the member cannot give this voucher, in words (None: they can)."""
    if voucher is None or voucher.member_id != member_id:
        return _("This voucher is not in your wallet.")
    if voucher.held_by is not None:
        return _("You have already sent this voucher as a gift.")
    status = voucher.status_at(utcnow())
    if status == VoucherStatus.REDEEMED:
        return _("This voucher has already been used.")
    if status == VoucherStatus.VOIDED:
        return _("This voucher was cancelled.")
    if status == VoucherStatus.EXPIRED:
        return _("This voucher has expired.")
    if voucher.offer.kind == OfferKind.GIFT_CARD and voucher.balance != voucher.offer.value:
        return _("Part of this gift card has been spent: only a whole gift card can be given.")
    return None


def next_tet(today: date) -> int:
    """The lunar year of the next Mùng 1 Tết (the form's default lunar date)."""
    return today.year if lunar.solar_date(today.year, 1, 1) > today else today.year + 1


class FormRefused(Exception):
    def __init__(self, fields: dict[str, list[str]]) -> None:
        super().__init__("form refused")
        self.fields = fields


def _field(name: str) -> str:
    return (request.form.get(name) or "").strip()


def _whole(name: str, field: str | None = None) -> int | None:
    """A whole number typed in `name` (None when empty); refused beside `field` (default: itself)."""
    raw = _field(name)
    if not raw:
        return None
    if not raw.isdigit():
        raise FormRefused({field or name: [_("Enter a whole number.")]})
    return int(raw)


def _send_at(tz_name: str) -> datetime | None:
    """When to send, from the form: now (None), a local date and time, or a lunar date and time
    (the service's own reading of both, so the page schedules exactly as the API does)."""
    when = _field("when") or "now"
    field = "lunar" if when == "lunar" else "send_at"
    local, lunar_day = None, None
    if when == "date":
        try:
            local = datetime.fromisoformat(_field("send_at")).replace(tzinfo=None)
        except ValueError:
            raise FormRefused({"send_at": [_("Enter a date and time.")]}) from None
    elif when == "lunar":
        year, month, day = (_whole(name, "lunar") for name in ("lunar_year", "lunar_month", "lunar_day"))
        if year is None or month is None or day is None:
            raise FormRefused({"lunar": [_("Enter the lunar year, month and day.")]})
        leap = bool(request.form.get("lunar_leap"))
        try:
            at = time.fromisoformat(_field("lunar_time") or LUNAR_TIME_DEFAULT)
        except ValueError:
            raise FormRefused({"lunar": [_("Enter a time such as 08:00.")]}) from None
        try:
            solar = lunar.solar_date(year, month, day, leap)
        except ValueError:
            raise FormRefused({"lunar": [_("The lunar calendar has no such day.")]}) from None
        if datetime.combine(solar, at, tzinfo=ZoneInfo(tz_name)) <= utcnow():
            raise FormRefused({"lunar": [_("Choose a moment in the future.")]})
        lunar_day = LunarDay(year, month, day, leap, at)
    else:
        return None
    try:
        instant = schedule_time(tz_name, local, lunar_day, utcnow())
    except InvalidRequest:  # the one refusal left: too far ahead
        days = FURTHEST_SCHEDULE.days
        raise FormRefused(
            {field: [_("A gift can be scheduled up to %(days)s days ahead.", days=days)]}
        ) from None
    if instant is None:  # a moment already past: the service would send at once
        raise FormRefused({field: [_("Choose a moment in the future.")]})
    return instant


def _split(voucher: Voucher, currency: str) -> tuple[int | None, str]:
    """A gift card split into lì xì envelopes for a group: how many, and equal or random amounts."""
    if not request.form.get("split") or voucher.offer.kind != OfferKind.GIFT_CARD or voucher.balance is None:
        return None, SplitMode.EQUAL
    count = _whole("split_count", "split")
    if count is None or not SPLIT_MIN <= count <= SPLIT_MAX:
        raise FormRefused(
            {"split": [_("Between %(min)s and %(max)s envelopes.", min=SPLIT_MIN, max=SPLIT_MAX)]}
        )
    floor = current_app.config["GIFT_ENVELOPE_FLOOR"]
    if count * floor > voucher.balance:
        most = voucher.balance // floor
        floor_words = money(floor, currency)
        words = _(
            "Too many envelopes: each holds at least %(floor)s, so %(most)s at most.",
            floor=floor_words,
            most=most,
        )
        raise FormRefused({"split": [words]})
    mode = _field("split_mode")
    return count, mode if mode in set(SplitMode) else SplitMode.RANDOM


def gift_request_of_form(link: MemberLink, code: str, voucher: Voucher) -> GiftRequest:
    message = _field("message")
    if len(message) > MESSAGE_MAX:
        raise FormRefused({"message": [_("At most 500 characters.")]})
    email, phone = _field("recipient_email"), _field("recipient_phone")  # neither: a link to share
    design = _field("design") or Design.PLAIN
    if design not in set(Design):
        design = Design.PLAIN
    claim_days = _whole("claim_days")
    claim_days = CLAIM_DAYS_DEFAULT if claim_days is None else claim_days
    if not 1 <= claim_days <= 365:
        raise FormRefused({"claim_days": [_("Between 1 and 365 days.")]})
    language = _field("language") if _field("language") in ("vi", "en") else current_locale()
    split_count, split_mode = _split(voucher, link.brand.currency)
    return GiftRequest(
        offer_id=None,
        voucher_code=code,
        sender_member_external_id=link.member.external_id,
        sender_name=_field("sender_name") or link.member.name,
        recipient_name=_field("recipient_name") or None,
        recipient_email=email or None,
        recipient_phone=phone or None,
        language=language,
        message=message or None,
        design=design,
        send_at=_send_at(link.brand.timezone),
        claim_days=claim_days,
        split_count=split_count,
        split_total=voucher.balance if split_count else None,
        split_mode=split_mode,
    )


FORM_FIELDS = {
    "recipient_name",
    "recipient_email",
    "recipient_phone",
    "message",
    "send_at",
    "lunar",
    "claim_days",
    "split",
}
SERVICE_FIELDS = {
    "email": "recipient_email",
    "phone": "recipient_phone",
    "name": "recipient_name",
    "send_on_lunar": "lunar",
    "total": "split",
}


def field_errors(error: InvalidRequest) -> dict[str, list[str]]:
    """The service's refusal by field, named as the form names them (the rest is the form's)."""
    fields = (error.details or {}).get("fields") or {"form": [error.message]}
    out: dict[str, list[str]] = {}
    for name, messages in fields.items():
        last = str(name).split(".")[-1]
        key = SERVICE_FIELDS.get(last, last)
        listed = messages if isinstance(messages, list) else [messages]
        out.setdefault(key if key in FORM_FIELDS else "form", []).extend(str(m) for m in listed)
    return out
