"""Webhook endpoints: the URLs a brand registers for its events, and which topics they want."""

from __future__ import annotations

import secrets
import time
from urllib.parse import urlsplit

from flask import current_app
from sqlalchemy import select, update
from sqlalchemy.orm import joinedload

from lixi.audit import record_audit
from lixi.database import write_transaction
from lixi.errors import NotFound, invalid_field
from lixi.extensions import db
from lixi.models import scoped
from lixi.plugins import plugged
from lixi.timeutil import utcnow
from webhooks.client import refuse_private_host
from webhooks.models import FAILED, PENDING, WebhookDelivery, WebhookEndpoint

MAX_URL_LENGTH = 2000
MAX_DELIVERIES_LISTED = 500

_DELIVERIES = WebhookDelivery.__table__
_ENDPOINTS = WebhookEndpoint.__table__


def topics_offered() -> tuple[str, ...]:
    """Every topic the domains publish (lixi.plugins.add_topics), in the order they added them."""
    return tuple(plugged().topics)


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
    known = topics_offered()
    chosen: list[str] = []
    for topic in topics or []:
        if topic not in known:
            raise invalid_field("topics", f"Unknown topic {topic!r}; choose from {', '.join(known)}.")
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


# --- Who wants what ----------------------------------------------------------------------------

# Per worker: which topics each brand's enabled endpoints want, re-read every
# WEBHOOK_ENDPOINT_CACHE_SECONDS (at once on the worker that adds or disables an endpoint).
_subscriptions: dict[int, tuple[float, frozenset[str]]] = {}


def is_subscribed(brand_id: int, topic: str) -> bool:
    """Whether one of the brand's enabled endpoints wants the topic (asked by lixi.outbox.publish)."""
    return topic in _subscribed_topics(brand_id)


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
        topics.update(endpoint_topics or topics_offered())  # no topics: every topic
    if len(_subscriptions) > 10_000:
        _subscriptions.clear()
    subscribed = frozenset(topics)
    _subscriptions[brand_id] = (now, subscribed)
    return subscribed


def forget_subscriptions(brand_id: int | None = None) -> None:
    """After a brand's endpoints change (or, with no brand, all: the tests reuse brand ids)."""
    if brand_id is None:
        _subscriptions.clear()
    else:
        _subscriptions.pop(brand_id, None)
