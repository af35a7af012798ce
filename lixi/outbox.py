"""The outbox: events written in the transaction of the change they report, handed on after commit.

`publish()` adds a row to `outbox_messages` inside the caller's write transaction, so an event
exists if and only if its change committed. The readers of the outbox (webhooks) plug in with
`lixi.plugins.add_outbox_hook`: each is asked in the transaction whether it wants the message
(most events have no subscriber, and a Redis round trip on every redemption would cost more than
the rest of the outbox) and gets the ids it wanted after the commit. If that nudge is lost (Redis
down, a newer subscription this worker does not know yet), nothing is: the reader's sweep finds
messages not yet handled.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy import event, insert
from sqlalchemy.orm import Session
from sqlalchemy.sql.dml import ReturningInsert
from sqlalchemy.sql.expression import ColumnElement, FromClause

from lixi.database import insert_from, prefixed
from lixi.extensions import db
from lixi.models import OutboxMessage
from lixi.plugins import plugged
from lixi.timeutil import utcnow

_PENDING = "lixi_outbox_pending"
_INSERT = insert(OutboxMessage.__table__).returning(OutboxMessage.__table__.c.id)
_INSERT_MANY = insert(OutboxMessage.__table__).returning(
    OutboxMessage.__table__.c.id, sort_by_parameter_order=True
)


def publish(brand_id: int, topic: str, payload: dict[str, Any]) -> None:
    """Record the event in the current transaction (call it inside write_transaction).

    The row is written whether or not anyone wants it now (a reader's sweep may fan it out later).
    """
    plugins = plugged()
    message_id = (
        db.session.connection()
        .execute(_INSERT, _message_row(brand_id, topic, payload))  # Core on the transaction's connection
        .scalar_one()
    )
    for hook in plugins.outbox_hooks:
        if hook.wants(brand_id, topic):
            call_after_commit(hook.after_commit, message_id)


def _message_row(brand_id: int, topic: str, payload: dict[str, Any]) -> dict[str, Any]:
    assert topic in plugged().topics, topic  # a domain names its topics in its register(app)
    return {"brand_id": brand_id, "topic": topic, "payload": payload, "created_at": utcnow(), "attempts": 0}


EVENT_PREFIX = "event_"


def event_insert_from(source: FromClause, payload: ColumnElement[Any]) -> ReturningInsert[Any]:
    """The outbox row of a change written as one statement (lixi.database.insert_from): one for each
    row of `source`, its payload computed by the statement, returning its id for published_alone."""
    table = OutboxMessage.__table__
    bound = ("brand_id", "topic", "created_at", "attempts")  # _message_row's
    return insert_from(table, source, EVENT_PREFIX, bound, {"payload": payload}).returning(table.c.id)


def event_params(brand_id: int, topic: str, payload: dict[str, Any]) -> dict[str, Any]:
    """event_insert_from's bound parameters (`payload`: what the statement does not compute)."""
    return prefixed(EVENT_PREFIX, _message_row(brand_id, topic, payload))


def published_alone(brand_id: int, topic: str, message_id: int) -> None:
    """Hand on an event that a statement of its own wrote and committed (event_insert_from): what
    publish() leaves for after the commit, now."""
    for hook in plugged().outbox_hooks:
        if hook.wants(brand_id, topic):
            hook.after_commit([message_id])


def publish_many(brand_id: int, topic: str, payloads: list[dict[str, Any]]) -> None:
    """publish() for many events of one topic in one INSERT (a bulk job's chunk: one round trip to
    the database, not one per event)."""
    if not payloads:
        return
    plugins = plugged()
    assert topic in plugins.topics, topic
    now = utcnow()
    rows = [
        {"brand_id": brand_id, "topic": topic, "payload": payload, "created_at": now, "attempts": 0}
        for payload in payloads
    ]
    message_ids = db.session().execute(_INSERT_MANY, rows).scalars().all()
    for hook in plugins.outbox_hooks:
        if hook.wants(brand_id, topic):
            for message_id in message_ids:
                call_after_commit(hook.after_commit, message_id)


def call_after_commit(after_commit: Callable[[list[int]], None], row_id: int) -> None:
    """After the current transaction commits, `after_commit(ids)` gets this id with the others it
    was given in that transaction (one call per callable); after a rollback, nothing. The outbox's
    readers and the mail queue (lixi.mail) nudge their workers this way; it must not raise."""
    db.session().info.setdefault(_PENDING, []).append((after_commit, row_id))


def _after_commit(session: Session) -> None:
    pending = session.info.pop(_PENDING, None)
    if not pending:
        return
    by_hook: dict[Any, list[int]] = {}
    for after_commit, message_id in pending:
        by_hook.setdefault(after_commit, []).append(message_id)
    for after_commit, message_ids in by_hook.items():
        after_commit(message_ids)


def _after_rollback(session: Session) -> None:
    session.info.pop(_PENDING, None)


def init_outbox() -> None:
    """Listen to every session's commits and rollbacks: once per process, however many apps (the
    hooks are read per app)."""
    if not event.contains(Session, "after_commit", _after_commit):
        event.listen(Session, "after_commit", _after_commit)
        event.listen(Session, "after_rollback", _after_rollback)
