"""Sending a webhook over HTTP: the signature, and the guard against private addresses (SSRF).

Written by hand on top of requests/urllib3 because no maintained library checks the address a
connection actually reaches (DNS may change after an endpoint is registered).
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import socket
import time
from typing import Any

import requests
from flask import current_app
from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool

from lixi.errors import invalid_field


def refuse_private_host(host: str, port: int) -> None:
    """SSRF guard at sign-up: every address the host resolves to must be public."""
    try:
        addresses = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError) as error:
        raise invalid_field("url", "The URL's host name does not resolve.") from error
    for *_, sockaddr in addresses:
        if not is_public_address(str(sockaddr[0])):
            raise invalid_field("url", "The URL points to a private, loopback or link-local address.")


def is_public_address(address: str) -> bool:
    """True for a globally routable unicast address (not loopback, private, link-local, reserved…)."""
    try:
        ip = ipaddress.ip_address(address.split("%", 1)[0])  # drop an IPv6 zone (fe80::1%eth0)
    except ValueError:
        return False
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped  # ::ffff:127.0.0.1 is loopback
    return ip.is_global and not ip.is_multicast


def post_once(url: str, body: bytes, headers: dict[str, str]) -> tuple[int | None, str | None]:
    """POST once: (status code, None) on a 2xx, else (status code or None, what went wrong)."""
    config = current_app.config
    timeout = float(config["WEBHOOK_TIMEOUT_SECONDS"])
    session = requests.Session()
    # No proxy or .netrc from the worker's environment: the guard must see the peer we talk to.
    session.trust_env = False
    if not config["WEBHOOK_ALLOW_PRIVATE_ADDRESSES"]:
        adapter = _PublicOnlyAdapter()
        session.mount("http://", adapter)
        session.mount("https://", adapter)
    try:
        with session:
            # No redirects: a 3xx could point us at an internal address; it counts as a failure.
            # stream=True: the receiver's body is never read, so a huge answer costs nothing.
            response = session.post(
                url, data=body, headers=headers, timeout=timeout, allow_redirects=False, stream=True
            )
            response.close()
    except PrivateAddressRefused as error:
        return None, str(error)
    except requests.Timeout:
        return None, f"Timed out after {timeout:g} s."
    except requests.RequestException as error:
        return None, f"{type(error).__name__}: {error}"
    if 200 <= response.status_code < 300:
        return response.status_code, None
    return response.status_code, f"HTTP {response.status_code} {response.reason or ''}".strip()


class PrivateAddressRefused(Exception):
    """The endpoint's host led to an address we do not send to."""


class _PublicPeerOnly:
    """Checks the address actually connected to, so DNS changed after sign-up cannot reach inside."""

    def _new_conn(self) -> socket.socket:
        sock = super()._new_conn()  # type: ignore[misc]
        peer = str(sock.getpeername()[0])
        if not is_public_address(peer):
            sock.close()
            raise PrivateAddressRefused(f"Refused to connect to the private address {peer}.")
        return sock


class _PublicHTTPConnection(_PublicPeerOnly, HTTPConnection):
    pass


class _PublicHTTPSConnection(_PublicPeerOnly, HTTPSConnection):
    pass


class _PublicHTTPPool(HTTPConnectionPool):
    ConnectionCls = _PublicHTTPConnection


class _PublicHTTPSPool(HTTPSConnectionPool):
    ConnectionCls = _PublicHTTPSConnection


class _PublicOnlyAdapter(HTTPAdapter):
    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = {"http": _PublicHTTPPool, "https": _PublicHTTPSPool}


# --- Signatures --------------------------------------------------------------------------------


def signature_header(secret: str, body: bytes, timestamp: int | None = None) -> str:
    """`t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>`: the Lixi-Signature header."""
    t = int(time.time()) if timestamp is None else timestamp
    return f"t={t},v1={_hmac_hex(secret, t, body)}"


def verify_signature(
    secret: str, header: str, body: bytes, tolerance_seconds: int = 300, now: float | None = None
) -> bool:
    """What a receiver runs: the body is ours, unaltered, and signed within `tolerance_seconds`."""
    timestamp: int | None = None
    candidates: list[str] = []
    for item in (header or "").split(","):
        key, _, value = item.strip().partition("=")
        if key == "t":
            try:
                timestamp = int(value)
            except ValueError:
                return False
        elif key == "v1":
            candidates.append(value)  # several while a secret is being rolled over
    if timestamp is None or not candidates:
        return False
    # An old signature replayed later is refused, not only a forged one.
    if abs((time.time() if now is None else now) - timestamp) > tolerance_seconds:
        return False
    expected = _hmac_hex(secret, timestamp, body)
    return any(hmac.compare_digest(expected.encode(), candidate.encode()) for candidate in candidates)


def _hmac_hex(secret: str, timestamp: int, body: bytes) -> str:
    return hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
