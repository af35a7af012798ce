"""Audit trail: one row per state change, in the change's own transaction."""

from __future__ import annotations

from typing import Any

from flask import g, has_request_context
from sqlalchemy import insert

from lixi.extensions import db
from lixi.models import AuditEvent
from lixi.timeutil import utcnow


def current_actor() -> str:
    """Who is acting: the API key, the logged-in staff member, or the command line."""
    if has_request_context():
        actor = g.get("actor")
        if actor:
            return actor
        return "anonymous"
    return "cli"


# Built once: every state change of the API runs it.
_INSERT_AUDIT_EVENT = insert(AuditEvent.__table__)  # Core: skips the ORM bulk-insert path


def record_audit(
    brand_id: int | None,
    action: str,
    subject_type: str,
    subject_id: Any,
    data: dict[str, Any] | None = None,
    actor: str | None = None,
) -> None:
    """Write the row now, in the caller's transaction (a plain INSERT: no unit-of-work flush)."""
    row = {
        "brand_id": brand_id,
        "actor": actor or current_actor(),
        "action": action,
        "subject_type": subject_type,
        "subject_id": str(subject_id),
        "data": data or {},
        "created_at": utcnow(),
    }
    db.session.execute(_INSERT_AUDIT_EVENT, [row])
