"""Webhooks: brands' endpoints, and delivering outbox events to them (signed, retried, logged)."""

from __future__ import annotations

import json
import logging
import secrets
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from flask import current_app
from redis.exceptions import RedisError
from sqlalchemy import and_, or_, select, update
from sqlalchemy.orm import joinedload

from lixi.audit import record_audit
from lixi.database import insert_ignoring_duplicates, write_transaction
from lixi.errors import NotFound, invalid_field
from lixi.extensions import db
from lixi.jobs import enqueue, queue
from lixi.models import OutboxMessage, WebhookDelivery, WebhookEndpoint, scoped
from lixi.outbox import TOPICS, forget_subscriptions
from lixi.timeutil import utcnow
from lixi.webhook_http import (
    PrivateAddressRefused,
    is_public_address,
    post_once,
    refuse_private_host,
    signature_header,
    verify_signature,
)

__all__ = ["PrivateAddressRefused", "is_public_address", "verify_signature"]  # for receivers and tests

log = logging.getLogger(__name__)

PENDING, DELIVERED, FAILED = "pending", "delivered", "failed"
MAX_URL_LENGTH = 2000
MAX_BACKOFF_SECONDS = 3600
MAX_DELIVERIES_LISTED = 500
SWEEP_BATCH = 500
ERROR_LENGTH = 500  # webhook_deliveries.last_error is a String(500)
USER_AGENT = "Lixi-Webhooks/1"

_DELIVERIES = WebhookDelivery.__table__
_ENDPOINTS = WebhookEndpoint.__table__
_MESSAGES = OutboxMessage.__table__


# --- Endpoints ---------------------------------------------------------------------------------


def create_endpoint(brand_id: int, url: str, topics: list[str]) -> WebhookEndpoint:
    """Register a URL for the brand's events (`topics` empty: every topic); its secret signs each POST."""
    url = _valid_url(url)  # resolves the host: before the transaction, so no lock waits on DNS
    topics = _valid_topics(topics)
    with write_transaction() as session:
        endpoint = WebhookEndpoint(
            brand_id=brand_id,
            url=url,
            secret="whsec_" + secrets.token_urlsafe(32),
            topics=topics,
            created_at=utcnow(),
        )
        session.add(endpoint)
        session.flush()
        record_audit(
            brand_id, "webhook.created", "webhook_endpoint", endpoint.id, {"url": url, "topics": topics}
        )
    forget_subscriptions(brand_id)
    return endpoint


def list_endpoints(brand_id: int) -> list[WebhookEndpoint]:
    """The brand's endpoints, disabled ones included (the dashboard shows them greyed out)."""
    query = scoped(WebhookEndpoint, brand_id).order_by(WebhookEndpoint.id)
    return list(db.session.execute(query).scalars())


def get_endpoint(brand_id: int, endpoint_id: int) -> WebhookEndpoint:
    """One of the brand's endpoints; another brand's is NotFound, like one that does not exist."""
    endpoint = db.session.execute(
        scoped(WebhookEndpoint, brand_id).where(WebhookEndpoint.id == endpoint_id)
    ).scalar()
    if endpoint is None:
        raise NotFound("No such webhook endpoint.")
    return endpoint


def disable_endpoint(brand_id: int, endpoint_id: int) -> WebhookEndpoint:
    """Stop sending to the endpoint for good; what it still had pending is marked failed."""
    endpoint = get_endpoint(brand_id, endpoint_id)
    with write_transaction() as session:
        now = utcnow()
        disabled = session.execute(
            update(_ENDPOINTS)
            .where(_ENDPOINTS.c.id == endpoint.id, _ENDPOINTS.c.disabled_at.is_(None))
            .values(disabled_at=now)
        )
        # Conditional, so two admins disabling at once audit it once.
        if disabled.rowcount == 1:
            session.execute(
                update(_DELIVERIES)
                .where(_DELIVERIES.c.endpoint_id == endpoint.id, _DELIVERIES.c.status == PENDING)
                .values(status=FAILED, last_error="The endpoint was disabled.", next_attempt_at=None)
            )
            record_audit(brand_id, "webhook.disabled", "webhook_endpoint", endpoint.id, {"url": endpoint.url})
    db.session.refresh(endpoint)
    forget_subscriptions(brand_id)
    return endpoint


def list_deliveries(brand_id: int, endpoint_id: int | None = None, limit: int = 100) -> list[WebhookDelivery]:
    """The delivery log, newest first, with each delivery's endpoint and message loaded."""
    query = scoped(WebhookDelivery, brand_id)
    if endpoint_id is not None:
        get_endpoint(brand_id, endpoint_id)
        query = query.where(WebhookDelivery.endpoint_id == endpoint_id)
    query = (
        query.options(joinedload(WebhookDelivery.endpoint), joinedload(WebhookDelivery.message))
        .order_by(WebhookDelivery.id.desc())
        .limit(max(1, min(limit, MAX_DELIVERIES_LISTED)))
        # Workers change deliveries behind this session's back; never show a copy it kept.
        .execution_options(populate_existing=True)
    )
    return list(db.session.execute(query).scalars())


def _valid_topics(topics: list[str] | None) -> list[str]:
    chosen: list[str] = []
    for topic in topics or []:
        if topic not in TOPICS:
            raise invalid_field("topics", f"Unknown topic {topic!r}; choose from {', '.join(TOPICS)}.")
        if topic not in chosen:
            chosen.append(topic)
    return chosen


def _valid_url(url: str) -> str:
    url = (url or "").strip()
    if not url:
        raise invalid_field("url", "Give the endpoint's URL.")
    if len(url) > MAX_URL_LENGTH:
        raise invalid_field("url", f"The URL may be at most {MAX_URL_LENGTH} characters.")
    if any(char.isspace() or ord(char) < 32 for char in url):
        raise invalid_field("url", "The URL may not contain spaces or control characters.")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as error:
        raise invalid_field("url", "This is not a valid URL.") from error
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise invalid_field("url", "Use an http:// or https:// URL.")
    if parts.username is not None or parts.password is not None:
        # It would sit in the dashboard and the audit log; the signature authenticates us instead.
        raise invalid_field("url", "The URL may not carry a user name or password; check Lixi-Signature.")
    if not current_app.config["WEBHOOK_ALLOW_PRIVATE_ADDRESSES"]:
        refuse_private_host(parts.hostname, port or (443 if parts.scheme == "https" else 80))
    return url


# --- Fan-out -----------------------------------------------------------------------------------


def enqueue_dispatch(message_ids: list[int]) -> None:
    """After commit: ask a worker to fan these messages out. Never raises (the sweep catches up)."""
    try:
        for message_id in message_ids:
            enqueue(dispatch_message, message_id)
    except RedisError as error:
        log.warning("outbox: could not enqueue %s (the sweep will): %s", message_ids, error)


def dispatch_message(message_id: int) -> None:
    """Fan one outbox message out to the brand's endpoints that want its topic, and queue the sends."""
    _fan_out(message_id)
    _enqueue_deliveries(_due_deliveries_of([message_id]))


def _fan_out(message_id: int) -> None:
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
        or_(WebhookDelivery.next_attempt_at.is_(None), WebhookDelivery.next_attempt_at <= now),
    )
    ids = list(db.session.execute(query.order_by(WebhookDelivery.id)).scalars())
    db.session.commit()  # end the read: workers hold no snapshot open between jobs
    return ids


def _enqueue_deliveries(delivery_ids: list[int]) -> int:
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
    if not _claim(delivery_id, delivery.attempts, float(config["WEBHOOK_TIMEOUT_SECONDS"])):
        return  # not due yet, being sent by another worker right now, or finished meanwhile
    headers = {
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        "Lixi-Event": topic,
        "Lixi-Delivery": str(delivery_id),
        "Lixi-Message": str(message_id),
        "Lixi-Signature": signature_header(secret, body),
    }
    status_code, error = post_once(
        url, body, headers
    )  # outside any transaction: a slow receiver locks nothing
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


def _claim(delivery_id: int, attempts_seen: int, timeout: float) -> bool:
    """Take the delivery for one try: count the attempt and push next_attempt_at past the send.

    The UPDATE is conditional on the attempt count we read and on being due, so of two workers
    holding the same delivery (a sweep's duplicate enqueue) only one sends; if this worker dies
    mid-send the delivery comes due again when the lease runs out and the sweep re-queues it.
    """
    now = utcnow()
    lease_until = now + timedelta(seconds=60 + 4 * timeout)
    with write_transaction() as session:
        claimed = session.execute(
            update(_DELIVERIES)
            .where(
                _DELIVERIES.c.id == delivery_id,
                _DELIVERIES.c.status == PENDING,
                _DELIVERIES.c.attempts == attempts_seen,
                or_(_DELIVERIES.c.next_attempt_at.is_(None), _DELIVERIES.c.next_attempt_at <= now),
            )
            .values(attempts=attempts_seen + 1, next_attempt_at=lease_until)
        )
    return claimed.rowcount == 1


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
            delay = min(config["WEBHOOK_RETRY_BASE_SECONDS"] * 2**attempt, MAX_BACKOFF_SECONDS)
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
                or_(_DELIVERIES.c.next_attempt_at.is_(None), _DELIVERIES.c.next_attempt_at <= now),
            )
            .values(status=FAILED, last_error=reason[:ERROR_LENGTH], next_attempt_at=None)
        )


def _schedule(delivery_id: int, retry_at: datetime) -> None:
    # RQ's scheduler counts whole seconds (it releases a job once its second has begun): round up,
    # so the job never runs before the delivery is due and finds nothing to claim.
    run_at = retry_at.replace(microsecond=0) + timedelta(seconds=1) if retry_at.microsecond else retry_at
    try:
        queue().enqueue_at(run_at, deliver, delivery_id)
    except RedisError as error:
        log.warning("webhooks: could not schedule delivery %s (the sweep will): %s", delivery_id, error)


# --- Sweep -------------------------------------------------------------------------------------


def sweep(grace_seconds: float = 10.0) -> dict[str, int]:
    """Catch up on work lost with Redis or a worker: fan out and queue what is overdue by `grace_seconds`.

    Run periodically by the worker command (every WEBHOOK_SWEEP_SECONDS) inside an app context.
    The grace leaves the normal path (enqueue after commit, RQ's scheduled retries) time to act,
    and anything queued twice is harmless: `deliver` claims a delivery before sending it.
    """
    cutoff = utcnow() - timedelta(seconds=grace_seconds)
    message_ids = list(
        db.session.execute(
            select(OutboxMessage.id)
            .where(OutboxMessage.sent_at.is_(None), OutboxMessage.created_at <= cutoff)
            .order_by(OutboxMessage.id)
            .limit(SWEEP_BATCH)
        ).scalars()
    )
    for message_id in message_ids:
        _fan_out(message_id)
    due = select(WebhookDelivery.id).where(
        WebhookDelivery.status == PENDING,
        or_(
            WebhookDelivery.message_id.in_(message_ids),  # just fanned out above: due now
            WebhookDelivery.next_attempt_at <= cutoff,
            and_(WebhookDelivery.next_attempt_at.is_(None), WebhookDelivery.created_at <= cutoff),
        ),
    )
    delivery_ids = list(db.session.execute(due.order_by(WebhookDelivery.id).limit(SWEEP_BATCH)).scalars())
    db.session.commit()  # end the read before talking to Redis
    try:
        enqueued = _enqueue_deliveries(delivery_ids)
    except RedisError as error:
        log.warning("webhooks: sweep could not enqueue deliveries: %s", error)
        enqueued = 0
    return {"dispatched": len(message_ids), "enqueued": enqueued}
