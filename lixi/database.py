"""Database plumbing: UTC timestamps, SQLite settings, write transactions safe on SQLite and PostgreSQL."""

from __future__ import annotations

import fcntl
import os
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from flask import g, has_request_context
from sqlalchemy import (
    JSON,
    DateTime,
    Insert,
    Table,
    bindparam,
    cast,
    event,
    func,
    insert,
    literal_column,
    select,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.orm import Session
from sqlalchemy.sql.expression import ColumnElement, FromClause
from sqlalchemy.types import TypeDecorator

from lixi.extensions import db

_write_lock_wanted: ContextVar[bool] = ContextVar("lixi_write_lock_wanted", default=False)


class UTCDateTime(TypeDecorator):
    """Stored as naive UTC (SQLite has no zones), always handed out as an aware UTC datetime."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given; Lixi stores aware UTC instants only")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


@event.listens_for(Engine, "connect")
def _configure_sqlite(dbapi_connection: Any, _record: Any) -> None:
    if not isinstance(dbapi_connection, sqlite3.Connection):
        return
    # We issue BEGIN ourselves (below) so that writers can take the lock up front.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


@event.listens_for(Engine, "begin")
def _begin_sqlite(connection: Connection) -> None:
    if connection.dialect.name != "sqlite":
        return
    # A deferred transaction that reads and then writes cannot wait for the lock in WAL mode
    # (SQLITE_BUSY at once); BEGIN IMMEDIATE makes writers queue on busy_timeout instead.
    connection.exec_driver_sql("BEGIN IMMEDIATE" if _write_lock_wanted.get() else "BEGIN")


@dataclass
class HeldCommit:
    """A row to insert with the request's change, and a promise that the caller commits.

    Idempotency-Key claims use it: the claim, the change and the stored response then land in
    one commit, so a crash can never leave a change without its replayable response.
    """

    row: object
    joined: bool = False


def hold_commit(row: object) -> HeldCommit:
    held = HeldCommit(row)
    g.lixi_held_commit = held
    return held


def release_hold() -> None:
    g.pop("lixi_held_commit", None)


@contextmanager
def write_transaction() -> Iterator[Session]:
    """One transaction for one state change: commits on success, rolls back on any error.

    Ends any read snapshot first, so on SQLite the write lock is taken before the first read
    of the change; on PostgreSQL the conditional UPDATEs inside carry the guarantees. Under a
    held commit (see HeldCommit) the transaction is left open for the holder to commit, and
    later write transactions of the same request join it.
    """
    session = db.session
    held: HeldCommit | None = g.get("lixi_held_commit") if has_request_context() else None
    if held is not None and held.joined:
        try:
            yield session
            session.flush()
        except BaseException:
            session.rollback()
            held.joined = False
            raise
        return
    session.commit()
    token = _write_lock_wanted.set(True)
    # A held commit outlives this block, so it cannot hold the writers' queue; it waits on busy_timeout.
    queue = _writers_queue(session) if held is None else None
    if queue is not None:
        queue.acquire()
    try:
        if held is not None:
            # Claim the key first: a concurrent twin then fails on the claim (and replays the
            # winner's answer) instead of on the change itself (say, "already redeemed").
            session.add(held.row)
            session.flush()
            held.joined = True
        yield session
        if held is not None:
            session.flush()
        else:
            session.commit()
    except BaseException:
        session.rollback()
        if held is not None:
            held.joined = False
        raise
    finally:
        if queue is not None:
            queue.release()
        _write_lock_wanted.reset(token)


class WritersQueue:
    """One SQLite writer at a time across threads and processes, waiting in the kernel, not in sleeps.

    SQLite's own busy handler retries a locked database with sleeps of up to 100 ms, so under
    load most writers sleep while the lock is free. A thread lock plus flock() on a file beside
    the database hands the lock over as soon as it is released (flock alone would let two
    threads of one process in at once: it locks per open file, not per thread).
    """

    def __init__(self, path: str) -> None:
        self._thread_lock = threading.Lock()
        self._fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)  # open for the life of the process

    def acquire(self) -> None:
        self._thread_lock.acquire()
        try:
            fcntl.flock(self._fd, fcntl.LOCK_EX)
        except BaseException:
            self._thread_lock.release()
            raise

    def release(self) -> None:
        try:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
        finally:
            self._thread_lock.release()


_queues: dict[tuple[int, str], WritersQueue] = {}
_queues_lock = threading.Lock()


def _writers_queue(session: Session) -> WritersQueue | None:
    url = session.get_bind().url
    if url.get_backend_name() != "sqlite" or not url.database or url.database == ":memory:":
        return None
    key = (os.getpid(), url.database)  # a forked worker opens its own file: flock is per open file
    with _queues_lock:
        if key not in _queues:
            _queues[key] = WritersQueue(url.database + "-writers.lock")
        return _queues[key]


def insert_ignoring_duplicates(model: Any, values: dict[str, Any]) -> None:
    """INSERT a row unless its key exists (ON CONFLICT DO NOTHING), on SQLite and PostgreSQL."""
    session = db.session
    if session.get_bind().dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    session.execute(insert(model).values(**values).on_conflict_do_nothing())


def read_row(statement: Any, params: dict[str, Any]) -> Any:
    """The first row of one read-only statement: the hot paths' reads before their write.

    On PostgreSQL, outside a transaction, it runs on an autocommit connection: one round trip
    instead of three (BEGIN, the SELECT, and the ROLLBACK when the request ends). Inside the
    session's transaction (an Idempotency-Key claim began one), it reads there, so one request
    never holds two pooled connections. SQLite reads in process, through the session.
    """
    session = db.session()
    engine = session.get_bind()
    if engine.dialect.name == "postgresql" and not session.in_transaction():
        return _first_row_in_autocommit(engine, statement, params)
    return session.connection().execute(statement, params).first()


def changes_in_one_statement() -> bool:
    """Whether a change written as one statement may run on its own, in autocommit.

    On PostgreSQL one statement is atomic, its data-modifying CTEs included: the change, its audit
    row and its outbox event commit together in one round trip instead of BEGIN, four statements
    and COMMIT. Not under a held commit (an Idempotency-Key claim must land in the change's
    transaction), and not on SQLite, which has no data-modifying CTEs and no network to save.
    """
    if has_request_context() and g.get("lixi_held_commit") is not None:
        return False
    return writes_in_ctes()


def writes_in_ctes() -> bool:
    """Whether the database runs data-modifying CTEs (PostgreSQL; SQLite has none): several writes,
    or a write and a read, in one statement and one round trip."""
    return db.session().get_bind().dialect.name == "postgresql"


def write_in_one_statement(statement: Any, params: dict[str, Any]) -> Any:
    """Run a change written as one statement (see changes_in_one_statement) and commit it: its
    first row, or None when it changed nothing. The session's read transaction, if any, ends first,
    so one request never holds two pooled connections."""
    session = db.session()
    session.commit()
    return _first_row_in_autocommit(session.get_bind(), statement, params)


def _first_row_in_autocommit(engine: Engine, statement: Any, params: dict[str, Any]) -> Any:
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        return connection.execute(statement, params).first()


# --- Changes in one statement (PostgreSQL's data-modifying CTEs) --------------------------------


def insert_from(
    table: Table,
    source: FromClause,
    prefix: str,
    bound: tuple[str, ...],
    computed: dict[str, ColumnElement[Any]],
) -> Insert:
    """INSERT INTO `table` SELECT … FROM `source`: a row for each row `source` (a CTE) yields. The
    `bound` columns are the bound parameters `prefix` + their name (see prefixed), the `computed`
    ones expressions over `source`; the others take their server default (or NULL)."""
    values = [bindparam(prefix + name, type_=table.c[name].type) for name in bound]
    return insert(table).from_select(
        [*bound, *computed], select(*values, *computed.values()).select_from(source)
    )


def prefixed(prefix: str, row: dict[str, Any]) -> dict[str, Any]:
    """A row's values as insert_from's bound parameters."""
    return {prefix + name: value for name, value in row.items()}


def json_with(bound: str, **computed: ColumnElement[Any]) -> ColumnElement[Any]:
    """A JSON object: the bound parameter's (a dict), with keys whose values the statement computes
    (say, the id a CTE's INSERT just returned)."""
    pairs: list[Any] = []
    for key, value in computed.items():
        pairs += [literal_column(f"'{key}'"), value]  # keys are identifiers of our code, never input
    merged = bindparam(bound, type_=JSONB).op("||", return_type=JSONB)(func.jsonb_build_object(*pairs))
    return cast(merged, JSON)
