"""The outbox: events written in the transaction of the change they report, delivered after commit.

`publish()` adds a row to `outbox_messages` inside the caller's write transaction, so an event
exists if and only if its change committed. After the commit the session nudges the job queue
(`lixi.webhooks.dispatch_message`) when someone subscribes to it; if Redis is down at that
moment (or the subscription is newer than this worker knows), nothing is lost: the worker's
sweep (`lixi.webhooks.sweep`) finds messages not yet fanned out.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from flask import current_app
from sqlalchemy import event, insert, select
from sqlalchemy.orm import Session

from lixi.extensions import db
from lixi.models import OutboxMessage, WebhookEndpoint
from lixi.timeutil import utcnow

log = logging.getLogger(__name__)

TOPICS = ("voucher.issued", "voucher.redeemed", "voucher.voided", "redemption.voided", "prize.won")
_PENDING = "lixi_outbox_pending"
_INSERT = insert(OutboxMessage.__table__).returning(OutboxMessage.__table__.c.id)


def publish(brand_id: int, topic: str, payload: dict[str, Any]) -> None:
    """Record the event in the current transaction (call it inside write_transaction).

    The queue is nudged after commit only if the brand has an endpoint for the topic: most
    events have no subscriber, and a Redis round trip on every redemption would cost more than
    the rest of the outbox. The row is written either way (the sweep fans it out if needed).
    """
    assert topic in TOPICS, topic
    session = db.session()
    message_id = session.execute(
        _INSERT,
        {"brand_id": brand_id, "topic": topic, "payload": payload, "created_at": utcnow(), "attempts": 0},
    ).scalar_one()
    if topic in _subscribed_topics(brand_id):
        session.info.setdefault(_PENDING, []).append(message_id)


# Per worker: which topics each brand's enabled endpoints want, re-read every
# WEBHOOK_ENDPOINT_CACHE_SECONDS (at once on the worker that adds or disables an endpoint).
_subscriptions: dict[int, tuple[float, frozenset[str]]] = {}


def _subscribed_topics(brand_id: int) -> frozenset[str]:
    now = time.monotonic()
    known = _subscriptions.get(brand_id)
    if known is not None and now - known[0] < current_app.config["WEBHOOK_ENDPOINT_CACHE_SECONDS"]:
        return known[1]
    wanted = db.session.execute(
        select(WebhookEndpoint.topics).where(
            WebhookEndpoint.brand_id == brand_id, WebhookEndpoint.disabled_at.is_(None)
        )
    ).scalars()
    topics: set[str] = set()
    for endpoint_topics in wanted:
        topics.update(endpoint_topics or TOPICS)  # no topics: every topic
    if len(_subscriptions) > 10_000:
        _subscriptions.clear()
    _subscriptions[brand_id] = (now, frozenset(topics))
    return _subscriptions[brand_id][1]


def forget_subscriptions(brand_id: int | None = None) -> None:
    """After a brand's endpoints change (or, with no brand, all: the tests reuse brand ids)."""
    if brand_id is None:
        _subscriptions.clear()
    else:
        _subscriptions.pop(brand_id, None)


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
