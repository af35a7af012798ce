"""Bulk gifts from a file: the dry run that checks every row, starting the job that sends them
(gifting/bulk_job.py: a row_id is sent once per brand, whatever the uploads), progress, and the
results CSV.

A row is sent with its row_id, and gifts are unique on (brand_id, row_id): two jobs, a retried job
or the same file uploaded again can never send a row twice. A row and its gift are written in one
transaction, so a job killed mid-way resumes from the rows still "ok".
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

from flask import current_app
from flask_babel import gettext
from redis.exceptions import RedisError
from rq import Retry
from sqlalchemy import insert, select, update

from gifting import bulk_file, events
from gifting.bulk_file import FileRow, OfferFacts, RowStatus
from gifting.bulk_job import ROWS, chunks, run_batch, sent_row_ids
from gifting.links import gift_token
from gifting.models import BatchStatus, Design, GiftBatch, GiftBatchRow
from gifting.service import FURTHEST_SCHEDULE
from lixi.audit import current_actor, record_audit
from lixi.database import write_transaction
from lixi.errors import NotFound, invalid_field
from lixi.extensions import db
from lixi.jobs import enqueue
from lixi.mail import public_url
from lixi.models import MAX_ID, Brand, scoped
from lixi.timeutil import utcnow
from vouchers.bulk import CsvChunks, keyset_pages
from vouchers.models import Offer, OfferKind

log = logging.getLogger(__name__)

RESULT_COLUMNS = ("line", "row_id", "name", "email", "phone", "value", "status", "error", "claim_url")
JOB_RETRY = Retry(max=3, interval=[30, 120, 600])  # a job that raised or whose worker died resumes


# --- the dry run ---------------------------------------------------------------------------------


def check_batch(
    brand_id: int,
    filename: str,
    data: bytes,
    gift_card_offer_id: int | None,
    design: str,
    sender_name: str | None,
    claim_days: int,
) -> GiftBatch:
    """Read and check every row of the file and store them as a batch (status checked): nothing is
    sent. 422 for a file that cannot be read or has too many rows, or a bad batch setting."""
    brand = db.session.get(Brand, brand_id)
    if brand is None:
        raise NotFound()
    if design not in set(Design):
        raise invalid_field("design", f"The design is one of: {', '.join(Design)}.")
    if isinstance(claim_days, bool) or not 1 <= claim_days <= 365:
        raise invalid_field("claim_days", "claim_days must be from 1 to 365.")
    sender_name = (sender_name or "").strip() or None
    if sender_name and len(sender_name) > bulk_file.NAME_LENGTH:
        raise invalid_field("sender_name", "The sender's name is longer than 200 characters.")
    gift_card = _gift_card_offer(brand_id, gift_card_offer_id)
    rows = bulk_file.read_rows(data, current_app.config["GIFT_BULK_MAX_ROWS"])
    latest_send = utcnow() + FURTHEST_SCHEDULE
    for row in rows:
        bulk_file.check_cells(row, brand.timezone, latest_send)
    offer_ids = {row.offer_id for row in rows if row.status == RowStatus.OK and row.offer_id is not None}
    bulk_file.check_offers(rows, _offer_facts(brand_id, offer_ids), gift_card)
    bulk_file.check_repeats(rows)
    row_ids = {row.row_id for row in rows if row.row_id and len(row.row_id) <= bulk_file.ROW_ID_LENGTH}
    bulk_file.skip_sent(rows, sent_row_ids(brand_id, row_ids))
    with write_transaction() as session:
        batch = GiftBatch(
            brand_id=brand_id,
            filename=(filename or "gifts.csv")[:255],
            status=BatchStatus.CHECKED,
            gift_card_offer_id=gift_card_offer_id if gift_card else None,
            design=design,
            sender_name=sender_name,
            claim_days=claim_days,
            rows_total=len(rows),
            rows_bad=_count(rows, RowStatus.BAD),
            rows_skipped=_count(rows, RowStatus.SKIPPED),
            total_value=sum(row.value for row in rows if row.status == RowStatus.OK),
            created_by=current_actor()[:100],
        )
        session.add(batch)
        session.flush()
        if rows:
            session.execute(insert(ROWS), [row.values(batch.id) for row in rows])  # one executemany
        record_audit(brand_id, events.BATCH_CHECKED, "gift_batch", batch.id, _batch_audit(batch))
    return batch


def _count(rows: list[FileRow], status: str) -> int:
    return sum(1 for row in rows if row.status == status)


def _gift_card_offer(brand_id: int, offer_id: int | None) -> OfferFacts | None:
    """The batch's offer for rows with an amount: the brand's own gift card, not archived."""
    if offer_id is None:
        return None
    facts = _offer_facts(brand_id, {offer_id}).get(offer_id) if 1 <= offer_id <= MAX_ID else None
    if facts is None or facts.kind != OfferKind.GIFT_CARD or facts.archived:
        raise invalid_field("gift_card_offer_id", "Choose one of the brand's gift-card offers.")
    return facts


def _offer_facts(brand_id: int, offer_ids: set[int]) -> dict[int, OfferFacts]:
    """The brand's offers among `offer_ids` (another brand's reads as missing), in a few queries."""
    facts: dict[int, OfferFacts] = {}
    for chunk in chunks(sorted(offer_ids)):
        found = db.session.execute(
            select(Offer.id, Offer.kind, Offer.value, Offer.max_discount, Offer.archived_at).where(
                Offer.brand_id == brand_id, Offer.id.in_(chunk)
            )
        )
        for offer_id, kind, value, max_discount, archived_at in found:
            facts[offer_id] = OfferFacts(kind, value, max_discount, archived_at is not None)
    return facts


def _batch_audit(batch: GiftBatch) -> dict[str, Any]:
    return {
        "filename": batch.filename,
        "rows_total": batch.rows_total,
        "rows_bad": batch.rows_bad,
        "rows_skipped": batch.rows_skipped,
        "total_value": batch.total_value,
        "gift_card_offer_id": batch.gift_card_offer_id,
    }


# --- starting and reading ------------------------------------------------------------------------


def start_batch(brand_id: int, batch_id: int) -> GiftBatch:
    """checked → queued, once (a conditional UPDATE: a double click starts one job), and queue the job;
    a failed batch is queued again the same way (it carries on with the rows not yet sent).

    Starting a batch already started changes nothing and returns it as it is. If Redis is down the
    batch stays queued and resume_batches (the gift sweep) queues it later.
    """
    batch = get_batch(brand_id, batch_id)
    again = batch.status == BatchStatus.FAILED
    with write_transaction() as session:
        started = session.execute(
            update(GiftBatch)
            .where(
                GiftBatch.id == batch.id,
                GiftBatch.status == (BatchStatus.FAILED if again else BatchStatus.CHECKED),
            )
            .values(status=BatchStatus.QUEUED, started_at=utcnow(), error=None, finished_at=None)
            .execution_options(synchronize_session=False)
        ).rowcount
        if started == 1:
            data = {"rows": rows_to_send(batch), "after_failure": again}
            record_audit(brand_id, events.BATCH_STARTED, "gift_batch", batch.id, data)
    if started == 1:
        enqueue_batch(batch.id)
    return get_batch(brand_id, batch.id)


def enqueue_batch(batch_id: int) -> bool:
    """Hand the batch to a worker; False (logged) when Redis is down: the sweep tries again."""
    try:
        enqueue(run_batch, batch_id, retry=JOB_RETRY, description=f"gift batch {batch_id}")
    except RedisError as error:
        log.warning("gift batch %s: not queued (the sweep will): %s", batch_id, error)
        return False
    return True


def resume_batches(grace_seconds: float = 60.0) -> dict[str, int]:
    """For the gift sweep: queue again the batches left queued (their job was lost, or Redis was
    down when they started). A batch that is in fact still waiting in the queue runs twice at
    worst, which sends nothing twice."""
    cutoff = utcnow() - timedelta(seconds=grace_seconds)
    stuck = db.session.execute(
        select(GiftBatch.id).where(GiftBatch.status == BatchStatus.QUEUED, GiftBatch.started_at <= cutoff)
    ).scalars()
    queued = sum(1 for batch_id in list(stuck) if enqueue_batch(batch_id))
    return {"batches_resumed": queued}


def get_batch(brand_id: int, batch_id: int) -> GiftBatch:
    """The brand's batch, fresh from the database (a job advances it from another session); 404
    for another brand's."""
    query = scoped(GiftBatch, brand_id).where(GiftBatch.id == batch_id)
    batch = db.session.execute(query.execution_options(populate_existing=True)).scalar()
    if batch is None:
        raise NotFound("No such batch.")
    return batch


def list_batches(brand_id: int, limit: int = 50) -> list[GiftBatch]:
    query = scoped(GiftBatch, brand_id).order_by(GiftBatch.id.desc()).limit(limit)
    return list(db.session.execute(query.execution_options(populate_existing=True)).scalars())


def batch_rows(
    brand_id: int, batch_id: int, status: str | None = None, limit: int = 100, offset: int = 0
) -> list[GiftBatchRow]:
    """A page of the batch's rows in file order, of one status if given."""
    batch = get_batch(brand_id, batch_id)
    query = select(GiftBatchRow).where(GiftBatchRow.batch_id == batch.id)
    if status:
        query = query.where(GiftBatchRow.status == status)
    query = query.order_by(GiftBatchRow.line).limit(limit).offset(offset)
    return list(db.session.execute(query.execution_options(populate_existing=True)).scalars())


def rows_to_send(batch: GiftBatch) -> int:
    """The rows the dry run found good: what "Send" sends."""
    return batch.rows_total - batch.rows_bad - batch.rows_skipped


def batch_progress(batch: GiftBatch) -> dict[str, Any]:
    """The progress bar's figures: rows handled (sent or skipped) of the rows that are not bad."""
    return {
        "status": batch.status,
        "done": batch.rows_sent + batch.rows_skipped,
        "total": batch.rows_total - batch.rows_bad,
        "sent": batch.rows_sent,
        "skipped": batch.rows_skipped,
        "bad": batch.rows_bad,
        "error": batch.error,
    }


# --- the results CSV -----------------------------------------------------------------------------


def results_csv(brand_id: int, batch_id: int) -> Iterator[str]:
    """Each row of the batch with what became of it and its gift's claim link, as CSV text chunks
    (header first), read a page at a time. The batch is looked up now, so another brand's id
    fails before a response starts."""
    batch = get_batch(brand_id, batch_id)
    query = select(
        ROWS.c.id,
        ROWS.c.line,
        ROWS.c.row_id,
        ROWS.c.name,
        ROWS.c.email,
        ROWS.c.phone,
        ROWS.c.value,
        ROWS.c.status,
        ROWS.c.error,
        ROWS.c.gift_id,
    ).where(ROWS.c.batch_id == batch.id)
    return _results(query)


def _results(query: Any) -> Iterator[str]:
    out = CsvChunks()
    out.writerow(RESULT_COLUMNS)
    yield out.take()
    for page in keyset_pages(query, ROWS.c.id, current_app.config["EXPORT_CHUNK_ROWS"]):
        for _id, line, row_id, name, email, phone, value, status, error, gift_id in page:
            link = public_url(f"/g/{gift_token(gift_id)}") if gift_id else ""
            reason = gettext(error) if error else ""
            out.writerow((line, row_id, name, email, phone, value, status, reason, link))
        yield out.take()
