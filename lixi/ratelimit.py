"""Who a request counts against for rate limits: the client's address, the brand's API key."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from typing import Any

from flask import Response, current_app, request

from lixi.extensions import limiter


def client_ip() -> str:
    # ProxyFix (TRUSTED_PROXIES) has already put the real client address here.
    return request.remote_addr or "unknown"


def api_key_identity() -> str:
    """The presented key, hashed: a wrong key still counts, so guessing keys is limited too."""
    header = request.headers.get("Authorization", "")
    return "key:" + hashlib.sha256(header.encode("utf-8", "replace")).hexdigest()[:32]


def is_code_lookup_failure(response: Response) -> bool:
    """A 404 on validate or redeem is an unknown, forged or other-brand code: a guess."""
    return response.status_code == 404


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8", "replace")).hexdigest()[:32]


def member_identity() -> str:
    """The member a play is for: the API's member_external_id (per key), or the page's member link."""
    body = request.get_json(silent=True) if request.is_json else None
    if isinstance(body, dict) and isinstance(body.get("member_external_id"), str):
        return "member:" + _digest(
            request.headers.get("Authorization", "") + "|" + body["member_external_id"]
        )
    return "member:" + _digest(request.values.get("t", ""))


DEVICE_COOKIE = "lixi_device"


def device_identity() -> str:
    """The browser a page play comes from (a random cookie set by the game page)."""
    return "device:" + _digest(request.cookies.get(DEVICE_COOKIE, "none:" + client_ip()))


def configured_limit(setting: str) -> Callable[[], str]:
    """A Flask-Limiter limit read from the app's config at request time (so env vars tune it)."""
    return lambda: current_app.config[setting]


def shared_limit_from(setting: str, scope: str, key_func: Callable[[], str], **options: Any) -> Any:
    """A named limit shared by the views it decorates, its value read from config `setting`.

    `options` go to Flask-Limiter (`deduct_when` to count only failures, `methods`, `on_breach`).
    """
    return limiter.shared_limit(configured_limit(setting), scope=scope, key_func=key_func, **options)
