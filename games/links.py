"""Signed member links: a brand hands a member a URL that opens their game page, no password needed."""

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
    """Whom a link opens the pages for: the member, their brand and the campaign it was made for."""

    member: Member
    campaign_id: int
    brand: Brand

    @property
    def brand_id(self) -> int:
        return self.brand.id


def member_link_token(brand_id: int, member_external_id: str, campaign_id: int) -> str:
    """A token for /play/<campaign_id>?t=…, valid MEMBER_LINK_DAYS."""
    campaign = get_campaign(brand_id, campaign_id)
    member = get_member(brand_id, member_external_id)
    return sign({"b": brand_id, "m": member.id, "c": campaign.id}, PURPOSE, timed=True)


def open_member_link(token: str | None, campaign_id: int | None = None) -> MemberLink:
    """Who the link is for; 404 for anything forged, expired, or for another campaign."""
    max_age = current_app.config["MEMBER_LINK_DAYS"] * 86400
    try:
        data = unsign(token or "", PURPOSE, max_age=max_age)
        brand_id, member_id, linked_campaign = int(data["b"]), int(data["m"]), int(data["c"])
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
