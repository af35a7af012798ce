"""Background jobs on RQ (Redis): the queue the domains enqueue to, and the worker command.

`flask --app wsgi worker` runs an RQ worker whose jobs execute inside an app context, so a
job is a plain service function (`vouchers.bulk.run_bulk_issue`, `webhooks.delivery.deliver`…).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from functools import lru_cache
from typing import Any

from flask import Flask, current_app
from redis import Redis
from rq import Queue, SimpleWorker, Worker
from rq.job import Job
from sqlalchemy import ColumnElement, Table, or_, update

from lixi.database import write_transaction
from lixi.extensions import db
from lixi.timeutil import utcnow

QUEUE_NAME = "lixi"


def _connection() -> Redis:
    # One client (and connection pool) per Redis URL and process: enqueueing happens after many
    # commits, and a new connection each time would cost more than the job itself. redis-py's
    # pool notices a fork and starts afresh in the child. RQ stores pickled job data, so this
    # client does not decode responses (unlike a cache client might).
    return _client_for(current_app.config["REDIS_URL"])


@lru_cache(maxsize=8)
def _client_for(url: str) -> Redis:
    return Redis.from_url(url, socket_connect_timeout=1.0, socket_timeout=5.0)


def queue() -> Queue:
    return Queue(
        QUEUE_NAME, connection=_connection(), default_timeout=current_app.config["JOB_TIMEOUT_SECONDS"]
    )


def enqueue(function: Any, *args: Any, **options: Any) -> Job:
    """Queue `function(*args)` for a worker; `options` are RQ's (retry=Retry(...), job_id=…)."""
    return queue().enqueue(function, *args, **options)


def enqueue_at(run_at: datetime, function: Any, *args: Any) -> Job:
    """Queue `function(*args)` to run at `run_at` (raises RedisError): a retry's next try.

    RQ's scheduler counts whole seconds (it releases a job once its second has begun): rounded
    up, so the job never runs before the row it retries is due and finds nothing to claim.
    """
    if run_at.microsecond:
        run_at = run_at.replace(microsecond=0) + timedelta(seconds=1)
    return queue().enqueue_at(run_at, function, *args)


# Work retried by the worker (mail, webhook deliveries) is a row with an id, a status ("pending"
# while it may be tried), its attempts and next_attempt_at: the retry time, or the lease of a try
# in flight. These two say when a try may start and take it, the same way for every such table.
PENDING = "pending"


def try_is_due(table: Table, now: datetime) -> ColumnElement[bool]:
    """The row's next try may start now: never tried, or its retry time (or a try's lease) is up."""
    return or_(table.c.next_attempt_at.is_(None), table.c.next_attempt_at <= now)


def claim_try(table: Table, row_id: int, attempts_seen: int, lease_seconds: float) -> bool:
    """Take the row for one try: count the attempt and push next_attempt_at past the try's lease.

    Conditional on the attempt count read and on being due, so of two workers holding the same row
    (a sweep's duplicate enqueue) only one tries; if that one dies mid-try the row comes due again
    when the lease ends, and the sweep queues it once more.
    """
    now = utcnow()
    with write_transaction() as session:
        claimed = session.execute(
            update(table)
            .where(
                table.c.id == row_id,
                table.c.status == PENDING,
                table.c.attempts == attempts_seen,
                try_is_due(table, now),
            )
            .values(attempts=attempts_seen + 1, next_attempt_at=now + timedelta(seconds=lease_seconds))
        )
    return claimed.rowcount == 1


def backoff_seconds(attempt: int, base: float, cap: float = 3600) -> float:
    """The wait before the try after `attempt` failed ones: base × 2**attempt, capped."""
    return min(base * 2**attempt, cap)


class AppJob(Job):
    """An RQ job that runs inside the app's context (database session, config, Redis)."""

    app: Flask | None = None

    def perform(self) -> Any:
        assert self.app is not None, "set AppJob.app before starting the worker"
        with self.app.app_context():
            try:
                return super().perform()
            finally:
                db.session.remove()


def work(app: Flask, burst: bool = False, in_process: bool = False) -> bool:
    """Run a worker on the lixi queue until stopped (or, with `burst`, until the queue is empty).

    `in_process` runs jobs in this process (RQ's SimpleWorker): for tests and a single-process
    `make run`; production forks a process per job (RQ's default Worker).
    """
    AppJob.app = app
    with app.app_context():
        worker_class = SimpleWorker if in_process else Worker
        worker = worker_class([queue()], connection=_connection(), job_class=AppJob)
        return worker.work(burst=burst, with_scheduler=True, logging_level="WARNING")
