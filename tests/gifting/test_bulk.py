"""Bulk gifts from a file: the dry run's reasons row by row, 10,000 rows checked and sent by the job,
a re-upload that sends nothing twice, a killed or doubled job, the row limit, and tenancy."""

from __future__ import annotations

import csv
import io
import time
from datetime import UTC, datetime

import pytest
from sqlalchemy import func, select, update

from gifting import bulk, bulk_job
from gifting.bulk_file import parse_send_at
from gifting.models import Gift, GiftBatch, GiftBatchRow
from lixi.errors import InvalidRequest, NotFound
from lixi.extensions import db
from lixi.jobs import work
from lixi.models import AuditEvent, MailMessage, OutboxMessage
from tests.conftest import fresh_app
from vouchers.models import Offer, Voucher

HEADER = "row_id,name,email,phone,offer_id,amount,message,send_at\n"


@pytest.fixture
def app(migrated, redis_url, request):
    """The app, with settings overridden by a test's indirect parameter."""
    with fresh_app(migrated, redis_url, **getattr(request, "param", {})) as app:
        yield app


@pytest.fixture
def gift_card(make_offer) -> dict:
    return make_offer(name="Thẻ quà Tết", kind="gift_card", value=500_000)


def csv_bytes(*lines: str, header: str = HEADER) -> bytes:
    return (header + "".join(line + "\n" for line in lines)).encode()


def check(brand_id: int, data: bytes, gift_card_offer_id: int | None = None, **settings) -> GiftBatch:
    options = {"design": "tet", "sender_name": "Công ty ABC", "claim_days": 30, **settings}
    return bulk.check_batch(brand_id, "staff.csv", data, gift_card_offer_id, **options)


def rows_of(batch: GiftBatch) -> dict[int, GiftBatchRow]:
    return {row.line: row for row in bulk.batch_rows(batch.brand_id, batch.id, limit=100_000)}


def reread() -> None:
    # The job wrote from sessions of its own; end this session's read snapshot (SQLite WAL).
    db.session.rollback()


def gifts_count(**where) -> int:
    query = select(func.count()).select_from(Gift).filter_by(**where)
    return db.session.scalar(query)


def send(brand_id: int, batch: GiftBatch) -> GiftBatch:
    bulk.start_batch(brand_id, batch.id)
    bulk_job.run_batch(batch.id)
    reread()
    return bulk.get_batch(brand_id, batch.id)


def test_the_dry_run_gives_each_bad_row_its_line_and_reason_and_sends_nothing(
    app, brand, make_brand, offer, gift_card, make_offer, clock
):
    archived = make_offer(name="Old")
    db.session.execute(update(Offer).where(Offer.id == archived["id"]).values(archived_at=datetime.now(UTC)))
    db.session.commit()
    other_brands = make_brand("Trà Sữa")
    from vouchers.offers import create_offer

    foreign = create_offer(other_brands.id, {"name": "Theirs", "kind": "fixed_amount", "value": 10_000})
    o, g = offer["id"], gift_card["id"]
    data = csv_bytes(
        f"A1,An,an@example.com,,{o},,Chúc mừng năm mới,",  # 2 ok
        "A2,Bình,,0912 345 678,,200.000,,2030-02-03",  # 3 ok: an amount on the batch's gift card
        f",Chi,chi@example.com,,{o},,,",  # 4 no row_id
        f"A4,Dũng,not-an-email,,{o},,,",  # 5
        f"A5,Em,,12345,{o},,,",  # 6
        f"A6,Giang,,,{o},,,",  # 7 no contact
        "A7,Hà,ha@example.com,,,,,",  # 8 no offer, no amount
        f"A8,Khoa,khoa@example.com,,{archived['id']},,,",  # 9
        f"A9,Lan,lan@example.com,,{foreign.id},,,",  # 10 another brand's offer
        "A10,Minh,minh@example.com,,99999999999,,,",  # 11 more than an id column holds
        f"A11,Nam,nam@example.com,,{o},50000,,",  # 12 an amount on a fixed-amount offer
        "A12,Oanh,oanh@example.com,,,-5,,",  # 13
        f"A13,Phúc,phuc@example.com,,{o},,{'x' * 501},",  # 14
        f"A14,Quân,quan@example.com,,{o},,,next tuesday",  # 15
        f"A15,Sơn,son@example.com,,{o},,,",  # 16 repeated row_id
        f"A15,Sơn 2,son2@example.com,,{o},,,",  # 17
        f"A17,Tâm,tam@example.com,,{g},300000,,",  # 18 ok: an amount on a gift-card offer named by the row
        f"A18,Uyên,uyen@example.com,,{o},,,2031-02-06",  # 19 beyond 400 days
        "",  # a blank line is not a row
    )
    batch = check(brand.id, data, gift_card_offer_id=g)
    rows = rows_of(batch)
    reasons = {line: (row.status, row.error) for line, row in rows.items()}
    assert reasons == {
        2: ("ok", None),
        3: ("ok", None),
        4: ("bad", "row_id is missing."),
        5: ("bad", "Not a valid email address."),
        6: ("bad", "Not a valid phone number."),
        7: ("bad", "An email or a phone number is needed."),
        8: ("bad", "Either offer_id or amount is needed."),
        9: ("bad", "The offer is archived."),
        10: ("bad", "No such offer."),
        11: ("bad", "No such offer."),
        12: ("bad", "An amount goes only with a gift-card offer."),
        13: ("bad", "amount must be a whole number above 0."),
        14: ("bad", "The message is longer than 500 characters."),
        15: ("bad", "send_at is not a date or a date and time."),
        16: ("bad", "This row_id appears more than once in the file."),
        17: ("bad", "This row_id appears more than once in the file."),
        18: ("ok", None),
        19: ("bad", "send_at is too far ahead (400 days at most)."),
    }
    assert (batch.status, batch.rows_total, batch.rows_bad, batch.rows_skipped) == ("checked", 18, 15, 0)
    assert batch.total_value == 50_000 + 200_000 + 300_000
    assert bulk.rows_to_send(batch) == 3
    assert (rows[3].phone, rows[3].amount, rows[2].email) == ("+84912345678", 200_000, "an@example.com")
    assert rows[3].send_at == datetime(2030, 2, 3, 1, 0, tzinfo=UTC)  # 08:00 in Hồ Chí Minh City
    assert rows[5].email == "not-an-email"  # a bad row keeps what was typed, to fix
    assert gifts_count() == 0 and db.session.scalar(select(func.count()).select_from(Voucher)) == 0
    checked = db.session.execute(
        select(AuditEvent).where(AuditEvent.action == "gift_batch.checked")
    ).scalar_one()
    assert checked.data["rows_bad"] == 15 and checked.subject_id == str(batch.id)

    # Without the batch's gift-card offer an amount row has nothing to be a gift card of.
    again = check(brand.id, csv_bytes("B1,Vy,vy@example.com,,,100000,,"))
    assert rows_of(again)[2].error == "A row with an amount needs the gift-card offer chosen for the file."


def test_a_file_that_cannot_be_read_whole_is_refused_with_its_reason(app, brand, offer, gift_card, clock):
    refusals = {
        b"\xff\xfe r\x00o\x00w": "file",  # UTF-16: not UTF-8
        b"": "file",
        b"row_id,name,emial,offer_id\nA1,An,an@example.com,1\n": "file",  # a typo'd column
        b"row_id,name,offer_id\nA1,An,1\n": "file",  # no email or phone column
        b"row_id,email,name\nA1,an@example.com,An\n": "file",  # no offer_id or amount column
        b"row_id,email,offer_id\nA1,a@example.com,"
        + b"9" * 200_000
        + b"\n": "file",  # a cell past csv's limit
        b"\n\n  \n": "file",  # blank
    }
    for data, field in refusals.items():
        with pytest.raises(InvalidRequest) as refused:
            check(brand.id, data)
        assert list(refused.value.details["fields"]) == [field], data
    for not_a_gift_card in (offer["id"], 2**40):
        with pytest.raises(InvalidRequest) as refused:
            check(brand.id, csv_bytes(), gift_card_offer_id=not_a_gift_card)
        assert list(refused.value.details["fields"]) == ["gift_card_offer_id"]
    for setting, value in (("claim_days", 0), ("claim_days", 366), ("design", "neon")):
        with pytest.raises(InvalidRequest) as refused:
            check(brand.id, csv_bytes(), **{setting: value})
        assert list(refused.value.details["fields"]) == [setting]
    assert db.session.scalar(select(func.count()).select_from(GiftBatch)) == 0

    # A quoted message may hold line breaks (and a Unicode line separator): the lines still count.
    quoted = (
        "row_id,email,offer_id,message\n"
        f'L1,l1@example.com,{offer["id"]},"Chúc mừng\nnăm mới\u2028!"\n'
        f"L2,l2@example.com,{offer['id']},\n"
    )
    read = rows_of(check(brand.id, quoted.encode()))
    assert (
        sorted(read) == [2, 4] and read[2].message == "Chúc mừng\nnăm mới\u2028!" and read[4].row_id == "L2"
    )

    # Excel's "CSV UTF-8" (a BOM), capitalised headers, semicolons and day-first dates are read.
    excel = "\ufeffRow_ID;Name;Email;Offer_ID;Send_At\r\nA1;Ánh;anh@example.com;{};17/02/2030 09:30\r\n"
    batch = check(brand.id, excel.format(offer["id"]).encode())
    row = rows_of(batch)[2]
    assert (row.status, row.name, row.send_at) == ("ok", "Ánh", datetime(2030, 2, 17, 2, 30, tzinfo=UTC))


@pytest.mark.parametrize("app", [{"GIFT_BULK_MAX_ROWS": 50}], indirect=True)
def test_a_file_over_the_row_limit_is_refused_whole(app, brand, offer):
    lines = [f"R{i},Name,r{i}@example.com,,{offer['id']},,," for i in range(51)]
    with pytest.raises(InvalidRequest) as refused:
        check(brand.id, csv_bytes(*lines))
    assert list(refused.value.details["fields"]) == ["file"] and "50" in refused.value.message
    assert db.session.scalar(select(func.count()).select_from(GiftBatch)) == 0
    assert check(brand.id, csv_bytes(*lines[:50])).rows_total == 50  # the limit itself is fine


def test_ten_thousand_rows_are_checked_and_sent_by_the_worker_and_a_reupload_sends_nothing_twice(
    app, brand, offer, gift_card
):
    # Half by email, half by phone (an outbox event for the brand's SMS provider); every 10th an amount
    # (a gift card of 200k, 300k or 500k).
    amounts = (200_000, 300_000, 500_000)
    lines = []
    for i in range(10_000):
        contact = f"staff{i}@example.com," if i % 2 else f",09{i:08d}"
        gift = f",{amounts[i // 10 % 3]}" if i % 10 == 0 else f"{offer['id']},"
        lines.append(f"NV{i:05d},Nhân viên {i},{contact},{gift},Chúc mừng năm mới!,")
    data = csv_bytes(*lines)
    started = time.monotonic()
    batch = check(brand.id, data, gift_card_offer_id=gift_card["id"])
    checked_in = time.monotonic() - started
    assert (batch.rows_total, batch.rows_bad, batch.rows_skipped) == (10_000, 0, 0)
    assert batch.total_value == 9_000 * 50_000 + sum(amounts[i // 10 % 3] for i in range(0, 10_000, 10))
    assert checked_in < 10, checked_in

    bulk.start_batch(brand.id, batch.id)
    assert bulk.start_batch(brand.id, batch.id).status == "queued"  # a double click queues it once
    started = time.monotonic()
    # The job itself, in this process (the worker would also send the 5,000 mails it queues).
    bulk_job.run_batch(batch.id)
    sent_in = time.monotonic() - started
    print(f"10,000 rows: checked in {checked_in:.1f} s, sent in {sent_in:.1f} s")
    reread()
    done = bulk.get_batch(brand.id, batch.id)
    assert (done.status, done.rows_sent, done.rows_done, done.rows_skipped) == ("done", 10_000, 10_000, 0)
    assert bulk.batch_progress(done)["done"] == bulk.batch_progress(done)["total"] == 10_000
    assert gifts_count(batch_id=batch.id) == 10_000 and gifts_count(status="sent") == 10_000
    card = db.session.execute(select(Gift).where(Gift.row_id == "NV00010")).scalar_one()
    assert (card.offer_id, card.value, card.recipient_phone) == (gift_card["id"], 300_000, "+84900000010")
    assert card.voucher.held_by == f"gift:{card.id}" and card.voucher.balance == 300_000
    topics = db.session.execute(
        select(OutboxMessage.topic, func.count())
        .where(OutboxMessage.topic.like("gift.%"))
        .group_by(OutboxMessage.topic)
    ).all()
    assert dict(topics) == {"gift.sent": 10_000, "gift.delivery_requested": 5_000}  # texts for the phones
    mails = db.session.scalar(select(func.count()).select_from(MailMessage).where(MailMessage.kind == "gift"))
    assert mails == 5_000
    actions = db.session.execute(
        select(AuditEvent.action, func.count())
        .where(AuditEvent.action.like("gift_batch.%"))
        .group_by(AuditEvent.action)
    ).all()
    assert dict(actions) == {"gift_batch.checked": 1, "gift_batch.started": 1, "gift_batch.sent": 1}

    results = list(csv.DictReader(io.StringIO("".join(bulk.results_csv(brand.id, batch.id)))))
    assert len(results) == 10_000 and {r["status"] for r in results} == {"sent"}
    assert len({r["claim_url"] for r in results}) == 10_000 and results[0]["claim_url"].startswith("http")

    # The same file again, its last two rows replaced by new ones: the dry run skips what was sent
    # (the amount rows too, though no gift-card offer is chosen this time: already sent comes first).
    new_rows = (f"NEW1,Mới,new1@example.com,,{offer['id']},,,", f"NEW2,Mới,,0987654321,{offer['id']},,,")
    again = check(brand.id, csv_bytes(*lines[:-2], *new_rows))
    assert (again.rows_total, again.rows_skipped, bulk.rows_to_send(again)) == (10_000, 9_998, 2)
    assert again.total_value == 2 * 50_000
    finished = send(brand.id, again)
    assert (finished.status, finished.rows_sent, finished.rows_skipped) == ("done", 2, 9_998)
    assert gifts_count() == 10_002


@pytest.mark.parametrize("app", [{"GIFT_BULK_CHUNK": 20}], indirect=True)
def test_a_killed_job_resumes_and_a_row_sent_elsewhere_meanwhile_is_skipped(app, brand, offer):
    lines = [f"K{i},Name {i},k{i}@example.com,,{offer['id']},,," for i in range(100)]
    first = check(brand.id, csv_bytes(*lines))
    second = check(brand.id, csv_bytes(*lines[90:]))  # an overlapping upload, checked before either ran
    assert bulk.rows_to_send(second) == 10
    bulk.start_batch(brand.id, first.id)
    # A worker claimed the first batch, sent two chunks and died: the batch says running.
    db.session.execute(update(GiftBatch).where(GiftBatch.id == first.id).values(status="running"))
    db.session.commit()
    assert bulk_job.send_chunk(first.id) == 100
    assert bulk_job.send_chunk(first.id) == 80
    # Meanwhile the overlapping batch sends rows 90–99 of the first file.
    assert send(brand.id, second).rows_sent == 10

    bulk_job.run_batch(first.id)  # RQ runs the job again (as it retries an abandoned one)
    reread()
    resumed = bulk.get_batch(brand.id, first.id)
    assert (resumed.status, resumed.rows_sent, resumed.rows_skipped) == ("done", 90, 10)
    assert gifts_count() == 100 and gifts_count(batch_id=first.id) == 90
    skipped = bulk.batch_rows(brand.id, first.id, status="skipped")
    assert [row.row_id for row in skipped] == [f"K{i}" for i in range(90, 100)]
    assert {row.error for row in skipped} == {"already sent"} and {row.gift_id for row in skipped} == {None}
    bulk_job.run_batch(first.id)  # done: running it again sends nothing
    reread()
    assert gifts_count() == 100
    holds = db.session.execute(
        select(Gift.id, Voucher.held_by).join(Voucher, Voucher.id == Gift.voucher_id)
    ).all()
    assert {held_by for _, held_by in holds} == {
        f"gift:{gift_id}" for gift_id, _ in holds
    }  # each holds its own


@pytest.mark.parametrize("app", [{"GIFT_BULK_CHUNK": 20}], indirect=True)
def test_two_jobs_racing_past_the_check_still_send_each_row_once(app, brand, offer, monkeypatch):
    lines = [f"T{i},Name,t{i}@example.com,,{offer['id']},,," for i in range(30)]
    first, second = check(brand.id, csv_bytes(*lines)), check(brand.id, csv_bytes(*lines))
    assert send(brand.id, first).rows_sent == 30
    # The second job read its rows before the first sent them: only the unique row_id stands in
    # the way (the chunk fails on it, and its rows are redone one by one and skipped).
    monkeypatch.setattr(bulk_job, "sent_row_ids", lambda brand_id, row_ids: set())
    finished = send(brand.id, second)
    assert (finished.status, finished.rows_sent, finished.rows_skipped) == ("done", 0, 30)
    assert gifts_count() == 30
    assert {row.status for row in bulk.batch_rows(brand.id, second.id)} == {"skipped"}


def test_a_row_the_service_refuses_at_send_time_is_bad_and_the_rest_are_sent(app, brand, offer, make_offer):
    late = make_offer(name="Archived after the dry run")
    lines = [f"S{i},Name,s{i}@example.com,,{offer['id'] if i != 3 else late['id']},,," for i in range(6)]
    batch = check(brand.id, csv_bytes(*lines))
    assert bulk.rows_to_send(batch) == 6
    db.session.execute(update(Offer).where(Offer.id == late["id"]).values(archived_at=datetime.now(UTC)))
    db.session.commit()
    finished = send(brand.id, batch)
    assert (finished.status, finished.rows_sent, finished.rows_bad) == ("done", 5, 1)
    [refused] = bulk.batch_rows(brand.id, batch.id, status="bad")
    assert (refused.row_id, refused.error) == ("S3", "This offer is archived.")
    assert gifts_count() == 5


def test_a_batch_left_queued_is_resumed_by_the_sweep(app, brand, offer, clock):
    batch = check(brand.id, csv_bytes(f"Q1,Name,q1@example.com,,{offer['id']},,,"))
    bulk.start_batch(brand.id, batch.id)
    work(app, burst=True, in_process=True)
    reread()
    assert bulk.get_batch(brand.id, batch.id).status == "done"
    lost = check(brand.id, csv_bytes(f"Q2,Name,q2@example.com,,{offer['id']},,,"))
    db.session.execute(
        update(GiftBatch).where(GiftBatch.id == lost.id).values(status="queued", started_at=clock.now)
    )
    db.session.commit()  # queued, but its job never reached Redis
    assert bulk.resume_batches(60) == {"batches_resumed": 0}  # not yet: its job may still be on its way
    clock.advance(seconds=61)
    assert bulk.resume_batches(60) == {"batches_resumed": 1}
    work(app, burst=True, in_process=True)
    reread()
    assert bulk.get_batch(brand.id, lost.id).status == "done" and gifts_count() == 2


def test_another_brands_batch_is_not_found(app, brand, make_brand, offer):
    batch = check(brand.id, csv_bytes(f"X1,Name,x1@example.com,,{offer['id']},,,"))
    other = make_brand("Trà Sữa")
    for call in (
        lambda: bulk.get_batch(other.id, batch.id),
        lambda: bulk.start_batch(other.id, batch.id),
        lambda: bulk.batch_rows(other.id, batch.id),
        lambda: bulk.results_csv(other.id, batch.id),  # before any streaming
    ):
        with pytest.raises(NotFound):
            call()
    assert bulk.list_batches(other.id) == [] and [b.id for b in bulk.list_batches(brand.id)] == [batch.id]
    assert bulk.get_batch(brand.id, batch.id).status == "checked"  # the other brand started nothing
    # Nor can a file name another brand's offer (the dry run reads it as missing: above).


def test_send_at_reads_dates_and_times_in_the_brands_zone():
    zone = "Asia/Ho_Chi_Minh"
    assert parse_send_at("2030-02-03", zone) == datetime(2030, 2, 3, 1, 0, tzinfo=UTC)
    assert parse_send_at("2030-02-03 18:30", zone) == datetime(2030, 2, 3, 11, 30, tzinfo=UTC)
    assert parse_send_at("2030-02-03T18:30:00+00:00", zone) == datetime(2030, 2, 3, 18, 30, tzinfo=UTC)
    assert parse_send_at("03/02/2030", zone) == datetime(2030, 2, 3, 1, 0, tzinfo=UTC)
    for bad in ("2030-02-30", "31/31/2030", "tomorrow", "2030-13-01 08:00"):
        assert parse_send_at(bad, zone) is None, bad


def test_a_row_for_later_is_made_now_and_sent_by_the_sweep_at_its_time(app, brand, offer, clock):
    # clock: 2030-01-01 00:00 UTC; Tết 2030 is 3 February, 08:00 in Hồ Chí Minh City is 01:00 UTC.
    batch = check(
        brand.id,
        csv_bytes(
            f"T1,Lan,lan@example.com,,{offer['id']},,Chúc mừng năm mới,2030-02-03",
            f"T2,Minh,minh@example.com,,{offer['id']},,,",
        ),
    )
    finished = send(brand.id, batch)
    assert (finished.status, finished.rows_sent) == ("done", 2)
    later, now = (
        db.session.execute(select(Gift).where(Gift.row_id == row_id)).scalar_one() for row_id in ("T1", "T2")
    )
    assert (now.status, later.status) == ("sent", "scheduled")
    assert later.send_at == datetime(2030, 2, 3, 1, 0, tzinfo=UTC) and later.sent_at is None
    assert later.voucher.held_by == f"gift:{later.id}"  # held from the start, like any gift
    mails = db.session.scalar(select(func.count()).select_from(MailMessage).where(MailMessage.kind == "gift"))
    assert mails == 1  # only the gift due now was mailed

    from gifting.expiry import run_gift_sweep

    clock.now = datetime(2030, 2, 3, 0, 59, tzinfo=UTC)
    assert run_gift_sweep()["sent"] == 0
    clock.advance(minutes=1)
    assert run_gift_sweep()["sent"] == 1
    reread()
    assert db.session.get(Gift, later.id).status == "sent"
    assert (
        db.session.scalar(select(func.count()).select_from(MailMessage).where(MailMessage.kind == "gift"))
        == 2
    )


def test_a_chunks_gift_sent_events_reach_a_subscribed_webhook(app, brand, offer):
    from webhooks.endpoints import create_endpoint
    from webhooks.models import WebhookDelivery

    app.config["WEBHOOK_ALLOW_PRIVATE_ADDRESSES"] = True
    create_endpoint(brand.id, "http://127.0.0.1:9/hook", ["gift.sent"])
    lines = [f"W{i},Name,w{i}@example.com,,{offer['id']},,," for i in range(3)]
    bulk.start_batch(brand.id, check(brand.id, csv_bytes(*lines)).id)
    work(app, burst=True, in_process=True)  # the job, then the webhook fan-out its commit asked for
    reread()
    sent_events = select(OutboxMessage.id).where(OutboxMessage.topic == "gift.sent")
    deliveries = db.session.scalars(select(WebhookDelivery.message_id)).all()
    assert sorted(deliveries) == sorted(db.session.scalars(sent_events).all()) and len(deliveries) == 3
