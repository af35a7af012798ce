"""Idempotency-Key on mutating POSTs: a repeat with the same key and body replays the first answer.

The key, the state change it guards and the response are committed together (a unique
constraint on brand + key), so two racing requests with one key can never both change
anything, the loser replays the winner's response, and no crash leaves a change without it.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from datetime import timedelta
from functools import wraps
from typing import Any

from flask import Response, current_app, g, request
from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError

from lixi.database import hold_commit, release_hold, write_transaction
from lixi.errors import DomainError, ErrorCode, InvalidRequest
from lixi.extensions import db
from lixi.models import IdempotencyRecord
from lixi.openapi import IDEMPOTENCY_KEY_PARAMETER, MAX_IDEMPOTENCY_KEY_LENGTH, add_operation_doc
from lixi.timeutil import utcnow


def _fingerprint() -> str:
    raw = request.get_data(cache=True)
    try:
        # Parsed by the app's provider, like the view will: deep nesting and lone surrogates are
        # refused there (the view then answers 400 or 422); here they fall back to the raw bytes.
        body: Any = current_app.json.loads(raw) if raw else None
        canonical = json.dumps(body, sort_keys=True, separators=(",", ":"))
    except (ValueError, RecursionError):
        canonical = raw.decode("utf-8", "replace")
    material = f"{request.method} {request.path}\n{canonical}"
    return hashlib.sha256(material.encode("utf-8")).hexdigest()


def _find(brand_id: int, key: str) -> IdempotencyRecord | None:
    return db.session.execute(
        select(IdempotencyRecord).where(IdempotencyRecord.brand_id == brand_id, IdempotencyRecord.key == key)
    ).scalar_one_or_none()


def _replay(record: IdempotencyRecord, fingerprint: str) -> Response:
    if record.fingerprint != fingerprint:
        raise DomainError(
            ErrorCode.IDEMPOTENCY_KEY_REUSED,
            422,
            "This Idempotency-Key was used with a different request body.",
        )
    response = Response(record.response_body, status=record.status_code, mimetype="application/json")
    response.headers["Idempotent-Replayed"] = "true"
    return response


def idempotent(view: Callable[..., Response]) -> Callable[..., Response]:
    """Wrap a mutating API view (after authentication has set g.brand_id)."""

    @wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Response:
        key = request.headers.get("Idempotency-Key")
        if key is None:
            return view(*args, **kwargs)
        if not key.strip() or len(key) > MAX_IDEMPOTENCY_KEY_LENGTH:
            raise InvalidRequest(
                f"Idempotency-Key must be 1 to {MAX_IDEMPOTENCY_KEY_LENGTH} characters.",
                {"fields": {"Idempotency-Key": ["Invalid length."]}},
            )
        brand_id: int = g.brand_id
        fingerprint = _fingerprint()
        existing = _find(brand_id, key)
        if existing is not None:
            return _replay(existing, fingerprint)

        record = IdempotencyRecord(brand_id=brand_id, key=key, fingerprint=fingerprint)
        held = hold_commit(record)
        try:
            response = view(*args, **kwargs)
            if held.joined:
                if response.status_code < 300:
                    record.status_code = response.status_code
                    record.response_body = response.get_data(as_text=True)
                else:
                    # Only successful changes are remembered: a refused request may be fixed and retried.
                    db.session.delete(record)
                db.session.commit()
        except IntegrityError:
            # The same key won a race in another request: its change and response are committed.
            db.session.rollback()
            winner = _find(brand_id, key)
            if winner is None:
                raise
            return _replay(winner, fingerprint)
        except BaseException:
            db.session.rollback()
            raise
        finally:
            release_hold()
        return response

    add_operation_doc(wrapper, parameters=[IDEMPOTENCY_KEY_PARAMETER])
    wrapper.lixi_idempotent = True  # type: ignore[attr-defined] - copied outwards by functools.wraps
    return wrapper


def is_idempotent(view: Callable) -> bool:
    """Whether `view` is, or wraps, an @idempotent view."""
    return getattr(view, "lixi_idempotent", False)


def purge_expired_records() -> int:
    """Forget keys older than IDEMPOTENCY_TTL_HOURS (run from cron: flask purge-idempotency)."""
    cutoff = utcnow() - timedelta(hours=current_app.config["IDEMPOTENCY_TTL_HOURS"])
    with write_transaction():
        result = db.session.execute(delete(IdempotencyRecord).where(IdempotencyRecord.created_at < cutoff))
    return result.rowcount
