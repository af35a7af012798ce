"""Webhooks: brands' endpoints, and delivering outbox events to them (signed, retried, logged).

(Being built: see the issue. `enqueue_dispatch` is what the outbox calls after a commit.)
"""

from __future__ import annotations

import logging

from redis.exceptions import RedisError

from lixi.jobs import enqueue

log = logging.getLogger(__name__)


def enqueue_dispatch(message_ids: list[int]) -> None:
    """After commit: ask a worker to fan these messages out. Never raises (the sweep catches up)."""
    try:
        for message_id in message_ids:
            enqueue(dispatch_message, message_id)
    except RedisError as error:
        log.warning("outbox: could not enqueue %s (the sweep will): %s", message_ids, error)


def dispatch_message(message_id: int) -> None:
    """Fan one outbox message out to the brand's endpoints that want its topic."""
    raise NotImplementedError
