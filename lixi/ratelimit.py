"""Who a request counts against for rate limits: the client's address, the brand's API key."""

from __future__ import annotations

import hashlib

from flask import Response, request


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
