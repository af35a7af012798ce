"""Each worker's memory of checked API keys, emptied on every worker within milliseconds of a revocation.

Checking the key in the database on every call costs a query on the hottest paths (validate,
redeem, play); a plain time-to-live cache lets a revoked key live on for the whole TTL. So:

- Any committed change to `api_keys` (a revocation through the dashboard, the service or the
  CLI) publishes on a Redis channel after commit (and empties this worker's cache at once).
- Each worker process runs one listener thread, started lazily on its first API call (so after
  gunicorn forks), subscribed to that channel; a message empties its worker's cache.
- A request looks the key up in memory only: no Redis and no SQL round trip for a known key.
- The listener proves it is connected by a PING every HEARTBEAT_SECONDS when idle. While it has
  no recent proof (starting, Redis down, reconnecting, a silent network stall) an entry is
  trusted for UNCONFIRMED_SECONDS at most, and a (re)subscription empties the cache: messages
  published while it was away are lost.
- Each emptying starts a new generation; a check that began before it is not remembered after
  it (a request that read the key just before a revocation committed cannot re-warm the cache).
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable
from typing import Any

import redis
from flask import current_app
from sqlalchemy import event
from sqlalchemy.orm import ORMExecuteState, Session, object_session

from lixi.models import ApiKey
from lixi.redis_client import redis_client

log = logging.getLogger(__name__)

UNCONFIRMED_SECONDS = 1.0  # the longest an entry is trusted while the listener cannot vouch for it
HEARTBEAT_SECONDS = 0.25  # an idle listener pings this often; each answer is its proof of life
STALL_SECONDS = 5.0  # no answer for this long: drop the connection and subscribe again
RETRY_SECONDS = 0.5  # between attempts to reach Redis
_MAX_ENTRIES = 10_000
_CHANGED = "lixi_api_keys_changed"  # Session.info flag: this transaction changed api_keys


class KeyCache:
    """memo key → (checked at, value); `forget` empties it and starts a new generation.

    Every entry belongs to the current generation: `put` stores only within it, `forget` clears.
    """

    def __init__(self) -> None:
        self._entries: dict[str, tuple[float, Any]] = {}
        self._generation = 0
        self._lock = threading.Lock()

    @property
    def generation(self) -> int:
        return self._generation

    def get(self, key: str, ttl: float, confirmed: bool) -> Any | None:
        entry = self._entries.get(key)
        if entry is None:
            return None
        checked_at, value = entry
        limit = ttl if confirmed else min(ttl, UNCONFIRMED_SECONDS)
        if time.monotonic() - checked_at >= limit:
            return None
        return value

    def put(self, key: str, value: Any, generation: int) -> None:
        """Remember a check that started in `generation`, unless the cache was emptied since."""
        with self._lock:
            if generation != self._generation:
                return
            if len(self._entries) >= _MAX_ENTRIES:
                self._entries.clear()
            self._entries[key] = (time.monotonic(), value)

    def forget(self) -> None:
        with self._lock:
            self._generation += 1
            self._entries.clear()


known_keys = KeyCache()


class RevocationListener:
    """One per worker process and Redis: empties `known_keys` on every message of the channel."""

    def __init__(self, url: str, channel: str, on_change: Callable[[], None]) -> None:
        self.url = url
        self.channel = channel
        self.on_change = on_change
        self.alive_at = float("-inf")  # monotonic time of the last proof that messages arrive
        self.outage_logged = False
        self.thread = threading.Thread(target=self._run, name="lixi-api-key-revocations", daemon=True)

    def start(self) -> RevocationListener:
        self.thread.start()
        return self

    @property
    def confirmed(self) -> bool:
        """Whether a revocation published now would reach this worker (heard from Redis lately)."""
        return time.monotonic() - self.alive_at < UNCONFIRMED_SECONDS

    def _run(self) -> None:
        while True:
            client = redis.Redis.from_url(self.url, socket_connect_timeout=0.5, socket_timeout=STALL_SECONDS)
            pubsub = client.pubsub()
            try:
                pubsub.subscribe(self.channel)
                self._listen(pubsub)
            except Exception as error:  # noqa: BLE001 - Redis down or the connection lost: try again
                if not self.outage_logged:
                    self.outage_logged = True
                    log.warning(
                        "API key revocations unheard (%s): keys are rechecked every %ss",
                        error,
                        UNCONFIRMED_SECONDS,
                    )
            finally:
                if self.alive_at > float("-inf"):
                    # A live subscription is lost (not merely another failed attempt): start afresh.
                    self.alive_at = float("-inf")
                    self.on_change()
                pubsub.close()
                client.close()
            time.sleep(RETRY_SECONDS)

    def _listen(self, pubsub: redis.client.PubSub) -> None:
        heard_at = time.monotonic()
        while True:
            message = pubsub.get_message(timeout=HEARTBEAT_SECONDS)
            now = time.monotonic()
            if message is None:
                if now - heard_at > STALL_SECONDS:
                    raise ConnectionError("no answer from Redis")
                pubsub.ping()  # answered by a "pong" message: proof the connection still delivers
                continue
            if message["type"] in ("subscribe", "message"):
                # Subscribed (again): anything revoked while away went unheard. A message: a revocation.
                self.on_change()
                self.outage_logged = False
            heard_at = self.alive_at = now


_listeners: dict[tuple[int, str, str], RevocationListener] = {}
_listeners_lock = threading.Lock()


def _channel() -> str:
    return f"{current_app.config['RATELIMIT_KEY_PREFIX']}:api-keys:changed"


def listener() -> RevocationListener:
    """This process's listener for the app's Redis, started on first use (after a fork, anew)."""
    key = (os.getpid(), current_app.config["REDIS_URL"], _channel())
    found = _listeners.get(key)
    if found is None:
        with _listeners_lock:
            found = _listeners.get(key)
            if found is None:
                found = _listeners[key] = RevocationListener(key[1], key[2], known_keys.forget).start()
    return found


def announce_key_change() -> None:
    """Empty this worker's cache and tell every other worker to empty theirs."""
    known_keys.forget()
    try:
        assert redis_client.client is not None
        redis_client.client.publish(_channel(), b"1")
    except redis.RedisError:
        # The change is committed. Workers whose listener reaches Redis are told by nobody now and
        # trust their entries up to API_KEY_CACHE_SECONDS; those that cannot reach it, 1 s.
        log.exception("API key change not announced to the other workers")


def _note_key_statements(state: ORMExecuteState) -> None:
    """UPDATE or DELETE statements on api_keys (stamp_once, seed-demo's retirement of old keys)."""
    if state.is_update or state.is_delete:
        table = getattr(state.statement, "table", None)
        if getattr(table, "name", None) == ApiKey.__tablename__:
            state.session.info[_CHANGED] = True


def _note_key_flush(_mapper: Any, _connection: Any, api_key: ApiKey) -> None:
    """A key changed through the unit of work (`api_key.revoked_at = …`, then commit)."""
    session = object_session(api_key)
    if session is not None:
        session.info[_CHANGED] = True


def _announce_after_commit(session: Session) -> None:
    if session.info.pop(_CHANGED, False):
        announce_key_change()


def _forget_rolled_back(session: Session) -> None:
    session.info.pop(_CHANGED, None)


def init_keycache() -> None:
    """Note every committed change to api_keys: once per process, however many apps (as
    lixi.outbox.init_outbox), not at import."""
    if event.contains(Session, "after_commit", _announce_after_commit):
        return
    event.listen(Session, "do_orm_execute", _note_key_statements)
    event.listen(ApiKey, "after_update", _note_key_flush)
    event.listen(ApiKey, "after_delete", _note_key_flush)
    event.listen(Session, "after_commit", _announce_after_commit)
    event.listen(Session, "after_rollback", _forget_rolled_back)
