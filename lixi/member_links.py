"""Signed member links: a brand hands a member a URL that opens their pages, no password needed.

A link is made for a campaign (it opens that campaign's game and the wallet) or without one (the
member's own page and the wallet, wherever a domain put it: lixi.plugins add_member_home). Pages
of any domain open them here; games.links makes them for a campaign it has checked.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from flask import Response, current_app, g, request

from lixi.errors import NotFound
from lixi.extensions import db
from lixi.models import Brand, Member
from lixi.signing import BadData, sign, unsign

PURPOSE = "member-link"
NOT_VALID = "This link is not valid (or has expired)."


@dataclass(frozen=True)
class MemberLink:
    """Whom a link opens the pages for: the member, their brand and the campaign it was made for
    (None: the member's own page)."""

    member: Member
    campaign_id: int | None
    brand: Brand

    @property
    def brand_id(self) -> int:
        return self.brand.id


def member_token(brand_id: int, member_id: int, campaign_id: int | None) -> str:
    """The signed link of a member already found, valid MEMBER_LINK_DAYS."""
    return sign({"b": brand_id, "m": member_id, "c": campaign_id}, PURPOSE, timed=True)


def open_member_link(token: str | None, campaign_id: int | None = None) -> MemberLink:
    """Who the link is for; 404 for anything forged, expired, or for another campaign.

    With a `campaign_id` (a game page) only a link made for that campaign opens; without one (the
    wallet, the member's own page, gifting a voucher) any link of the member does.
    """
    max_age = current_app.config["MEMBER_LINK_DAYS"] * 86400
    try:
        data = unsign(token or "", PURPOSE, max_age=max_age)
        brand_id, member_id = int(data["b"]), int(data["m"])
        linked_campaign = None if data["c"] is None else int(data["c"])
    except (BadData, KeyError, TypeError, ValueError) as error:
        raise NotFound(NOT_VALID) from error
    if campaign_id is not None and campaign_id != linked_campaign:
        raise NotFound(NOT_VALID)
    member = db.session.get(Member, member_id)
    if member is None or member.brand_id != brand_id:
        raise NotFound(NOT_VALID)
    brand = db.session.get(Brand, brand_id)
    assert brand is not None  # the member is the brand's
    return MemberLink(member, linked_campaign, brand)


def open_member_page(token: str | None) -> MemberLink:
    """open_member_link for a member's own pages, whose changes the audit trail credits to them."""
    link = open_member_link(token)
    g.actor = f"member:{link.member.id}"
    return link


def member_page_response(html: str, status: int = 200) -> Response:
    """A member page: it holds a signed member link (and the member's points, vouchers or claim
    links), so no shared cache may keep it."""
    response = Response(html, status=status, mimetype="text/html")
    response.headers["Cache-Control"] = "no-store"
    return response


def member_limit_key() -> str:
    """Whom a member page's rate limit counts against: the member of the request's `t` link,
    whichever of their links they use (a link that opens nothing counts on its own)."""
    token = request.values.get("t", "")
    try:
        link = open_member_link(token)
    except NotFound:
        return "member-link:" + hashlib.sha256(token.encode("utf-8", "replace")).hexdigest()[:32]
    return f"member:{link.brand_id}:{link.member.id}"
