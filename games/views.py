"""Customer pages: the game (/play), the wallet, and the public fairness check."""

from __future__ import annotations

import math
import secrets

from flask import Blueprint, Response, abort, g, jsonify, make_response, render_template, request
from flask_babel import refresh
from sqlalchemy import select

from games import abuse, plays
from games.campaigns import get_campaign
from games.draws import winning_entries
from games.fairness import verify
from games.links import open_member_link
from games.models import Campaign, CampaignStatus, Play
from lixi.errors import DomainError
from lixi.extensions import db
from lixi.models import Brand
from lixi.ratelimit import DEVICE_COOKIE
from lixi.security import cookies_secure
from lixi.timeutil import utcnow
from vouchers.models import Voucher
from vouchers.schemas import voucher_url
from vouchers.service import voucher_token

bp = Blueprint("games_pages", __name__)
bp.before_request(refresh)


def _wants_json() -> bool:
    return request.accept_mimetypes.best == "application/json"


def _odds(campaign: Campaign) -> list[dict]:
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
        # With an odd count the last slice would meet the first in the same colour: skip one.
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


def _voucher_view(voucher: Voucher | None) -> dict | None:
    if voucher is None:
        return None
    token = voucher_token(voucher.code)
    return {
        "code": voucher.code,
        "url": voucher_url(token),
        "qr_svg_url": voucher_url(token, "/qr.svg"),
        "value": voucher.offer.value,
        "kind": voucher.offer.kind,
        "expires_at": voucher.expires_at.isoformat() if voucher.expires_at else None,
    }


@bp.route("/play/<int:campaign_id>", methods=["GET", "POST"])
@abuse.per_ip
@abuse.per_member
@abuse.per_device
def play_page(campaign_id: int) -> Response | str:
    """The customer's game: plays left, the prizes and their odds, and the game itself."""
    token = request.values.get("t")
    link = open_member_link(token, campaign_id)
    g.actor = f"member:{link.member.id}"  # the audit trail names who played, as the API names its key
    campaign = get_campaign(link.brand_id, campaign_id)
    brand = db.session.get(Brand, link.brand_id)
    result = error = None
    if request.method == "POST":
        try:
            outcome = plays.play(link.brand_id, campaign_id, link.member.external_id)
        except DomainError as refusal:
            if _wants_json():
                return jsonify({"error": {"code": refusal.code, "message": refusal.message}}), refusal.status
            error = refusal
        else:
            result = {
                "play_id": outcome.play.id,
                "position": outcome.prize.position if outcome.prize else None,
                "label": outcome.prize.label if outcome.prize else None,
                "won": outcome.voucher is not None,
                "voucher": _voucher_view(outcome.voucher),
                "plays_left": outcome.plays_left,
            }
            if _wants_json():
                return jsonify(result)
    left = result["plays_left"] if result else plays.plays_left(campaign.id, link.member.id)
    page = make_response(
        render_template(
            "games/play.html",
            campaign=campaign,
            brand=brand,
            member=link.member,
            token=token,
            prizes=_odds(campaign),
            slices=wheel_slices(_odds(campaign)),
            plays_left=left,
            result=result,
            error=error,
        )
    )
    if DEVICE_COOKIE not in request.cookies:
        page.set_cookie(
            DEVICE_COOKIE,
            secrets.token_urlsafe(16),
            max_age=365 * 86400,
            samesite="Lax",
            httponly=True,
            secure=cookies_secure(),
        )
    return page


@bp.get("/wallet")
def wallet_page() -> str:
    """The member's vouchers, newest first."""
    link = open_member_link(request.args.get("t"))
    vouchers = db.session.execute(
        select(Voucher)
        .where(Voucher.brand_id == link.brand_id, Voucher.member_id == link.member.id)
        .order_by(Voucher.id.desc())
        .limit(200)
    ).scalars()
    brand = db.session.get(Brand, link.brand_id)
    return render_template(
        "games/wallet.html",
        brand=brand,
        member=link.member,
        vouchers=[(v, v.status_at(utcnow()), _voucher_view(v)) for v in vouchers],
        token=request.args.get("t"),
        campaign_id=link.campaign_id,
    )


@bp.get("/fairness/<int:campaign_id>")
def fairness_page(campaign_id: int) -> str:
    """Public check of a campaign's draws: the committed hash, and after the end every play recomputed."""
    campaign = db.session.get(Campaign, campaign_id)
    if campaign is None or campaign.seed_hash is None:
        abort(404)
    checked = failed = 0
    revealed = campaign.status == CampaignStatus.ENDED
    if revealed:
        assert campaign.seed is not None
        all_plays = list(db.session.execute(select(Play).where(Play.campaign_id == campaign.id)).scalars())
        if campaign.draw_at is not None:
            # A scheduled draw: recompute the whole ranking and compare the winners.
            expected = {
                entry.id: prize_id for entry, prize_id in winning_entries(campaign.seed, campaign, all_plays)
            }
            for the_play in all_plays:
                if expected.get(the_play.id) == the_play.prize_id:
                    checked += 1
                else:
                    failed += 1
        else:
            for the_play in all_plays:
                if verify(
                    campaign.seed,
                    campaign.seed_hash,
                    campaign.id,
                    the_play.id,
                    the_play.proof,
                    the_play.prize_id,
                ):
                    checked += 1
                else:
                    failed += 1
    brand = db.session.get(Brand, campaign.brand_id)
    return render_template(
        "games/fairness.html",
        campaign=campaign,
        brand=brand,
        revealed=revealed,
        checked=checked,
        failed=failed,
    )
