"""Audit trail: one row per state change, in the change's own transaction."""

from __future__ import annotations

from typing import Any

from flask import g, has_request_context

from lixi.extensions import db
from lixi.models import AuditEvent


def current_actor() -> str:
    """Who is acting: the API key, the logged-in staff member, or the command line."""
    if has_request_context():
        actor = g.get("actor")
        if actor:
            return actor
        return "anonymous"
    return "cli"


def record_audit(
    brand_id: int | None,
    action: str,
    subject_type: str,
    subject_id: Any,
    data: dict[str, Any] | None = None,
    actor: str | None = None,
) -> AuditEvent:
    event = AuditEvent(
        brand_id=brand_id,
        actor=actor or current_actor(),
        action=action,
        subject_type=subject_type,
        subject_id=str(subject_id),
        data=data or {},
    )
    db.session.add(event)
    return event
