"""Customer pages: the game (/play), the wallet, and the public fairness check."""

from __future__ import annotations

import math
import secrets

from flask import Blueprint, Response, g, jsonify, make_response, render_template, request, url_for
from flask_babel import refresh

from games import abuse, plays
from games.campaigns import get_campaign
from games.fairness import check_campaign
from games.models import Campaign
from games.schemas import WALLET_VOUCHER_FIELDS, PagePlaySchema
from games.wallet import member_vouchers
from lixi.errors import DomainError, json_error
from lixi.member_links import open_member_link
from lixi.plugins import plugged
from lixi.ratelimit import DEVICE_COOKIE
from lixi.security import cookies_secure
from vouchers.schemas import VoucherOutSchema

bp = Blueprint("games_pages", __name__)
bp.before_request(refresh)

_PLAY = PagePlaySchema()
_WALLET_VOUCHER = VoucherOutSchema(only=WALLET_VOUCHER_FIELDS)


def _wants_json() -> bool:
    """The page's script asks for JSON; a form post without JavaScript gets the page."""
    return request.accept_mimetypes.best == "application/json"


def _odds(campaign: Campaign) -> list[dict]:
    """Each prize's share of the configured weights, as the page lists and the wheel labels them."""
    total = sum(p.weight for p in campaign.prizes)
    return [
        {
            "position": p.position,
            "label": p.label,
            "share": p.weight / total,
            "wins": p.offer_id is not None,
        }
        for p in campaign.prizes
    ]


# The wheel's slice colours, in turn; each label gets the ink that reads on its slice.
SLICE_COLOURS = ("#c8102e", "#f4c542", "#e85d3f", "#fff1c9")
DARK_INK, LIGHT_INK = "#1d1d1f", "#ffffff"


def relative_luminance(colour: str) -> float:
    """WCAG 2.1 relative luminance of a #rrggbb colour."""
    channels = [int(colour[i : i + 2], 16) / 255 for i in (1, 3, 5)]
    r, g_, b = (c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4 for c in channels)
    return 0.2126 * r + 0.7152 * g_ + 0.0722 * b


def contrast_ratio(one: str, other: str) -> float:
    """WCAG 2.1 contrast ratio of two colours (1 to 21)."""
    lighter, darker = sorted((relative_luminance(one), relative_luminance(other)), reverse=True)
    return (lighter + 0.05) / (darker + 0.05)


def label_ink(background: str) -> str:
    """Dark or white text, whichever contrasts more with the slice (AA needs 4.5:1 for small text)."""
    return max((DARK_INK, LIGHT_INK), key=lambda ink: contrast_ratio(ink, background))


def wheel_slices(prizes: list[dict]) -> list[dict]:
    """SVG geometry of the wheel: equal slices (the odds are listed beside it, not drawn as areas)."""
    n = len(prizes)
    slices = []
    for index, prize in enumerate(prizes):
        start, end = (2 * math.pi * index / n) - math.pi / 2, (2 * math.pi * (index + 1) / n) - math.pi / 2
        middle = (start + end) / 2
        x0, y0, x1, y1 = 95 * math.cos(start), 95 * math.sin(start), 95 * math.cos(end), 95 * math.sin(end)
        large = 1 if n == 1 else 0
        lx, ly = 60 * math.cos(middle), 60 * math.sin(middle)
        angle = (index + 0.5) / n * 360
        # With one slice more than a multiple of four, the last would meet the first in its colour: skip one.
        colour = SLICE_COLOURS[index % len(SLICE_COLOURS)]
        if n > 1 and index == n - 1 and colour == SLICE_COLOURS[0]:
            colour = SLICE_COLOURS[2]
        slices.append(
            {
                "path": f"M0 0 L{x0:.3f} {y0:.3f} A95 95 0 {large} 1 {x1:.3f} {y1:.3f} Z",
                "label": prize["label"],
                "fill": colour,
                "ink": label_ink(colour),
                "x": f"{lx:.3f}",
                "y": f"{ly:.3f}",
                # Labels read outwards; on the lower half they are turned so they are not upside down.
                "rotate": f"{angle + 180 if 90 < angle < 270 else angle:.2f}",
            }
        )
    return slices


@bp.route("/play/<int:campaign_id>", methods=["GET", "POST"])
def play_page(campaign_id: int) -> Response | str:
    """The customer's game: plays left, the prizes and their odds, and the game itself."""
    token = request.values.get("t")
    link = open_member_link(token, campaign_id)
    g.actor = f"member:{link.member.id}"  # the audit trail names who played, as the API names its key
    campaign = get_campaign(link.brand_id, campaign_id)
    result = error = None
    if request.method == "POST":
        abuse.page_plays.check(link.brand_id, {"member_external_id": link.member.external_id})
        try:
            result = _PLAY.dump(plays.play(link.brand_id, campaign_id, link.member.external_id))
        except DomainError as refusal:
            if _wants_json():
                return json_error(refusal.code, refusal.status, refusal.message)
            error = refusal
        else:
            if _wants_json():
                return jsonify(result)
    odds = _odds(campaign)
    page = make_response(
        render_template(
            "games/play.html",
            campaign=campaign,
            brand=link.brand,
            member=link.member,
            token=token,
            prizes=odds,
            slices=wheel_slices(odds),
            plays_left=result["plays_left"] if result else plays.plays_left(campaign.id, link.member.id),
            result=result,
            error=error,
        )
    )
    _give_a_device_cookie(page)
    return page


def _give_a_device_cookie(page: Response) -> None:
    """A random id for the browser, so the per-device play limit can tell browsers apart."""
    if DEVICE_COOKIE not in request.cookies:
        page.set_cookie(
            DEVICE_COOKIE,
            secrets.token_urlsafe(16),
            max_age=365 * 86400,
            samesite="Lax",
            httponly=True,
            secure=cookies_secure(),
        )


@bp.get("/wallet")
def wallet_page() -> str:
    """The member's vouchers, newest first."""
    token = request.args.get("t")
    link = open_member_link(token)
    vouchers = member_vouchers(link.brand_id, link.member.id)
    home = plugged().member_home
    return render_template(
        "games/wallet.html",
        brand=link.brand,
        member=link.member,
        vouchers=[(voucher, _WALLET_VOUCHER.dump(voucher)) for voucher in vouchers],
        token=token,
        campaign_id=link.campaign_id,
        home_url=url_for(home, t=token) if home else None,
    )


@bp.get("/fairness/<int:campaign_id>")
def fairness_page(campaign_id: int) -> str:
    """Public check of a campaign's draws: the committed hash, and after the end every play recomputed."""
    check = check_campaign(campaign_id)
    return render_template(
        "games/fairness.html",
        campaign=check.campaign,
        brand=check.brand,
        revealed=check.revealed,
        checked=check.checked,
        failed=check.failed,
    )
