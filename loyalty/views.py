"""The member's own pages: /me (points, tier, rewards, vouchers, games, referrals, the member card),
the reward exchange (confirm, then the voucher), the member card /m/<token> and the referral
landing page /r/<code>. No log-in: a signed member link (lixi.member_links) opens them."""

from __future__ import annotations

from flask import Blueprint, Flask, Response, abort, redirect, render_template, request, url_for
from flask_babel import lazy_gettext as _l
from flask_babel import refresh

from games.earning import add_event_earner
from games.schemas import WALLET_VOUCHER_FIELDS
from lixi.errors import NotFound
from lixi.extensions import db
from lixi.member_links import (
    MemberLink,
    member_limit_key,
    member_page_response,
    open_member_page,
)
from lixi.models import Brand, Member
from lixi.plugins import add_member_home, add_scan_target
from lixi.ratelimit import client_ip, shared_limit_from
from loyalty import rewards, till
from loyalty.errors import LoyaltyConflict
from loyalty.links import CARD_PATH, member_card_url, member_of_card
from loyalty.member_page import invitation, member_page
from loyalty.programme import get_programme
from loyalty.standing import member_loyalty
from vouchers.qr import cached_qr
from vouchers.schemas import VoucherOutSchema, voucher_url
from vouchers.service import find_public_voucher, voucher_token

bp = Blueprint("loyalty_pages", __name__)
bp.before_request(refresh)  # the locale is cached on the app context; each page picks its own

_WALLET_VOUCHER = VoucherOutSchema(only=WALLET_VOUCHER_FIELDS)
QR_CACHE_CONTROL = "public, max-age=86400, immutable"
# What the merchant's scanner takes for a typed phone number rather than a voucher code: 9 to 12
# digits with the separators people type (a voucher code has 14 characters, most of them letters).
PHONE_TYPED = r"^\+?(?:[\s.\-()]*\d){9,12}[\s.\-()]*$"


def register_pages(app: Flask) -> None:
    """The member's pages, the till, and where they plug in: member links without a campaign open
    /me, and the merchant's scanner hands member cards (and typed phone numbers) to the till."""
    app.register_blueprint(bp)
    app.register_blueprint(till.bp)
    add_member_home(app, "loyalty_pages.member_home")
    add_scan_target(
        app,
        "loyalty_till.lookup",
        CARD_PATH,
        typed=PHONE_TYPED,
        label=_l("Member card: find by phone number"),
    )
    add_event_earner(app, till.note_till_purchase)


exchanges_per_member = shared_limit_from(
    "RATE_LIMIT_EXCHANGES_PER_MEMBER", "exchanges-member", member_limit_key, methods=["POST"]
)
exchanges_per_ip = shared_limit_from(
    "RATE_LIMIT_EXCHANGES_PER_IP", "exchanges-ip", client_ip, methods=["POST"]
)


@bp.get("/me")
def member_home() -> Response:
    """The member's page: points, tier, rewards to exchange, vouchers, games, referrals and card."""
    token = request.args.get("t")
    link = open_member_page(token)
    page = member_page(link.brand, link.member)
    vouchers = [(voucher, _WALLET_VOUCHER.dump(voucher)) for voucher in page.vouchers]
    return member_page_response(render_template("loyalty/me.html", page=page, token=token, vouchers=vouchers))


def _option(link: MemberLink, reward_id: int) -> rewards.RewardOption:
    """The reward as this member sees it now; 404 for another brand's reward or one not offered."""
    get_programme(link.brand_id)
    rewards.get_reward(link.brand_id, reward_id)
    for option in rewards.catalogue(link.brand_id, link.member, offered_only=False):
        if option.reward.id == reward_id:
            return option
    raise NotFound("No such reward.")


@bp.get("/me/rewards/<int:reward_id>")
def confirm_exchange(reward_id: int) -> Response:
    """The confirm step of an exchange (the page's script shows it in a dialog instead)."""
    token = request.args.get("t")
    link = open_member_page(token)
    option = _option(link, reward_id)
    points = _points(link)
    return member_page_response(
        render_template(
            "loyalty/confirm.html", brand=link.brand, option=option, token=token, points=points, refusal=None
        )
    )


def _points(link: MemberLink) -> int:
    return member_loyalty(link.brand_id, link.member).points


@bp.post("/me/rewards/<int:reward_id>")
@exchanges_per_ip
@exchanges_per_member
def exchange_reward(reward_id: int) -> Response:
    """Spend the points on the reward, then show the voucher; a refusal says why, on the confirm page."""
    token = request.form.get("t")
    link = open_member_page(token)
    rewards.get_reward(link.brand_id, reward_id)  # 404 for another brand's reward
    try:
        made = rewards.exchange(link.brand_id, reward_id, link.member)
    except LoyaltyConflict as refusal:
        option = _option(link, reward_id)
        html = render_template(
            "loyalty/confirm.html",
            brand=link.brand,
            option=option,
            token=token,
            points=_points(link),
            refusal=option.reason or refusal.message,
        )
        return member_page_response(html, 409)
    # Post/redirect/get: a reload shows the voucher again instead of exchanging twice.
    return redirect(url_for(".exchanged", voucher_token=voucher_token(made.voucher.code), t=token), code=303)


@bp.get("/me/vouchers/<voucher_token>")
def exchanged(voucher_token: str) -> Response:
    """The voucher an exchange gave, with its QR to show at the till."""
    token = request.args.get("t")
    link = open_member_page(token)
    found = find_public_voucher(voucher_token)
    if found is None or found.voucher.member_id != link.member.id:
        abort(404)
    html = render_template(
        "loyalty/exchanged.html",
        brand=link.brand,
        voucher=found.voucher,
        status=found.status,
        qr_url=voucher_url(voucher_token, "/qr.svg"),
        page_url=voucher_url(voucher_token),
        token=token,
    )
    return member_page_response(html)


def _card_member(token: str) -> Member:
    member = member_of_card(token)
    if member is None:
        abort(404)
    return member


@bp.get("/m/<token>")
def member_card(token: str) -> Response:
    """The member card's own page (what a phone camera opens): the card to show, nothing private."""
    member = _card_member(token)
    brand = db.session.get(Brand, member.brand_id)
    html = render_template("loyalty/card.html", brand=brand, qr_url=url_for(".member_card_qr", token=token))
    return member_page_response(html)


@bp.get("/m/<token>/qr.svg")
def member_card_qr(token: str) -> Response:
    """The member card's QR: its own URL, which the merchant's scanner tells from a voucher's."""
    member = _card_member(token)
    response = Response(cached_qr(member_card_url(member), "svg"), mimetype="image/svg+xml")
    response.headers["Cache-Control"] = QR_CACHE_CONTROL
    return response


@bp.get("/r/<code>")
def referral_landing(code: str) -> Response:
    """Where a shared referral link lands: who invites you, and the code to join with."""
    found = invitation(code)
    if found is None:
        abort(404)
    html = render_template(
        "loyalty/referral.html",
        brand=found.brand,
        referrer=found.referrer,
        code=found.code,
        referral=found.referral,
    )
    return member_page_response(html)
