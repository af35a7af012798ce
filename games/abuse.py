"""The limits on plays (per client IP, member and device) and the tally of plays they refused.

The API and the game page share them (one member's plays count alike wherever they come from);
both are hot routes, so each checks its limits in one Redis call (lixi/hotlimits.py). A refused
play is counted per campaign in the same call, for the stats and the dashboard's alerts.
"""

from __future__ import annotations

from flask import request

from lixi.hotlimits import HotLimit, HotLimits, by_client_ip, digest, tally_count
from lixi.ratelimit import DEVICE_COOKIE, client_ip


def _member(data: dict) -> str:
    return digest(data["member_external_id"])


def _device(_data: dict) -> str:
    """The browser a page play comes from (a random cookie the game page sets), else its address."""
    return digest(request.cookies.get(DEVICE_COOKIE, "none:" + client_ip()))


def _campaign(_data: dict) -> str:
    return f"campaign:{(request.view_args or {})['campaign_id']}"


PER_IP = HotLimit("RATE_LIMIT_PLAYS_PER_IP", "plays-ip", by_client_ip)
PER_MEMBER = HotLimit("RATE_LIMIT_PLAYS_PER_MEMBER", "plays-member", _member)
PER_DEVICE = HotLimit("RATE_LIMIT_PLAYS_PER_DEVICE", "plays-device", _device)

api_plays = HotLimits(PER_IP, PER_MEMBER, tally=_campaign)
page_plays = HotLimits(PER_IP, PER_MEMBER, PER_DEVICE, tally=_campaign)


def refusals(brand_id: int, campaign_id: int) -> int | None:
    """Plays of the campaign refused by the limits; None when Redis cannot say."""
    return tally_count(brand_id, f"campaign:{campaign_id}")
