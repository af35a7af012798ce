"""The member's gift pages: the gifts they sent and received (/me/gifts), "Tặng bạn" — give one of
their own vouchers to a friend (/me/gifts/new) — and a sent gift's claim link to share. No log-in:
a signed member link (lixi.member_links) opens them, as it opens the wallet."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

from flask import (
    Blueprint,
    Flask,
    Response,
    abort,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_babel import refresh
from werkzeug.routing import BuildError

from gifting import reports
from gifting.errors import GiftError, GiftErrorCode
from gifting.links import claim_url
from gifting.member_form import (
    CLAIM_DAYS_DEFAULT,
    LUNAR_TIME_DEFAULT,
    FormRefused,
    field_errors,
    gift_request_of_form,
    next_tet,
    why_not_giftable,
)
from gifting.models import CLAIMABLE_STATUSES, OPEN_STATUSES, Design, Gift, GiftStatus
from gifting.queries import get_gift, gifts_of_member
from gifting.service import cancel_gift, create_gift
from lixi.errors import DomainError, InvalidRequest
from lixi.formatting import current_locale
from lixi.member_links import (
    MemberLink,
    member_limit_key,
    member_page_response,
    open_member_page,
)
from lixi.plugins import add_voucher_action, plugged
from lixi.ratelimit import shared_limit_from
from lixi.timeutil import utcnow
from vouchers.models import Voucher

bp = Blueprint("gifting_member", __name__)
bp.before_request(refresh)  # the locale is cached on the app context; each page picks its own

ACTION_LABEL = _l("Give to a friend")  # "Tặng bạn": the wallet's link beside a usable voucher

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


# Each gift sent mails or messages someone, and a gift taken back can be sent again: only the
# changes made count (a refused form does not), per member.
sends_per_member = shared_limit_from(
    "GIFT_MEMBER_SEND_LIMIT",
    "gift-member-sends",
    member_limit_key,
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
        tet_year=next_tet(today),
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
        gift = create_gift(link.brand_id, gift_request_of_form(link, code, voucher))
    except FormRefused as refused:
        return member_page_response(_form_page(link, token, code, voucher, errors=refused.fields), 422)
    except InvalidRequest as error:
        return member_page_response(_form_page(link, token, code, voucher, errors=field_errors(error)), 422)
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
