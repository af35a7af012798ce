"""The recipient's claim page /g/<token>: a red envelope that opens on the card and the message, the
one-time code that proves the email or phone, the claim, and the voucher's QR on the device that
claimed it; a lì xì gift's board of envelopes. Thin views over gifting.claims."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from flask import Blueprint, Response, current_app, redirect, render_template, request, url_for
from flask_babel import force_locale, refresh
from flask_babel import lazy_gettext as _l

from gifting import claims
from gifting.errors import GiftError, GiftErrorCode
from gifting.links import find_gift_by_token
from gifting.models import CLAIMABLE_STATUSES, Gift, GiftEnvelope, GiftStatus
from lixi.errors import InvalidRequest, NotFound
from lixi.extensions import db
from lixi.formatting import LANGUAGES
from lixi.models import Brand
from lixi.ratelimit import client_ip, shared_limit_from
from lixi.security import cookies_secure
from lixi.signing import BadData, sign, unsign
from lixi.timeutil import utcnow
from vouchers.models import Voucher
from vouchers.schemas import base_url, voucher_url
from vouchers.service import voucher_token

bp = Blueprint("gifting_pages", __name__)
bp.before_request(refresh)  # the locale is cached on the app context; each page picks its own

# What this device claimed: {gift id: voucher id}, signed, sent back only to the gift pages. A
# reload (or the link opened again) shows the QR to the claimer and "already claimed" to others.
CLAIMED_COOKIE = "lixi_gifts"
CLAIMED_PURPOSE = "gift-claimed"
CLAIMED_KEEP = 20  # the newest gifts a device remembers; the cookie stays small
CLAIMED_DAYS = 400

CLOSED = (GiftStatus.CANCELLED, GiftStatus.EXPIRED, GiftStatus.RETURNED)

# The refusals of gifting.claims in the visitor's words (the service's messages are English).
REFUSALS = {
    GiftErrorCode.CODE_REQUIRED: _l("Enter the 6-digit code we sent you."),
    GiftErrorCode.CODE_EXPIRED: _l("This code has expired. Ask for a new one."),
    GiftErrorCode.CODE_LOCKED: _l("Too many wrong codes: this one no longer works. Ask for a new code."),
    GiftErrorCode.TOO_MANY_CODES: _l("Too many codes were sent for this gift. Try again later."),
    GiftErrorCode.GIFT_CLAIMED: _l("This gift has already been claimed."),
    GiftErrorCode.GIFT_CLOSED: _l("This gift is no longer available."),
    GiftErrorCode.NOT_SENT_YET: _l("This gift has not arrived yet."),
    GiftErrorCode.ENVELOPES_EMPTY: _l("All the envelopes have been opened."),
    GiftErrorCode.ENVELOPE_TAKEN: _l("You have already opened an envelope of this gift."),
}
BAD_CONTACT = _l("Enter a valid email address or phone number.")

# A link shared in a chat is fetched by the app's preview robot too (for the card's picture): that
# is not the recipient opening the gift, so a robot sees the page without marking it opened.
PREVIEW_ROBOTS = re.compile(r"bot\b|bot/|crawler|spider|facebookexternalhit|whatsapp|preview", re.IGNORECASE)

# The one limit per client of the page's two POSTs (sending a code, claiming): guessing codes
# across gifts is slow, whatever the per-gift limits of the service.
claims_per_client = shared_limit_from("GIFT_CLAIM_LIMIT", "gift-claims", client_ip, methods=["POST"])


@dataclass
class Step:
    """Where the visitor is in claiming: the forms to show and what went wrong, if anything."""

    name: str = "start"  # start: ask for a code (or claim) | code: enter the code
    error: Any = None  # a lazy string: it is translated in the gift's language when the page renders
    sent_to: str | None = None  # the masked address the code went to
    contact: str = ""  # lì xì: the email or phone the claimer gave
    name_given: str = ""  # lì xì: the name the claimer gave for the board
    locked: bool = False  # the code took too many wrong tries: only a new code helps


# --- the page ------------------------------------------------------------------------------------


@bp.get("/g/<token>")
def claim_page(token: str) -> Response:
    """The gift as its recipient sees it (opening it the first time marks it opened)."""
    robot = PREVIEW_ROBOTS.search(request.user_agent.string or "")
    gift = _gift(token) if robot else claims.open_gift(token)
    return _page(gift, token, Step())


@bp.post("/g/<token>/code")
@claims_per_client
def send_code(token: str) -> Response:
    """Send a one-time code to the gift's email or phone (a lì xì: to the claimer's)."""
    gift = _gift(token)
    step = Step(name="code", contact=_field("contact", 254), name_given=_field("name", 200))
    try:
        if gift.is_split:
            step.sent_to = claims.request_claim_code(gift, step.contact)
        else:
            step.sent_to = claims.request_claim_code(gift)
    except InvalidRequest:
        return _page(
            gift, token, Step(error=BAD_CONTACT, contact=step.contact, name_given=step.name_given), 422
        )
    except GiftError as refusal:
        return _refused(gift, token, refusal, step)
    return _page(gift, token, step)


@bp.post("/g/<token>/claim")
@claims_per_client
def claim(token: str) -> Response:
    """Claim the gift (with the code, when it needs one); then back to the page, which shows the QR."""
    gift = _gift(token)
    code = _field("code", 20).replace(" ", "") or None
    step = Step(
        name="code",
        sent_to=_field("sent_to", 300) or None,
        contact=_field("contact", 254),
        name_given=_field("name", 200),
    )
    try:
        if gift.is_split:
            envelope = claims.claim_envelope(gift, step.contact, code or "", step.name_given or None)
            voucher_id = _envelope_voucher_id(envelope)
        else:
            voucher_id = claims.claim_gift(gift, code).id
    except InvalidRequest:
        return _page(
            gift, token, Step(error=BAD_CONTACT, contact=step.contact, name_given=step.name_given), 422
        )
    except GiftError as refusal:
        return _refused(gift, token, refusal, step)
    # Post/redirect/get: a reload shows the voucher instead of claiming again.
    response = redirect(url_for(".claim_page", token=token), code=303)
    _remember(response, gift.id, voucher_id)
    return response


# --- helpers -------------------------------------------------------------------------------------


def _gift(token: str) -> Gift:
    gift = find_gift_by_token(token)
    if gift is None:
        raise NotFound("This gift link is not valid.")
    return gift


def _field(name: str, longest: int) -> str:
    return request.form.get(name, "").strip()[:longest]


def _envelope_voucher_id(envelope: GiftEnvelope) -> int:
    assert envelope.voucher_id is not None  # a claimed envelope has its voucher
    return envelope.voucher_id


def _refused(gift: Gift, token: str, refusal: GiftError, step: Step) -> Response:
    """The page again, saying in words why the claim or the code was refused."""
    db.session.expire_all()  # the refusal may have changed the gift (tries, state): read it afresh
    code = refusal.code
    if code == GiftErrorCode.CODE_INVALID:
        tries_left = (refusal.details or {}).get("tries_left")
        if tries_left is None:
            step.error = _l("That code is not right.")
        elif tries_left <= 0:  # no live code for this address (never sent, or already used)
            step.error = _l("That code is not right. Ask for a new code.")
        else:
            step.error = _l("That code is not right: %(count)s tries left.", count=tries_left)
    elif code == GiftErrorCode.CODE_LOCKED or code == GiftErrorCode.CODE_EXPIRED:
        step.error = REFUSALS[GiftErrorCode(code)]
        step.locked = code == GiftErrorCode.CODE_LOCKED
    elif code in REFUSALS:
        step.error = REFUSALS[GiftErrorCode(code)]
        if code not in (GiftErrorCode.CODE_REQUIRED, GiftErrorCode.TOO_MANY_CODES):
            step.name = "start"
    else:
        step.error = refusal.message
    return _page(gift, token, step, refusal.status)


def _claimed_here() -> dict[str, int]:
    """The gifts this device claimed: {gift id: voucher id} (empty for a missing or forged cookie)."""
    try:
        data = unsign(request.cookies.get(CLAIMED_COOKIE, ""), CLAIMED_PURPOSE)
    except BadData:
        return {}
    if not isinstance(data, dict):
        return {}
    return {str(k): v for k, v in data.items() if isinstance(v, int)}


def _remember(response: Response, gift_id: int, voucher_id: int) -> None:
    claimed = _claimed_here()
    claimed.pop(str(gift_id), None)
    claimed[str(gift_id)] = voucher_id
    kept = dict(list(claimed.items())[-CLAIMED_KEEP:])
    response.set_cookie(
        CLAIMED_COOKIE,
        sign(kept, CLAIMED_PURPOSE),
        max_age=CLAIMED_DAYS * 86400,
        path="/g/",
        secure=cookies_secure(),
        httponly=True,
        samesite="Lax",
    )


@dataclass(frozen=True)
class Mine:
    """What this device claimed of the gift: the voucher (with its new code), and a lì xì's envelope."""

    voucher: Voucher
    envelope: GiftEnvelope | None
    token: str

    @property
    def qr_url(self) -> str:
        return voucher_url(self.token, "/qr.svg")

    @property
    def page_url(self) -> str:
        return voucher_url(self.token)


def _mine(gift: Gift) -> Mine | None:
    """The voucher this device claimed of this gift, if the cookie says so and the gift agrees."""
    voucher_id = _claimed_here().get(str(gift.id))
    if voucher_id is None:
        return None
    if gift.is_split:
        for envelope in gift.envelopes:
            if envelope.voucher_id == voucher_id and envelope.voucher is not None:
                return Mine(envelope.voucher, envelope, voucher_token(envelope.voucher.code))
        return None
    if gift.status == GiftStatus.CLAIMED and gift.voucher.id == voucher_id:
        return Mine(gift.voucher, None, voucher_token(gift.voucher.code))
    return None


def _state(gift: Gift, mine: Mine | None) -> str:
    """Which version of the page: mine | scheduled | open | claimed | empty | closed."""
    if mine is not None:
        return "mine"
    if gift.status == GiftStatus.SCHEDULED:
        return "scheduled"
    # Past its deadline a gift is closed, even before the sweep marks it expired.
    if gift.status in CLOSED or (gift.expires_at is not None and gift.expires_at <= utcnow()):
        return "closed"
    if gift.is_split:
        if gift.status in CLAIMABLE_STATUSES and any(e.claimed_at is None for e in gift.envelopes):
            return "open"
        return "empty"
    if gift.status in CLAIMABLE_STATUSES:
        return "open"
    return "claimed"


def _language(gift: Gift) -> str:
    """?lang= (remembered in a cookie) wins; else the gift's own language, not the browser's."""
    wanted = request.args.get("lang") or request.cookies.get("lang")
    return wanted if wanted in LANGUAGES else (gift.language if gift.language in LANGUAGES else "vi")


def _page(gift: Gift, token: str, step: Step, status: int = 200) -> Response:
    brand = db.session.get(Brand, gift.brand_id)
    mine = _mine(gift)
    state = _state(gift, mine)
    envelopes = gift.envelopes if gift.is_split else []
    with force_locale(_language(gift)):
        html = render_template(
            "gifting/claim.html",
            gift=gift,
            brand=brand,
            token=token,
            state=state,
            step=step,
            mine=mine,
            needs_code=claims.needs_code(gift),
            envelopes=envelopes,
            envelopes_left=sum(1 for e in envelopes if e.claimed_at is None),
            luckiest=_luckiest(envelopes),
            code_minutes=current_app.config["GIFT_CODE_MINUTES"],
            card_url=url_for("static", filename=f"gifting/cards/{gift.design}.svg"),
            share_image=base_url() + url_for("static", filename=f"gifting/cards/{gift.design}.png"),
        )
    response = Response(html, status=status, mimetype="text/html")
    response.headers["Cache-Control"] = "no-store"  # the page may hold the claimer's voucher
    return response


def _luckiest(envelopes: list[GiftEnvelope]) -> int | None:
    """The position of the biggest envelope, once every envelope is open (as Tết's lucky money)."""
    if not envelopes or any(e.claimed_at is None for e in envelopes):
        return None
    return max(envelopes, key=lambda e: (e.amount, -e.position)).position
