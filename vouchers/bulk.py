"""Bulk issues: big voucher batches issued by a background job in resumable chunks, and their CSV."""

from __future__ import annotations

import csv
import io
import logging
import re
import secrets
from collections.abc import Iterable, Iterator, Sequence
from datetime import date, datetime
from enum import StrEnum
from typing import Any
from zoneinfo import ZoneInfo

from flask import current_app
from redis.exceptions import RedisError
from rq import Retry
from sqlalchemy import Row, Select, bindparam, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import InstrumentedAttribute

from lixi.audit import acting_as, record_audit
from lixi.database import write_transaction
from lixi.errors import NotFound
from lixi.extensions import db
from lixi.jobs import enqueue
from lixi.models import Brand, scoped
from lixi.timeutil import utcnow
from vouchers import events
from vouchers.errors import OfferArchived, invalid_field
from vouchers.models import BulkIssue, Offer, Voucher, status_at
from vouchers.offers import get_offer
from vouchers.service import insert_vouchers, sign_voucher_code

log = logging.getLogger(__name__)

BULK_SOURCE = "bulk"
BULK_CSV_COLUMNS = ("code", "token", "url", "status", "expires_at")
# RQ retries a job that raised or whose worker died (an abandoned job): the run resumes.
JOB_RETRY = Retry(max=3, interval=[30, 120, 600])


class BulkStatus(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"


# --- requesting and reading ---------------------------------------------------------------------


def start_bulk_issue(brand_id: int, offer_id: int, count: int, requested_by: str) -> BulkIssue:
    """Record a bulk issue of `count` vouchers (queued) and hand it to a worker after commit."""
    limit = current_app.config["MAX_BULK_ISSUE"]
    requested_by = requested_by[:100]
    if isinstance(count, bool) or not isinstance(count, int) or not 1 <= count <= limit:
        raise invalid_field("count", f"count must be from 1 to {limit}.")
    offer = get_offer(brand_id, offer_id)
    if offer.archived_at is not None:
        raise invalid_field("offer_id", "This offer is archived.")
    with write_transaction() as session:
        bulk = BulkIssue(
            brand_id=brand_id,
            offer_id=offer.id,
            count=count,
            issued=0,
            status=BulkStatus.QUEUED,
            # 32 characters: never the same as the 16-character batch ids of ordinary issues.
            batch_id=secrets.token_hex(16),
            requested_by=requested_by,
        )
        session.add(bulk)
        session.flush()
        bulk_id = bulk.id
        record_audit(
            brand_id,
            events.BULK_REQUESTED,
            "bulk_issue",
            bulk_id,
            {"offer_id": offer.id, "count": count, "batch_id": bulk.batch_id},
            actor=requested_by,
        )
    enqueue_bulk_issue(bulk_id)
    return bulk


def enqueue_bulk_issue(bulk_id: int) -> None:
    """Queue the job (after the row is committed: a worker must find it).

    If Redis is down the request fails (503) and the row is marked failed rather than left
    queued with no job behind it; running the job again later resumes it.
    """
    try:
        enqueue(run_bulk_issue, bulk_id, retry=JOB_RETRY, description=f"bulk issue {bulk_id}")
    except RedisError as error:
        _mark_failed(bulk_id, f"Could not queue the job: {error}")
        raise


def get_bulk_issue(brand_id: int, bulk_id: int) -> BulkIssue:
    query = scoped(BulkIssue, brand_id).where(BulkIssue.id == bulk_id)
    # Fresh from the database: the job advances the row from another session.
    bulk = db.session.execute(query.execution_options(populate_existing=True)).scalar()
    if bulk is None:
        raise NotFound("No such bulk issue.")
    return bulk


def list_bulk_issues(brand_id: int, limit: int = 20) -> list[BulkIssue]:
    query = scoped(BulkIssue, brand_id).order_by(BulkIssue.id.desc()).limit(limit)
    return list(db.session.execute(query.execution_options(populate_existing=True)).scalars())


def bulk_progress(bulk: BulkIssue) -> int:
    """Whole percent issued (100 only once every voucher is in)."""
    return bulk.issued * 100 // bulk.count if bulk.count else 100


# --- the job ------------------------------------------------------------------------------------


def run_bulk_issue(bulk_id: int) -> None:
    """The RQ job: issue what is left of the bulk issue, a chunk per transaction, then mark it done.

    Safe to run again after a crash (it carries on from the vouchers already carrying the
    batch_id) and safe to run twice at once: every chunk claims its share of `issued` with a
    conditional UPDATE, so no run issues more than `count` between them.
    """
    if not _claim(bulk_id):
        return
    requested_by = db.session.execute(
        select(BulkIssue.requested_by).where(BulkIssue.id == bulk_id)
    ).scalar_one()
    try:
        with acting_as(requested_by):
            while issue_bulk_chunk(bulk_id) > 0:
                pass
            _finish(bulk_id)
    except Exception as error:
        try:
            _mark_failed(bulk_id, f"{type(error).__name__}: {error}")
        except Exception:
            log.exception("bulk issue %s: could not record the failure", bulk_id)
        raise


def _claim(bulk_id: int) -> bool:
    """queued (or failed, on RQ's retry) → running; True if this run should issue."""
    with write_transaction() as session:
        claimed = session.execute(
            update(BulkIssue)
            .where(BulkIssue.id == bulk_id, BulkIssue.status.in_([BulkStatus.QUEUED, BulkStatus.FAILED]))
            .values(status=BulkStatus.RUNNING, error=None, finished_at=None)
            .execution_options(synchronize_session=False)
        )
        if claimed.rowcount == 1:
            return True
        status = session.scalar(select(BulkIssue.status).where(BulkIssue.id == bulk_id))
    # Running: a worker died mid-way (RQ retries the abandoned job) or a twin is at it. Either
    # way it is safe to carry on: the chunks below cannot overshoot. Done: nothing to do.
    return status == BulkStatus.RUNNING


def issue_bulk_chunk(bulk_id: int, size: int | None = None) -> int:
    """Issue the next chunk of a running bulk issue in one transaction; return how many are left.

    0 means there is nothing more for this run to do (all issued, or the issue is no longer
    running). A chunk lost to a concurrent run issues nothing and reports what it saw left.
    """
    size = size or current_app.config["BULK_ISSUE_CHUNK"]
    for _attempt in range(3):
        try:
            return _issue_chunk(bulk_id, size)
        except IntegrityError:
            # Two codes of 65 random bits collided (about never): the chunk rolled back; draw again.
            continue
    raise RuntimeError("could not draw unique voucher codes")


def _issue_chunk(bulk_id: int, size: int) -> int:
    with write_transaction() as session:
        bulk = session.execute(
            select(
                BulkIssue.brand_id,
                BulkIssue.offer_id,
                BulkIssue.count,
                BulkIssue.issued,
                BulkIssue.status,
                BulkIssue.batch_id,
            ).where(BulkIssue.id == bulk_id)
        ).one()
        if bulk.status != BulkStatus.RUNNING:
            return 0
        # The vouchers are the truth: they and `issued` commit together, and a crashed chunk
        # leaves neither behind.
        done = session.scalar(
            select(func.count())
            .select_from(Voucher)
            .where(Voucher.brand_id == bulk.brand_id, Voucher.batch_id == bulk.batch_id)
        )
        assert done is not None
        wanted = min(size, bulk.count - done)
        if wanted <= 0:
            return 0
        # Claim the chunk before inserting: on PostgreSQL a concurrent run blocks on this row,
        # then finds `issued` moved and backs off without drawing a single code.
        claimed = session.execute(
            update(BulkIssue)
            .where(
                BulkIssue.id == bulk_id,
                BulkIssue.issued == bulk.issued,
                BulkIssue.status == BulkStatus.RUNNING,
            )
            .values(issued=done + wanted)
            .execution_options(synchronize_session=False)
        )
        if claimed.rowcount != 1:
            return bulk.count - done
        brand = session.get(Brand, bulk.brand_id)
        offer = session.get(Offer, bulk.offer_id)
        assert brand is not None and offer is not None
        if offer.archived_at is not None:
            raise OfferArchived()  # archiving means no new vouchers, a bulk issue's included
        insert_vouchers(brand, offer, wanted, None, BULK_SOURCE, batch_id=bulk.batch_id)
        return bulk.count - done - wanted


def _finish(bulk_id: int) -> None:
    with write_transaction() as session:
        finished = session.execute(
            update(BulkIssue)
            .where(
                BulkIssue.id == bulk_id,
                BulkIssue.status == BulkStatus.RUNNING,
                BulkIssue.issued >= BulkIssue.count,
            )
            .values(status=BulkStatus.DONE, finished_at=utcnow())
            .execution_options(synchronize_session=False)
        )
        if finished.rowcount != 1:
            return  # a twin run finished it first
        bulk = session.execute(
            select(BulkIssue.brand_id, BulkIssue.offer_id, BulkIssue.count, BulkIssue.batch_id).where(
                BulkIssue.id == bulk_id
            )
        ).one()
        record_audit(
            bulk.brand_id,
            events.BULK_ISSUED,
            "bulk_issue",
            bulk_id,
            {"offer_id": bulk.offer_id, "count": bulk.count, "batch_id": bulk.batch_id},
        )


def _mark_failed(bulk_id: int, error: str) -> None:
    with write_transaction() as session:
        failed = session.execute(
            update(BulkIssue)
            .where(BulkIssue.id == bulk_id, BulkIssue.status.in_([BulkStatus.QUEUED, BulkStatus.RUNNING]))
            .values(status=BulkStatus.FAILED, error=error[:500], finished_at=utcnow())
            .execution_options(synchronize_session=False)
        )
        if failed.rowcount != 1:
            return
        brand_id = session.scalar(select(BulkIssue.brand_id).where(BulkIssue.id == bulk_id))
        record_audit(brand_id, events.BULK_FAILED, "bulk_issue", bulk_id, {"error": error[:500]}, "system")


# --- streaming CSV ------------------------------------------------------------------------------


def bulk_csv_rows(brand_id: int, bulk_id: int, base_url: str) -> Iterator[str]:
    """The bulk issue's vouchers as CSV text chunks (header first), read a page at a time.

    The bulk issue is looked up now, so another brand's id fails before a response starts.
    """
    bulk = get_bulk_issue(brand_id, bulk_id)
    brand = db.session.get(Brand, brand_id)
    assert brand is not None
    query = select(Voucher.id, Voucher.code, Voucher.status, Voucher.expires_at).where(
        Voucher.brand_id == brand_id, Voucher.batch_id == bulk.batch_id
    )
    return _bulk_csv(query, base_url.rstrip("/"), ZoneInfo(brand.timezone))


def _bulk_csv(query: Select, base: str, zone: ZoneInfo) -> Iterator[str]:
    out = CsvChunks()
    out.writerow(BULK_CSV_COLUMNS)
    yield out.take()
    now = utcnow()
    for page in keyset_pages(query, Voucher.id, current_app.config["EXPORT_CHUNK_ROWS"]):
        for _id, code, status, expires_at in page:
            token = sign_voucher_code(code)
            out.writerow(
                (code, token, f"{base}/v/{token}", status_at(status, expires_at, now), expires_at), zone
            )
        yield out.take()


# --- helpers for streamed exports (dashboard.exports uses them too) ------------------------------


def keyset_pages(query: Select, key: InstrumentedAttribute, size: int) -> Iterator[Sequence[Row]]:
    """The rows of `query` in pages of `size`, by ascending `key` (unique, positive, the first column).

    Each page is its own short query (`key > last … LIMIT size`) rather than one cursor held
    open: memory stays at one page on SQLite and PostgreSQL alike, whatever the driver buffers,
    and no page costs more than the first.
    """
    paged = query.where(key > bindparam("after")).order_by(key).limit(size)
    after = 0
    while True:
        rows = db.session.execute(paged, {"after": after}).all()
        if rows:
            yield rows
        if len(rows) < size:
            return
        after = rows[-1][0]


# A cell a spreadsheet would run as a formula; numbers and phone numbers (+84 …) are left alone.
_FORMULA = re.compile(r"[=@\t\r]|[+-](?![\d\s().-]*$)")


class CsvChunks:
    """csv.writer into one reusable StringIO: write rows, then take() the text written so far."""

    def __init__(self) -> None:
        self._buffer = io.StringIO()
        self._writer = csv.writer(self._buffer)

    def writerow(self, values: Iterable[Any], zone: ZoneInfo | None = None) -> None:
        self._writer.writerow([_cell(value, zone) for value in values])

    def take(self) -> str:
        text = self._buffer.getvalue()
        self._buffer.seek(0)
        self._buffer.truncate()
        return text


def _cell(value: Any, zone: ZoneInfo | None) -> Any:
    if isinstance(value, str):
        # Text typed by people (names, reasons) must not run as a formula when the file is
        # opened in a spreadsheet (CSV injection): a leading quote makes it plain text.
        return "'" + value if _FORMULA.match(value) else value
    if isinstance(value, datetime):
        # The brand's local time, with its offset: readable in a spreadsheet and still exact.
        return (value.astimezone(zone) if zone else value).isoformat(timespec="seconds")
    if isinstance(value, date):
        return value.isoformat()
    return value
