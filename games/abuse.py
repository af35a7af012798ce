"""Plays refused by the rate limits, counted per campaign for the stats (and the dashboard's alerts)."""

from __future__ import annotations

import logging
from collections.abc import Callable

from flask import request
from flask_limiter import RequestLimit
from redis.exceptions import RedisError

from lixi.ratelimit import client_ip, device_identity, member_identity, shared_limit_from
from lixi.redis_client import redis_client

log = logging.getLogger(__name__)


def _key(campaign_id: int) -> str:
    return f"lixi:abuse:campaign:{campaign_id}"


def count_refusal(_limit: RequestLimit) -> None:
    """on_breach of the play limits: one more refused play for this campaign (a Redis counter)."""
    campaign_id = (request.view_args or {}).get("campaign_id")
    if campaign_id is None or redis_client.client is None:
        return
    try:
        redis_client.client.incr(_key(int(campaign_id)))
    except RedisError as error:  # the limiter itself fails closed; the tally is best effort
        log.warning("abuse counter unavailable: %s", error)


def refusals(campaign_id: int) -> int | None:
    try:
        value = redis_client.client.get(_key(campaign_id)) if redis_client.client else None
    except RedisError:
        return None
    return int(value or 0)


def _play_limit(setting: str, scope: str, key_func: Callable[[], str]):  # type: ignore[no-untyped-def]
    return shared_limit_from(setting, scope, key_func, on_breach=count_refusal, methods=["POST"])


# The limits on plays, shared by the API and the game page: per client IP, per member, per device.
per_ip = _play_limit("RATE_LIMIT_PLAYS_PER_IP", "plays-ip", client_ip)
per_member = _play_limit("RATE_LIMIT_PLAYS_PER_MEMBER", "plays-member", member_identity)
per_device = _play_limit("RATE_LIMIT_PLAYS_PER_DEVICE", "plays-device", device_identity)
