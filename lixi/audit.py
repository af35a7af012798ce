"""Audit trail: one row per state change, in the change's own transaction."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import datetime
from typing import Any

from flask import g, has_request_context
from sqlalchemy import Insert, bindparam, insert, select, update
from sqlalchemy.sql.expression import ColumnElement, FromClause

from lixi.database import insert_from, prefixed, write_transaction
from lixi.extensions import db
from lixi.models import AuditEvent
from lixi.timeutil import utcnow

_job_actor: ContextVar[str | None] = ContextVar("lixi_job_actor", default=None)


@contextmanager
def acting_as(actor: str) -> Iterator[None]:
    """Background work done on someone's behalf (a bulk issue) is audited as theirs."""
    token = _job_actor.set(actor)
    try:
        yield
    finally:
        _job_actor.reset(token)


def current_actor() -> str:
    """Who is acting: the API key, the logged-in staff member, a job's requester, or the command line."""
    job_actor = _job_actor.get()
    if job_actor:
        return job_actor
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
    """Write the row now, in the caller's transaction: a plain INSERT on its connection (no
    unit-of-work flush, no ORM execution events: every state change of the hot paths runs it)."""
    db.session.connection().execute(
        _INSERT_AUDIT_EVENT, audit_row(brand_id, action, subject_type, subject_id, data, actor)
    )


def audit_row(
    brand_id: int | None,
    action: str,
    subject_type: str,
    subject_id: Any,
    data: dict[str, Any] | None = None,
    actor: str | None = None,
) -> dict[str, Any]:
    """An audit row as record_audit writes it; record_audits writes many in one INSERT."""
    return {
        "brand_id": brand_id,
        "actor": actor or current_actor(),
        "action": action,
        "subject_type": subject_type,
        "subject_id": str(subject_id),
        "data": data or {},
        "created_at": utcnow(),
    }


AUDIT_PREFIX = "audit_"
_AUDIT_BOUND = ("brand_id", "actor", "action", "subject_type", "subject_id", "created_at")  # audit_row's


def audit_insert_from(source: FromClause, data: ColumnElement[Any] | None = None) -> Insert:
    """The audit row of a change written as one statement (lixi.database.insert_from): one for each
    row of `source`, its data computed by the statement (or, without `data`, bound as given); the
    rest from audit_params."""
    table = AuditEvent.__table__
    if data is None:
        data = bindparam(AUDIT_PREFIX + "data", type_=table.c.data.type)
    return insert_from(table, source, AUDIT_PREFIX, _AUDIT_BOUND, {"data": data})


def audit_params(
    brand_id: int | None, action: str, subject_type: str, subject_id: Any, data: dict[str, Any]
) -> dict[str, Any]:
    """audit_insert_from's bound parameters: the row record_audit would write, `data` the part of
    its data the statement does not compute."""
    return prefixed(AUDIT_PREFIX, audit_row(brand_id, action, subject_type, subject_id, data))


def record_audits(rows: list[dict[str, Any]]) -> None:
    """Write audit_row()s in one INSERT (a bulk chunk's), in the caller's transaction."""
    if rows:
        db.session.execute(_INSERT_AUDIT_EVENT, rows)


AUDIT_PAGE_SIZE = 100


def list_audit_events(
    brand_id: int,
    actor: str | None = None,
    action: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    before_id: int | None = None,
) -> list[AuditEvent]:
    """The brand's audit trail, newest first, a page at a time (`before_id`: the next page)."""
    query = select(AuditEvent).where(AuditEvent.brand_id == brand_id)
    if actor:
        query = query.where(AuditEvent.actor == actor)
    if action:
        query = query.where(AuditEvent.action.startswith(action, autoescape=True))
    if since:
        query = query.where(AuditEvent.created_at >= since)
    if until:
        query = query.where(AuditEvent.created_at < until)
    if before_id:
        query = query.where(AuditEvent.id < before_id)
    query = query.order_by(AuditEvent.id.desc()).limit(AUDIT_PAGE_SIZE)
    return list(db.session.execute(query).scalars())


def stamp_once(
    row: Any,
    attribute: str,
    action: str,
    subject_type: str,
    data: dict[str, Any],
    also: dict[str, Any] | None = None,
) -> bool:
    """Set a row's moment (archived_at, disabled_at, revoked_at) once, audited, in one transaction.

    A conditional UPDATE: of two people archiving the same thing at once, one stamps and audits
    it and the other changes nothing. `also`: other columns the same statement sets. Returns
    whether this call did it.
    """
    model = type(row)
    with write_transaction() as session:
        stamped = session.execute(
            update(model)
            .where(model.id == row.id, getattr(model, attribute).is_(None))
            .values({attribute: utcnow(), **(also or {})})
            .execution_options(synchronize_session=False)
        )
        if stamped.rowcount == 1:
            record_audit(row.brand_id, action, subject_type, row.id, data)
    db.session.refresh(row)
    return stamped.rowcount == 1
