"""The outbox: events written in the transaction of the change they report, delivered after commit.

`publish()` adds a row to `outbox_messages` inside the caller's write transaction, so an event
exists if and only if its change committed. After the commit the session nudges the job queue
(`lixi.webhooks.dispatch_message`); if Redis is down at that moment nothing is lost: the
worker's sweep (`lixi.webhooks.sweep`) finds messages not yet fanned out.
"""

from __future__ import annotations

import logging
from typing import Any

from sqlalchemy import event, insert
from sqlalchemy.orm import Session

from lixi.extensions import db
from lixi.models import OutboxMessage
from lixi.timeutil import utcnow

log = logging.getLogger(__name__)

TOPICS = ("voucher.issued", "voucher.redeemed", "voucher.voided", "redemption.voided", "prize.won")
_PENDING = "lixi_outbox_pending"
_INSERT = insert(OutboxMessage.__table__).returning(OutboxMessage.__table__.c.id)


def publish(brand_id: int, topic: str, payload: dict[str, Any]) -> None:
    """Record the event in the current transaction (call it inside write_transaction)."""
    assert topic in TOPICS, topic
    session = db.session()
    message_id = session.execute(
        _INSERT,
        {"brand_id": brand_id, "topic": topic, "payload": payload, "created_at": utcnow(), "attempts": 0},
    ).scalar_one()
    session.info.setdefault(_PENDING, []).append(message_id)


@event.listens_for(Session, "after_commit")
def _nudge_the_queue(session: Session) -> None:
    pending = session.info.pop(_PENDING, None)
    if not pending:
        return
    from lixi.webhooks import enqueue_dispatch  # lixi.webhooks imports this module

    enqueue_dispatch(pending)


@event.listens_for(Session, "after_rollback")
def _forget_rolled_back(session: Session) -> None:
    session.info.pop(_PENDING, None)
