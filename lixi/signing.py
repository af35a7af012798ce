"""Signed tokens: a salt per purpose, and a list of keys so they can rotate (newest signs, all verify)."""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from flask import current_app
from itsdangerous import BadData, URLSafeSerializer, URLSafeTimedSerializer
from itsdangerous.encoding import base64_decode, base64_encode

__all__ = ["BadData", "sign", "unsign"]


@lru_cache(maxsize=64)
def _serializer(keys: tuple[str, ...], purpose: str, timed: bool) -> URLSafeSerializer:
    # itsdangerous signs with the last key of the list and tries all of them to verify.
    ordered = list(reversed(keys))
    cls = URLSafeTimedSerializer if timed else URLSafeSerializer
    return cls(ordered, salt=f"lixi.{purpose}")


def _keys() -> tuple[str, ...]:
    return tuple(current_app.config["SECRET_KEYS"])


def sign(data: Any, purpose: str, *, timed: bool = False) -> str:
    return _serializer(_keys(), purpose, timed).dumps(data)


def _require_canonical(token: str) -> None:
    """Base64 lets the last character of each part carry unused bits: a token with them changed
    still verifies. Only the exact text we issued is accepted, so every edit is a rejection."""
    for part in token.split("."):
        try:
            canonical = base64_encode(base64_decode(part)).decode("ascii")
        except (BadData, ValueError) as error:
            raise BadData("malformed token") from error
        if canonical != part:
            raise BadData("non-canonical token")


def unsign(token: str, purpose: str, *, max_age: int | None = None) -> Any:
    """Return the signed data, or raise itsdangerous.BadData for anything forged, tampered or too old."""
    _require_canonical(token)
    if max_age is None:
        return _serializer(_keys(), purpose, False).loads(token)
    return _serializer(_keys(), purpose, True).loads(token, max_age=max_age)
