"""schemathesis hooks for the live fuzz run (tests/test_openapi.py): test data shaped like a real client's."""

from __future__ import annotations

import uuid
from typing import Any

import schemathesis

from lixi.openapi import MAX_IDEMPOTENCY_KEY_LENGTH


@schemathesis.hook
def before_call(context: Any, case: Any, kwargs: dict[str, Any]) -> None:
    """Each generated request is a change of its own, so a valid Idempotency-Key gets a unique
    suffix: otherwise two bodies generated with the key "0" are a key reused with another body,
    which the contract refuses (422 idempotency_key_reused, as the IETF Idempotency-Key draft asks)
    and schemathesis, which sees requests one at a time, would call a valid request refused.
    Invalid keys (blank, too long) are sent as generated."""
    key = (case.headers or {}).get("Idempotency-Key")
    if isinstance(key, str) and key.strip() and len(key) <= MAX_IDEMPOTENCY_KEY_LENGTH:
        suffix = "-" + uuid.uuid4().hex
        case.headers["Idempotency-Key"] = key[: MAX_IDEMPOTENCY_KEY_LENGTH - len(suffix)] + suffix
