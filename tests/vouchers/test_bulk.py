"""Bulk issues: the background job end to end, its limits and scoping, a crashed run resumed, racing runs."""

from __future__ import annotations

import csv
import io
import threading

import pytest
from redis.exceptions import RedisError
from sqlalchemy import func, select, update

from lixi.errors import InvalidRequest, NotFound
from lixi.extensions import db
from lixi.jobs import work
from lixi.models import AuditEvent, OutboxMessage
from lixi.timeutil import utcnow
from tests.conftest import fresh_app
from vouchers import bulk
from vouchers.models import BulkIssue, Offer, Voucher
from vouchers.service import voucher_token


@pytest.fixture
def app(migrated, redis_url, request):
    """The app, with settings overridden by a test's indirect parameter."""
    with fresh_app(migrated, redis_url, **getattr(request, "param", {})) as app:
        yield app


def _reread() -> None:
    # The job wrote from sessions of its own; end this session's read snapshot (SQLite WAL
    # keeps showing a reader the database as it was when its transaction began).
    db.session.rollback()


def _vouchers_in(batch_id: str) -> int:
    return db.session.scalar(select(func.count()).select_from(Voucher).where(Voucher.batch_id == batch_id))


def _actions(action: str) -> int:
    return db.session.scalar(select(func.count()).select_from(AuditEvent).where(AuditEvent.action == action))


def test_a_bulk_issue_of_20000_runs_through_the_worker_and_exports_its_codes(app, brand, offer):
    started = bulk.start_bulk_issue(brand.id, offer["id"], 20_000, "staff:1")
    assert (started.status, started.issued, bulk.bulk_progress(started)) == ("queued", 0, 0)

    work(app, burst=True, in_process=True)

    _reread()
    finished = bulk.get_bulk_issue(brand.id, started.id)
    assert (finished.status, finished.issued, finished.count) == ("done", 20_000, 20_000)
    assert bulk.bulk_progress(finished) == 100 and finished.finished_at and finished.error is None
    assert _vouchers_in(finished.batch_id) == 20_000
    # One audit row and one event per chunk of 2,000, plus the request and the completion.
    assert (_actions("vouchers.bulk_requested"), _actions("vouchers.bulk_issued")) == (1, 1)
    assert _actions("vouchers.issued") == 10
    assert db.session.scalar(select(func.count()).select_from(OutboxMessage)) == 10

    chunks = list(bulk.bulk_csv_rows(brand.id, finished.id, "https://lixi.example/"))
    assert chunks[0] == "code,token,url,status,expires_at\r\n" and len(chunks) > 2  # streamed in pages
    rows = list(csv.DictReader(io.StringIO("".join(chunks))))
    assert len(rows) == 20_000 and len({row["code"] for row in rows}) == 20_000
    sample = rows[12_345]
    assert sample["token"] == voucher_token(sample["code"])
    assert sample["url"] == f"https://lixi.example/v/{sample['token']}"
    assert sample["status"] == "issued" and sample["expires_at"] == ""


@pytest.mark.parametrize("app", [{"MAX_BULK_ISSUE": 500}], indirect=True)
def test_counts_outside_one_to_the_maximum_and_archived_offers_are_refused(app, brand, offer, make_brand):
    for count in (0, -1, 501):
        with pytest.raises(InvalidRequest) as refused:
            bulk.start_bulk_issue(brand.id, offer["id"], count, "staff:1")
        assert list(refused.value.details["fields"]) == ["count"]
    assert bulk.start_bulk_issue(brand.id, offer["id"], 500, "staff:1").count == 500
    other = make_brand("Trà Sữa")
    with pytest.raises(NotFound):
        bulk.start_bulk_issue(other.id, offer["id"], 10, "staff:2")  # not its offer
    db.session.execute(update(Offer).values(archived_at=utcnow()))
    db.session.commit()
    with pytest.raises(InvalidRequest) as refused:
        bulk.start_bulk_issue(brand.id, offer["id"], 10, "staff:1")
    assert list(refused.value.details["fields"]) == ["offer_id"]
    assert db.session.scalar(select(func.count()).select_from(BulkIssue)) == 1


def test_another_brands_bulk_issue_is_not_found(app, brand, offer, make_brand):
    started = bulk.start_bulk_issue(brand.id, offer["id"], 5, "staff:1")
    other = make_brand("Trà Sữa")
    with pytest.raises(NotFound):
        bulk.get_bulk_issue(other.id, started.id)
    with pytest.raises(NotFound):
        bulk.bulk_csv_rows(other.id, started.id, "https://lixi.example")  # before any streaming
    assert bulk.list_bulk_issues(other.id) == []
    assert [b.id for b in bulk.list_bulk_issues(brand.id)] == [started.id]


@pytest.mark.parametrize("app", [{"BULK_ISSUE_CHUNK": 300}], indirect=True)
def test_a_run_that_died_mid_way_is_resumed_and_issues_exactly_count(app, brand, offer):
    started = bulk.start_bulk_issue(brand.id, offer["id"], 1_000, "staff:1")
    # A worker claimed it, issued two chunks and died: the row says running, 600 are in.
    db.session.execute(update(BulkIssue).values(status="running"))
    db.session.commit()
    assert bulk.issue_bulk_chunk(started.id) == 700
    assert bulk.issue_bulk_chunk(started.id) == 400

    work(app, burst=True, in_process=True)  # RQ runs the job again (as it retries an abandoned one)

    _reread()
    resumed = bulk.get_bulk_issue(brand.id, started.id)
    assert (resumed.status, resumed.issued) == ("done", 1_000)
    assert _vouchers_in(resumed.batch_id) == 1_000
    bulk.run_bulk_issue(started.id)  # once done, running it again issues nothing
    _reread()
    assert _vouchers_in(resumed.batch_id) == 1_000 and _actions("vouchers.bulk_issued") == 1


@pytest.mark.parametrize("app", [{"BULK_ISSUE_CHUNK": 300}], indirect=True)
def test_a_failed_chunk_rolls_back_marks_the_issue_failed_and_a_retry_finishes_it(
    app, brand, offer, monkeypatch
):
    started = bulk.start_bulk_issue(brand.id, offer["id"], 1_000, "staff:1")
    real_insert = bulk.insert_vouchers
    calls = []

    def dies_on_the_third_chunk(*args, **kwargs):
        calls.append(1)
        vouchers = real_insert(*args, **kwargs)
        if len(calls) == 3:
            raise RuntimeError("the database went away")  # after the inserts: they must roll back
        return vouchers

    monkeypatch.setattr(bulk, "insert_vouchers", dies_on_the_third_chunk)
    with pytest.raises(RuntimeError):
        bulk.run_bulk_issue(started.id)
    _reread()
    failed = bulk.get_bulk_issue(brand.id, started.id)
    assert (failed.status, failed.issued, failed.error) == (
        "failed",
        600,
        "RuntimeError: the database went away",
    )
    assert _vouchers_in(failed.batch_id) == 600

    monkeypatch.setattr(bulk, "insert_vouchers", real_insert)
    bulk.run_bulk_issue(started.id)  # RQ's retry of the failed job
    _reread()
    done = bulk.get_bulk_issue(brand.id, started.id)
    assert (done.status, done.issued, done.error) == ("done", 1_000, None)
    assert _vouchers_in(done.batch_id) == 1_000


@pytest.mark.parametrize("app", [{"BULK_ISSUE_CHUNK": 250}], indirect=True)
def test_two_workers_racing_the_same_job_issue_exactly_count(app, brand, offer):
    started = bulk.start_bulk_issue(brand.id, offer["id"], 5_000, "staff:1")
    bulk_id = started.id
    db.session.commit()
    start = threading.Barrier(2)
    errors: list[BaseException] = []

    def worker() -> None:
        with app.app_context():
            try:
                start.wait()
                bulk.run_bulk_issue(bulk_id)
            except BaseException as error:  # noqa: BLE001 - reported by the assertion below
                errors.append(error)

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert not errors
    _reread()
    finished = bulk.get_bulk_issue(brand.id, bulk_id)
    assert (finished.status, finished.issued) == ("done", 5_000)
    assert _vouchers_in(finished.batch_id) == 5_000
    # No chunk was issued twice, and only one run recorded the completion.
    assert _actions("vouchers.issued") == 20 and _actions("vouchers.bulk_issued") == 1


@pytest.mark.parametrize("app", [{"REDIS_URL": "redis://127.0.0.1:1/0"}], indirect=True)
def test_when_the_job_cannot_be_queued_the_issue_is_marked_failed(app, brand, offer):
    with pytest.raises(RedisError):
        bulk.start_bulk_issue(brand.id, offer["id"], 10, "staff:1")
    status, error = db.session.execute(select(BulkIssue.status, BulkIssue.error)).one()
    assert status == "failed" and error.startswith("Could not queue the job")
