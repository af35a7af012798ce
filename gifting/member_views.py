"""The member's gift pages: the gifts they sent and received (/me/gifts), "Tặng bạn" — give one of
their own vouchers to a friend (/me/gifts/new) — and a sent gift's claim link to share. No log-in:
a signed member link (lixi.member_links) opens them, as it opens the wallet."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import date, datetime, time
from typing import Any
from zoneinfo import ZoneInfo

from flask import (
    Blueprint,
    Flask,
    Response,
    abort,
    current_app,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_babel import refresh
from werkzeug.routing import BuildError

from gifting import lunar, reports
from gifting.errors import GiftError, GiftErrorCode
from gifting.links import claim_url
from gifting.models import CLAIMABLE_STATUSES, OPEN_STATUSES, Design, Gift, GiftStatus, SplitMode
from gifting.queries import get_gift, gifts_of_member
from gifting.service import FURTHEST_SCHEDULE, GiftRequest, LunarDay, cancel_gift, create_gift, schedule_time
from lixi.errors import DomainError, InvalidRequest, NotFound
from lixi.formatting import current_locale, money
from lixi.member_links import MemberLink, member_page_response, open_member_link, open_member_page
from lixi.plugins import add_voucher_action, plugged
from lixi.ratelimit import shared_limit_from
from lixi.timeutil import utcnow
from vouchers.models import OfferKind, Voucher, VoucherStatus

bp = Blueprint("gifting_member", __name__)
bp.before_request(refresh)  # the locale is cached on the app context; each page picks its own

ACTION_LABEL = _l("Give to a friend")  # "Tặng bạn": the wallet's link beside a usable voucher
MESSAGE_LENGTH = 500
CLAIM_DAYS_DEFAULT = 30
SPLIT_MIN, SPLIT_MAX = 2, 100  # envelopes of a lì xì, as the API allows
LUNAR_TIME_DEFAULT = "08:00"  # a lì xì sent on Mùng 1 Tết arrives in the morning

STATUS_WORDS = {
    GiftStatus.SCHEDULED: _l("Scheduled"),
    GiftStatus.SENT: _l("Sent, not opened yet"),
    GiftStatus.OPENED: _l("Opened, not claimed yet"),
    GiftStatus.CLAIMED: _l("Claimed"),
    GiftStatus.EXPIRED: _l("Expired"),
    GiftStatus.RETURNED: _l("Not claimed in time: returned"),
    GiftStatus.CANCELLED: _l("Cancelled"),
}
DESIGN_WORDS = {
    Design.TET: _l("Tết"),
    Design.BIRTHDAY: _l("Birthday"),
    Design.THANKS: _l("Thank you"),
    Design.PLAIN: _l("Simple"),
}
# Refusals of the service, in the member's words (its own messages are English).
REFUSALS = {
    GiftErrorCode.NOT_TRANSFERABLE: _l("This voucher cannot be given as a gift."),
    GiftErrorCode.GIFT_CLAIMED: _l("This gift has already been claimed."),
    GiftErrorCode.GIFT_CLOSED: _l("This gift is no longer open."),
}


def _member_key() -> str:
    """Whom a send counts against: the member, whichever of their links they use."""
    token = request.values.get("t", "")
    try:
        link = open_member_link(token)
    except NotFound:
        return "member-link:" + hashlib.sha256(token.encode("utf-8", "replace")).hexdigest()[:32]
    return f"member:{link.brand_id}:{link.member.id}"


# Each gift sent mails or messages someone, and a gift taken back can be sent again: only the
# changes made count (a refused form does not), per member.
sends_per_member = shared_limit_from(
    "GIFT_MEMBER_SEND_LIMIT",
    "gift-member-sends",
    _member_key,
    methods=["POST"],
    deduct_when=lambda response: response.status_code == 303,
)


def register_member_pages(app: Flask) -> None:
    """The member's gift pages, and "Tặng bạn" beside each usable voucher of the wallet."""
    app.register_blueprint(bp)
    add_voucher_action(app, "gifting_member.new_gift", ACTION_LABEL)


# --- the gifts sent and received -------------------------------------------------------------


@dataclass(frozen=True)
class GiftLine:
    gift: Gift
    words: str  # its state as the member reads it
    value: int  # what it is worth to this member (a lì xì's receiver: their envelope)
    claim_url: str | None  # the sender's to share again, while the gift can still be claimed


def _sent_line(gift: Gift) -> GiftLine:
    words = str(STATUS_WORDS[GiftStatus(gift.status)])
    if gift.is_split:
        opened = sum(1 for envelope in gift.envelopes if envelope.claimed_at is not None)
        words += " · " + _("%(opened)s of %(count)s envelopes opened", opened=opened, count=gift.split_count)
    url = claim_url(gift) if gift.status in CLAIMABLE_STATUSES else None
    return GiftLine(gift, words, gift.value, url)


def _received_line(gift: Gift, member_id: int) -> GiftLine:
    """A gift the member claimed (or an envelope of a lì xì they opened): in their wallet now."""
    if gift.is_split:
        mine = [envelope for envelope in gift.envelopes if envelope.claimer_member_id == member_id]
        amount = sum(envelope.amount for envelope in mine)
        return GiftLine(gift, _("You opened an envelope: it is in your wallet"), amount, None)
    return GiftLine(gift, _("Claimed: it is in your wallet"), gift.value, None)


@bp.get("/me/gifts")
def my_gifts() -> Response:
    """The gifts the member sent (with their claim links to share again) and those they received."""
    token = request.args.get("t")
    link = open_member_page(token)
    sent, received = gifts_of_member(link.brand_id, link.member.id)
    html = render_template(
        "gifting/member_gifts.html",
        brand=link.brand,
        token=token,
        home_url=_home_url(token),
        sent=[_sent_line(gift) for gift in sent],
        received=[_received_line(gift, link.member.id) for gift in received],
    )
    return member_page_response(html)


@bp.get("/me/gifts/<int:gift_id>")
def my_gift(gift_id: int) -> Response:
    """A gift the member sent: its claim link to copy or share on Zalo or Facebook, and its state."""
    token = request.args.get("t")
    link = open_member_page(token)
    gift = get_gift(link.brand_id, gift_id)
    if gift.sender_member_id != link.member.id:
        abort(404)
    return member_page_response(_gift_page(link, token, gift))


def _gift_page(link: MemberLink, token: str | None, gift: Gift, **context: Any) -> str:
    return render_template(
        "gifting/member_gift.html",
        brand=link.brand,
        token=token,
        home_url=_home_url(token),
        line=_sent_line(gift),
        can_take_back=gift.status in OPEN_STATUSES,
        **{"errors": {}, "refusal": None, **context},
    )


@bp.post("/me/gifts/<int:gift_id>/cancel")
@sends_per_member
def take_back(gift_id: int) -> Response:
    """The sender takes an unclaimed gift back (confirmed): the voucher returns to their wallet
    under a new code, and the claim link stops working."""
    token = request.form.get("t")
    link = open_member_page(token)
    gift = get_gift(link.brand_id, gift_id)
    if gift.sender_member_id != link.member.id:
        abort(404)
    if request.form.get("confirm") != "yes":
        errors = {"confirm": [_("Tick the box to confirm.")]}
        return member_page_response(_gift_page(link, token, gift, errors=errors), 422)
    try:
        cancel_gift(link.brand_id, gift.id)
    except GiftError as error:
        refusal = str(REFUSALS.get(error.code, error.message))
        return member_page_response(
            _gift_page(link, token, get_gift(link.brand_id, gift_id), refusal=refusal), 409
        )
    return redirect(url_for(".my_gift", gift_id=gift.id, t=token), code=303)


# --- "Tặng bạn" --------------------------------------------------------------------------------


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


def _next_tet(today: date) -> int:
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


def _gift_request(link: MemberLink, code: str, voucher: Voucher) -> GiftRequest:
    message = _field("message")
    if len(message) > MESSAGE_LENGTH:
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


def _field_errors(error: InvalidRequest) -> dict[str, list[str]]:
    """The service's refusal by field, named as the form names them (the rest is the form's)."""
    fields = (error.details or {}).get("fields") or {"form": [error.message]}
    out: dict[str, list[str]] = {}
    for name, messages in fields.items():
        last = str(name).split(".")[-1]
        key = SERVICE_FIELDS.get(last, last)
        listed = messages if isinstance(messages, list) else [messages]
        out.setdefault(key if key in FORM_FIELDS else "form", []).extend(str(m) for m in listed)
    return out


def _home_url(token: str | None) -> str | None:
    """The member's own page (loyalty's /me) or else the wallet, when a domain serves one."""
    endpoint = plugged().member_home or "games_pages.wallet_page"
    try:
        return url_for(endpoint, t=token)
    except BuildError:
        return None


def _form_page(link: MemberLink, token: str, code: str, voucher: Voucher | None, **context: Any) -> str:
    today = utcnow().astimezone(ZoneInfo(link.brand.timezone)).date()
    return render_template(
        "gifting/member_gift_new.html",
        brand=link.brand,
        member=link.member,
        token=token,
        code=code,
        voucher=voucher,
        designs=[(design.value, DESIGN_WORDS[design]) for design in Design],
        form=request.form,
        home_url=_home_url(token),
        tet_year=_next_tet(today),
        lunar_time=LUNAR_TIME_DEFAULT,
        claim_days=CLAIM_DAYS_DEFAULT,
        language=current_locale(),
        **{"errors": {}, "refusal": None, **context},
    )


@bp.route("/me/gifts/new", methods=["GET", "POST"])
@sends_per_member
def new_gift() -> Response:
    """ "Tặng bạn": send one of the member's usable vouchers to a friend, with a card and a message,
    now or on a date (a lunar one too); then the claim link to share."""
    token = request.values.get("t") or ""
    link = open_member_page(token)
    code = (request.values.get("code") or "").strip()
    voucher = reports.member_voucher(link.brand_id, code)
    refusal = why_not_giftable(voucher, link.member.id)
    if refusal:
        status = 404 if voucher is None or voucher.member_id != link.member.id else 409
        return member_page_response(_form_page(link, token, code, None, refusal=refusal), status)
    if request.method == "GET":
        return member_page_response(_form_page(link, token, code, voucher))
    try:
        gift = create_gift(link.brand_id, _gift_request(link, code, voucher))
    except FormRefused as refused:
        return member_page_response(_form_page(link, token, code, voucher, errors=refused.fields), 422)
    except InvalidRequest as error:
        return member_page_response(_form_page(link, token, code, voucher, errors=_field_errors(error)), 422)
    except GiftError as error:
        words = str(REFUSALS.get(error.code, error.message))
        return member_page_response(_form_page(link, token, code, None, refusal=words), error.status)
    except DomainError as error:
        if error.status != 404:
            raise
        # The voucher left the wallet between the form and the post.
        return member_page_response(
            _form_page(link, token, code, None, refusal=_("This voucher is not in your wallet.")), 404
        )
    # Post/redirect/get: a reload shows the gift again instead of sending it twice.
    return redirect(url_for(".my_gift", gift_id=gift.id, t=token), code=303)
