"""Bulk gifts from a file: the dry run that checks every row, the job that sends them in resumable
chunks (a row_id is sent once per brand, whatever the uploads), progress, and the results CSV.

A row is sent through gifting.service.insert_gift with its row_id, and gifts are unique on
(brand_id, row_id): two jobs, a retried job or the same file uploaded again can never send a row
twice. A row and its gift are written in one transaction, so a job killed mid-way resumes from the
rows still "ok".
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator
from datetime import timedelta
from typing import Any

from flask import current_app
from flask_babel import gettext
from redis.exceptions import RedisError
from rq import Retry
from sqlalchemy import func, insert, select, update
from sqlalchemy.exc import IntegrityError

from gifting import bulk_file, events
from gifting.bulk_file import FileRow, OfferFacts
from gifting.bulk_send import insert_gifts
from gifting.links import gift_token
from gifting.models import BatchStatus, Design, Gift, GiftBatch, GiftBatchRow
from gifting.service import FURTHEST_SCHEDULE, GiftRequest, insert_gift
from lixi.audit import acting_as, current_actor, record_audit
from lixi.database import write_transaction
from lixi.errors import DomainError, NotFound, invalid_field
from lixi.extensions import db
from lixi.jobs import enqueue
from lixi.mail import public_url
from lixi.models import MAX_ID, Brand, scoped
from lixi.timeutil import utcnow
from vouchers.bulk import CsvChunks, keyset_pages
from vouchers.models import Offer, OfferKind

log = logging.getLogger(__name__)

IN_CHUNK = 500  # ids per IN (…) list: well under every driver's parameter limit
RESULT_COLUMNS = ("line", "row_id", "name", "email", "phone", "value", "status", "error", "claim_url")
JOB_RETRY = Retry(max=3, interval=[30, 120, 600])  # a job that raised or whose worker died resumes
ROWS = GiftBatchRow.__table__


class RowStatus:
    OK, BAD, SENT, SKIPPED = "ok", "bad", "sent", "skipped"


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
    bulk_file.skip_sent(rows, _sent_row_ids(brand_id, row_ids))
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
    for chunk in _chunks(sorted(offer_ids)):
        found = db.session.execute(
            select(Offer.id, Offer.kind, Offer.value, Offer.max_discount, Offer.archived_at).where(
                Offer.brand_id == brand_id, Offer.id.in_(chunk)
            )
        )
        for offer_id, kind, value, max_discount, archived_at in found:
            facts[offer_id] = OfferFacts(kind, value, max_discount, archived_at is not None)
    return facts


def _sent_row_ids(brand_id: int, row_ids: Iterable[str]) -> set[str]:
    """Which of these row_ids a gift of the brand already has."""
    sent: set[str] = set()
    for chunk in _chunks(sorted(row_ids)):
        query = select(Gift.row_id).where(Gift.brand_id == brand_id, Gift.row_id.in_(chunk))
        sent.update(db.session.execute(query).scalars())
    return sent


def _chunks(items: list[Any]) -> Iterator[list[Any]]:
    for start in range(0, len(items), IN_CHUNK):
        yield items[start : start + IN_CHUNK]


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


# --- the job -------------------------------------------------------------------------------------


def run_batch(batch_id: int) -> None:
    """The RQ job: send the batch's ok rows a chunk per transaction, then mark it done.

    Safe to run again after a crash (it carries on with the rows still ok) and twice at once
    (gifts are unique on the row_id; a row's status changes once, conditionally).
    """
    if not _claim(batch_id):
        return
    created_by = db.session.execute(select(GiftBatch.created_by).where(GiftBatch.id == batch_id)).scalar_one()
    try:
        with acting_as(created_by):
            while send_chunk(batch_id) > 0:
                pass
            _finish(batch_id)
    except Exception as error:
        try:
            _mark_failed(batch_id, f"{type(error).__name__}: {error}")
        except Exception:
            log.exception("gift batch %s: could not record the failure", batch_id)
        raise


def _claim(batch_id: int) -> bool:
    """queued (or failed, on RQ's retry) → running; True if this run should send."""
    with write_transaction() as session:
        claimed = session.execute(
            update(GiftBatch)
            .where(GiftBatch.id == batch_id, GiftBatch.status.in_([BatchStatus.QUEUED, BatchStatus.FAILED]))
            .values(status=BatchStatus.RUNNING, error=None, finished_at=None)
            .execution_options(synchronize_session=False)
        ).rowcount
        if claimed == 1:
            return True
        status = session.scalar(select(GiftBatch.status).where(GiftBatch.id == batch_id))
    # Running: a worker died mid-way (RQ retries the abandoned job) or a twin is at it; carrying
    # on is safe. Checked (never started), done, or gone: nothing to do.
    return status == BatchStatus.RUNNING


def send_chunk(batch_id: int, size: int | None = None) -> int:
    """Send the next `size` ok rows of a running batch in one transaction; return how many rows
    the batch still had to send before this chunk (0: nothing left, or not running).

    A chunk that fails (a row_id sent meanwhile by another batch or a twin job, a row the service
    refuses) is rolled back and redone row by row, each row on its own.
    """
    size = size or current_app.config["GIFT_BULK_CHUNK"]
    batch = db.session.execute(
        select(GiftBatch).where(GiftBatch.id == batch_id).execution_options(populate_existing=True)
    ).scalar()
    if batch is None or batch.status != BatchStatus.RUNNING:
        return 0
    left = db.session.scalar(
        select(func.count())
        .select_from(ROWS)
        .where(ROWS.c.batch_id == batch_id, ROWS.c.status == RowStatus.OK)
    )
    if not left:
        return 0
    rows = db.session.execute(
        select(ROWS)
        .where(ROWS.c.batch_id == batch_id, ROWS.c.status == RowStatus.OK)
        .order_by(ROWS.c.line)
        .limit(size)
    ).all()
    settings = _BatchSettings.of(batch)
    try:
        with write_transaction():
            _send_rows(settings, rows)
    except (IntegrityError, DomainError, _RowTaken):
        for row in rows:
            _send_row_alone(settings, row)
    return left


class _RowTaken(Exception):
    """A row's status changed under this chunk (a twin job sent it): redo the chunk row by row."""


class _BatchSettings:
    """What every row of a batch shares, read once per chunk."""

    def __init__(
        self,
        batch_id: int,
        brand_id: int,
        design: str,
        sender: str | None,
        claim_days: int,
        gift_card_offer_id: int | None,
    ) -> None:
        self.batch_id, self.brand_id, self.design = batch_id, brand_id, design
        self.sender, self.claim_days, self.gift_card_offer_id = sender, claim_days, gift_card_offer_id

    @classmethod
    def of(cls, batch: GiftBatch) -> _BatchSettings:
        return cls(
            batch.id,
            batch.brand_id,
            batch.design,
            batch.sender_name,
            batch.claim_days,
            batch.gift_card_offer_id,
        )

    def request(self, row: Any) -> GiftRequest:
        return GiftRequest(
            offer_id=row.offer_id if row.offer_id is not None else self.gift_card_offer_id,
            sender_name=self.sender,
            recipient_name=row.name,
            recipient_email=row.email,
            recipient_phone=row.phone,
            message=row.message,
            design=self.design,
            send_at=row.send_at,  # past by now: the service sends at once
            claim_days=self.claim_days,
            amount=row.amount,
            row_id=row.row_id,
            batch_id=self.batch_id,
        )


def _send_rows(settings: _BatchSettings, rows: list[Any], alone: bool = False) -> None:
    """Inside one transaction: skip rows whose row_id is already a gift, send the others (a chunk
    at once through bulk_send; a row `alone` through insert_gift, which says why it refuses one).

    The rows are claimed (ok → sent) before their gifts are made: on PostgreSQL a twin job blocks
    on them, then finds them taken and backs off without making a gift.
    """
    brand = db.session.get(Brand, settings.brand_id)
    assert brand is not None
    taken = _sent_row_ids(settings.brand_id, [row.row_id for row in rows])
    skipped = [row.id for row in rows if row.row_id in taken]
    sending = [row for row in rows if row.row_id not in taken]
    _set_rows(skipped, RowStatus.SKIPPED, bulk_file.ALREADY_SENT)
    _set_rows([row.id for row in sending], RowStatus.SENT, None)
    if alone:
        for row in sending:
            insert_gift(brand, settings.request(row))
    elif sending:
        insert_gifts(brand, [settings.request(row) for row in sending])
    if sending:  # each sent row points at its gift, found by the unique (brand_id, row_id)
        gift_of_row = (
            select(Gift.id)
            .where(Gift.brand_id == settings.brand_id, Gift.row_id == ROWS.c.row_id)
            .scalar_subquery()
        )
        db.session.execute(
            update(ROWS).where(ROWS.c.id.in_([row.id for row in sending])).values(gift_id=gift_of_row)
        )
    _count_progress(settings.batch_id, sent=len(sending), skipped=len(skipped))


def _set_rows(row_ids: list[int], status: str, error: str | None) -> None:
    """ok → status, once: a row a twin job already handled raises _RowTaken (the chunk rolls back)."""
    if not row_ids:
        return
    changed = db.session.execute(
        update(ROWS)
        .where(ROWS.c.id.in_(row_ids), ROWS.c.status == RowStatus.OK)
        .values(status=status, error=error)
    ).rowcount
    if changed != len(row_ids):
        raise _RowTaken()


def _count_progress(batch_id: int, sent: int = 0, skipped: int = 0, bad: int = 0) -> None:
    db.session.execute(
        update(GiftBatch)
        .where(GiftBatch.id == batch_id)
        .values(
            rows_done=GiftBatch.rows_done + sent + skipped + bad,
            rows_sent=GiftBatch.rows_sent + sent,
            rows_skipped=GiftBatch.rows_skipped + skipped,
            rows_bad=GiftBatch.rows_bad + bad,
        )
        .execution_options(synchronize_session=False)
    )


def _send_row_alone(settings: _BatchSettings, row: Any) -> None:
    """One row in its own transaction: sent, skipped (its row_id is a gift already), or bad (the
    service refused it, say its offer was archived after the dry run)."""
    try:
        with write_transaction():
            _send_rows(settings, [row], alone=True)
        return
    except _RowTaken:
        return  # a twin job handled it
    except IntegrityError:
        outcome: tuple[str, str] = (RowStatus.SKIPPED, bulk_file.ALREADY_SENT)
    except DomainError as error:
        outcome = (RowStatus.BAD, error.message[:500])
    try:
        with write_transaction():
            _set_rows([row.id], *outcome)
            if outcome[0] == RowStatus.SKIPPED:
                _count_progress(settings.batch_id, skipped=1)
            else:
                _count_progress(settings.batch_id, bad=1)
    except _RowTaken:
        return


def _finish(batch_id: int) -> None:
    with write_transaction() as session:
        left = session.scalar(
            select(func.count())
            .select_from(ROWS)
            .where(ROWS.c.batch_id == batch_id, ROWS.c.status == RowStatus.OK)
        )
        if left:
            return  # the batch stopped running (marked failed) with rows left
        finished = session.execute(
            update(GiftBatch)
            .where(GiftBatch.id == batch_id, GiftBatch.status == BatchStatus.RUNNING)
            .values(status=BatchStatus.DONE, finished_at=utcnow())
            .execution_options(synchronize_session=False)
        ).rowcount
        if finished != 1:
            return  # a twin run finished it first
        query = select(GiftBatch).where(GiftBatch.id == batch_id)
        batch = session.execute(query.execution_options(populate_existing=True)).scalar_one()
        record_audit(
            batch.brand_id,
            events.BATCH_SENT,
            "gift_batch",
            batch_id,
            {"rows_sent": batch.rows_sent, "rows_skipped": batch.rows_skipped, "rows_bad": batch.rows_bad},
        )


def _mark_failed(batch_id: int, error: str) -> None:
    with write_transaction() as session:
        failed = session.execute(
            update(GiftBatch)
            .where(GiftBatch.id == batch_id, GiftBatch.status.in_([BatchStatus.QUEUED, BatchStatus.RUNNING]))
            .values(status=BatchStatus.FAILED, error=error[:500], finished_at=utcnow())
            .execution_options(synchronize_session=False)
        ).rowcount
        if failed != 1:
            return
        brand_id = session.scalar(select(GiftBatch.brand_id).where(GiftBatch.id == batch_id))
        record_audit(brand_id, events.BATCH_FAILED, "gift_batch", batch_id, {"error": error[:500]}, "system")


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
