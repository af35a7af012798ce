"""The job that sends a bulk file's rows: a chunk per transaction, resumable after a kill, safe to
run twice at once (gifts are unique on (brand_id, row_id); a row's status changes once,
conditionally), and the row_ids a brand's gifts already have."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator
from typing import Any

from flask import current_app
from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError

from gifting import bulk_file, events
from gifting.bulk_file import RowStatus
from gifting.bulk_send import insert_gifts
from gifting.models import BatchStatus, Gift, GiftBatch, GiftBatchRow
from gifting.service import GiftRequest, insert_gift
from lixi.audit import acting_as, record_audit
from lixi.database import write_transaction
from lixi.errors import DomainError
from lixi.extensions import db
from lixi.models import Brand
from lixi.timeutil import utcnow

log = logging.getLogger(__name__)

IN_CHUNK = 500  # ids per IN (…) list: well under every driver's parameter limit
ROWS = GiftBatchRow.__table__


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
    taken = sent_row_ids(settings.brand_id, [row.row_id for row in rows])
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


# --- what was sent before -----------------------------------------------------------------------


def sent_row_ids(brand_id: int, row_ids: Iterable[str]) -> set[str]:
    """Which of these row_ids a gift of the brand already has."""
    sent: set[str] = set()
    for chunk in chunks(sorted(row_ids)):
        query = select(Gift.row_id).where(Gift.brand_id == brand_id, Gift.row_id.in_(chunk))
        sent.update(db.session.execute(query).scalars())
    return sent


def chunks(items: list[Any]) -> Iterator[list[Any]]:
    for start in range(0, len(items), IN_CHUNK):
        yield items[start : start + IN_CHUNK]
