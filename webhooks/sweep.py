"""The webhook sweep: catching up on fan-outs and sends lost with Redis or a worker."""

from __future__ import annotations

import logging
from datetime import timedelta

from redis.exceptions import RedisError
from sqlalchemy import and_, or_, select

from lixi.extensions import db
from lixi.models import OutboxMessage
from lixi.timeutil import utcnow
from webhooks.delivery import enqueue_deliveries, fan_out
from webhooks.models import PENDING, WebhookDelivery

log = logging.getLogger(__name__)

SWEEP_BATCH = 500


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
        fan_out(message_id)
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
        enqueued = enqueue_deliveries(delivery_ids)
    except RedisError as error:
        log.warning("webhooks: sweep could not enqueue deliveries: %s", error)
        enqueued = 0
    return {"dispatched": len(message_ids), "enqueued": enqueued}
