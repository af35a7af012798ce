"""Flask-Limiter's limits from settings, and whom limits count: the client's address (the hot
paths' own limits are in lixi/hotlimits.py)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import Response, current_app, request

from lixi.extensions import limiter


def client_ip() -> str:
    # ProxyFix (TRUSTED_PROXIES) has already put the real client address here.
    return request.remote_addr or "unknown"


def is_code_lookup_failure(response: Response) -> bool:
    """A 404 on a code look-up (the merchant page's scans) is an unknown, forged or other-brand code."""
    return response.status_code == 404


DEVICE_COOKIE = "lixi_device"  # the game page's random id of a browser (games.abuse counts plays by it)


def configured_limit(setting: str) -> Callable[[], str]:
    """A Flask-Limiter limit read from the app's config at request time (so env vars tune it)."""
    return lambda: current_app.config[setting]


def shared_limit_from(setting: str, scope: str, key_func: Callable[[], str], **options: Any) -> Any:
    """A named limit shared by the views it decorates, its value read from config `setting`.

    `options` go to Flask-Limiter (`deduct_when` to count only failures, `methods`, `on_breach`).
    """
    return limiter.shared_limit(configured_limit(setting), scope=scope, key_func=key_func, **options)
