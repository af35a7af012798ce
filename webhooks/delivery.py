"""Webhook deliveries: fanning an outbox message out to the endpoints that want it, and sending each
one (signed, retried with backoff, logged)."""

from __future__ import annotations

import json
import logging
from datetime import datetime, timedelta
from typing import Any

from flask import current_app
from redis.exceptions import RedisError
from sqlalchemy import select, update

from lixi.database import insert_ignoring_duplicates, write_transaction
from lixi.extensions import db
from lixi.jobs import backoff_seconds, claim_try, enqueue, enqueue_at, try_is_due
from lixi.models import OutboxMessage
from lixi.timeutil import utcnow
from webhooks.client import post_once, signature_header
from webhooks.models import DELIVERED, FAILED, PENDING, WebhookDelivery, WebhookEndpoint

log = logging.getLogger(__name__)

MAX_BACKOFF_SECONDS = 3600
ERROR_LENGTH = 500  # webhook_deliveries.last_error is a String(500)
USER_AGENT = "Lixi-Webhooks/1"

_DELIVERIES = WebhookDelivery.__table__
_MESSAGES = OutboxMessage.__table__


# --- Fan-out ---------------------------------------------------------------------------------


def enqueue_dispatch(message_ids: list[int]) -> None:
    """After commit: ask a worker to fan these messages out. Never raises (the sweep catches up)."""
    try:
        for message_id in message_ids:
            enqueue(dispatch_message, message_id)
    except RedisError as error:
        log.warning("outbox: could not enqueue %s (the sweep will): %s", message_ids, error)


def dispatch_message(message_id: int) -> None:
    """Fan one outbox message out to the brand's endpoints that want its topic, and queue the sends."""
    fan_out(message_id)
    enqueue_deliveries(_due_deliveries_of([message_id]))


def fan_out(message_id: int) -> None:
    """One delivery row per interested endpoint, then `sent_at`; running it twice adds nothing."""
    with write_transaction() as session:
        # Core, not session.get: the session keeps objects across commits and may hold an old copy.
        message = session.execute(
            select(_MESSAGES.c.id, _MESSAGES.c.brand_id, _MESSAGES.c.topic, _MESSAGES.c.sent_at).where(
                _MESSAGES.c.id == message_id
            )
        ).first()
        # Once fanned out, a message is not offered to endpoints created afterwards.
        if message is None or message.sent_at is not None:
            return
        now = utcnow()
        endpoints = session.execute(
            select(WebhookEndpoint.id, WebhookEndpoint.topics).where(
                WebhookEndpoint.brand_id == message.brand_id, WebhookEndpoint.disabled_at.is_(None)
            )
        ).all()
        for endpoint_id, topics in endpoints:
            if topics and message.topic not in topics:
                continue
            # The (endpoint, message) unique key makes a second fan-out, even a concurrent one, harmless.
            insert_ignoring_duplicates(
                WebhookDelivery,
                {
                    "brand_id": message.brand_id,
                    "endpoint_id": endpoint_id,
                    "message_id": message.id,
                    "status": PENDING,
                    "attempts": 0,
                    "next_attempt_at": now,
                    "created_at": now,
                },
            )
        session.execute(
            update(_MESSAGES)
            .where(_MESSAGES.c.id == message.id, _MESSAGES.c.sent_at.is_(None))
            .values(sent_at=now, attempts=_MESSAGES.c.attempts + 1)
        )


def _due_deliveries_of(message_ids: list[int]) -> list[int]:
    now = utcnow()
    query = select(WebhookDelivery.id).where(
        WebhookDelivery.message_id.in_(message_ids),
        WebhookDelivery.status == PENDING,
        try_is_due(_DELIVERIES, now),
    )
    ids = list(db.session.execute(query.order_by(WebhookDelivery.id)).scalars())
    db.session.commit()  # end the read: workers hold no snapshot open between jobs
    return ids


def enqueue_deliveries(delivery_ids: list[int]) -> int:
    """Queue a send per delivery (raises RedisError); duplicates are harmless, `deliver` claims first."""
    for delivery_id in delivery_ids:
        enqueue(deliver, delivery_id)
    return len(delivery_ids)


# --- Delivery ----------------------------------------------------------------------------------


def deliver(delivery_id: int) -> None:
    """Send one delivery if it is still pending and due; on failure record why and schedule the retry."""
    config = current_app.config
    row = db.session.execute(
        select(WebhookDelivery, WebhookEndpoint, OutboxMessage)
        .join(WebhookEndpoint, WebhookEndpoint.id == WebhookDelivery.endpoint_id)
        .join(OutboxMessage, OutboxMessage.id == WebhookDelivery.message_id)
        .where(WebhookDelivery.id == delivery_id)
        .execution_options(populate_existing=True)  # the caller's session may hold an older copy
    ).first()
    if row is None or row[0].status != PENDING:
        return
    delivery, endpoint, message = row
    if endpoint.disabled_at is not None:
        _give_up(delivery_id, delivery.attempts, "The endpoint was disabled.")
        return
    if delivery.attempts >= config["WEBHOOK_MAX_ATTEMPTS"]:
        # A worker died during the last try (or the limit was lowered): no more tries.
        _give_up(delivery_id, delivery.attempts, delivery.last_error or "No attempts left.")
        return
    # Everything the send needs is read before the claim, so no transaction is open during the POST.
    url, secret, topic, message_id = endpoint.url, endpoint.secret, message.topic, message.id
    body = _body(message)
    attempt = delivery.attempts + 1
    if not claim_try(
        _DELIVERIES, delivery_id, delivery.attempts, 60 + 4 * float(config["WEBHOOK_TIMEOUT_SECONDS"])
    ):
        return  # not due yet, being sent by another worker right now, or finished meanwhile
    headers = {
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        "Lixi-Event": topic,
        "Lixi-Delivery": str(delivery_id),
        "Lixi-Message": str(message_id),
        "Lixi-Signature": signature_header(secret, body),
    }
    # Outside any transaction: a slow receiver locks nothing.
    status_code, error = post_once(url, body, headers)
    _record_outcome(delivery_id, attempt, status_code, error)


def _body(message: OutboxMessage) -> bytes:
    envelope = {
        "id": message.id,
        "type": message.topic,
        "created_at": message.created_at.isoformat(),
        "brand_id": message.brand_id,
        "data": message.payload,
    }
    return json.dumps(envelope, separators=(",", ":")).encode()


def _record_outcome(delivery_id: int, attempt: int, status_code: int | None, error: str | None) -> None:
    config = current_app.config
    now = utcnow()
    retry_at: datetime | None = None
    with write_transaction() as session:
        if error is None:
            # Only a pending delivery becomes delivered, so it is never marked (or sent) twice.
            session.execute(
                update(_DELIVERIES)
                .where(_DELIVERIES.c.id == delivery_id, _DELIVERIES.c.status == PENDING)
                .values(
                    status=DELIVERED,
                    delivered_at=now,
                    last_status_code=status_code,
                    last_error=None,
                    next_attempt_at=None,
                )
            )
            return
        values: dict[str, Any] = {"last_status_code": status_code, "last_error": error[:ERROR_LENGTH]}
        if attempt >= config["WEBHOOK_MAX_ATTEMPTS"]:
            values.update(status=FAILED, next_attempt_at=None)
        else:
            delay = backoff_seconds(attempt, config["WEBHOOK_RETRY_BASE_SECONDS"], MAX_BACKOFF_SECONDS)
            retry_at = now + timedelta(seconds=delay)
            values["next_attempt_at"] = retry_at
        recorded = session.execute(
            update(_DELIVERIES)
            .where(
                _DELIVERIES.c.id == delivery_id,
                _DELIVERIES.c.status == PENDING,
                _DELIVERIES.c.attempts == attempt,  # another worker took over after our lease: its turn
            )
            .values(**values)
        )
        if recorded.rowcount != 1:
            retry_at = None
    if retry_at is not None:
        _schedule(delivery_id, retry_at)
    log.info("webhook delivery %s attempt %s failed: %s", delivery_id, attempt, error)


def _give_up(delivery_id: int, attempts: int, reason: str) -> None:
    now = utcnow()
    with write_transaction() as session:
        session.execute(
            update(_DELIVERIES)
            .where(
                _DELIVERIES.c.id == delivery_id,
                _DELIVERIES.c.status == PENDING,
                _DELIVERIES.c.attempts == attempts,
                # Not while a try is in flight (its lease runs): it may yet succeed, and records itself.
                try_is_due(_DELIVERIES, now),
            )
            .values(status=FAILED, last_error=reason[:ERROR_LENGTH], next_attempt_at=None)
        )


def _schedule(delivery_id: int, retry_at: datetime) -> None:
    try:
        enqueue_at(retry_at, deliver, delivery_id)  # rounded up to RQ's whole seconds
    except RedisError as error:
        log.warning("webhooks: could not schedule delivery %s (the sweep will): %s", delivery_id, error)
