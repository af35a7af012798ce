"""Member links made for a game: the kernel signs and opens them (lixi.member_links); a link for a
campaign is made here, where the campaign can be checked."""

from __future__ import annotations

from games.campaigns import get_campaign
from lixi.member_links import member_token
from lixi.members import get_member


def member_link_token(brand_id: int, member_external_id: str, campaign_id: int | None) -> str:
    """A token for /play/<campaign_id>?t=… (or, without a campaign, the member's own page), valid
    MEMBER_LINK_DAYS."""
    if campaign_id is not None:
        campaign_id = get_campaign(brand_id, campaign_id).id
    member = get_member(brand_id, member_external_id)
    return member_token(brand_id, member.id, campaign_id)
