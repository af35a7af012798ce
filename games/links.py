"""Signed member links: a brand hands a member a URL that opens their pages, no password needed.

A link made for a campaign opens that campaign's game (and the wallet); a link made without one
opens the member's own page (and the wallet), wherever a domain put it (lixi.plugins
add_member_home). The member's own page accepts either kind; a game accepts only its own.
"""

from __future__ import annotations

from dataclasses import dataclass

from flask import current_app

from games.campaigns import get_campaign
from lixi.errors import NotFound
from lixi.extensions import db
from lixi.members import get_member
from lixi.models import Brand, Member
from lixi.signing import BadData, sign, unsign

PURPOSE = "member-link"


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


def member_link_token(brand_id: int, member_external_id: str, campaign_id: int | None) -> str:
    """A token for /play/<campaign_id>?t=… (or, without a campaign, the member's own page), valid
    MEMBER_LINK_DAYS."""
    if campaign_id is not None:
        campaign_id = get_campaign(brand_id, campaign_id).id
    member = get_member(brand_id, member_external_id)
    return member_token(brand_id, member.id, campaign_id)


def member_token(brand_id: int, member_id: int, campaign_id: int | None) -> str:
    """The signed link of a member already found (the member's own page links to their games)."""
    return sign({"b": brand_id, "m": member_id, "c": campaign_id}, PURPOSE, timed=True)


def open_member_link(token: str | None, campaign_id: int | None = None) -> MemberLink:
    """Who the link is for; 404 for anything forged, expired, or for another campaign.

    With a `campaign_id` (a game page) only a link made for that campaign opens; without one (the
    wallet, the member's own page) any link of the member does.
    """
    max_age = current_app.config["MEMBER_LINK_DAYS"] * 86400
    try:
        data = unsign(token or "", PURPOSE, max_age=max_age)
        brand_id, member_id = int(data["b"]), int(data["m"])
        linked_campaign = None if data["c"] is None else int(data["c"])
    except (BadData, KeyError, TypeError, ValueError) as error:
        raise NotFound("This link is not valid (or has expired).") from error
    if campaign_id is not None and campaign_id != linked_campaign:
        raise NotFound("This link is not valid (or has expired).")
    member = db.session.get(Member, member_id)
    if member is None or member.brand_id != brand_id:
        raise NotFound("This link is not valid (or has expired).")
    brand = db.session.get(Brand, brand_id)
    assert brand is not None  # the member is the brand's
    return MemberLink(member, linked_campaign, brand)
