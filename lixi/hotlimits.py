"""The hot paths' rate limits (validate, redeem, play): all of a request's limits in one Redis round trip.

Why the hot paths do not use Flask-Limiter, which every other route keeps: it makes one round trip
per limit (three on a validate, and one more to read the window for Retry-After) and filters the
route's limits twice per request; measured, that was about a third of a validate's CPU
(bench/README.md). Here a route's limits are one Lua script call (redis-py's `register_script`:
EVALSHA, loaded once per Redis), with the same settings (`RATE_LIMIT_*`, read at request time),
the same fixed windows, the same 429 with Retry-After and the same fail-closed 503 when Redis is
down or hung (a short socket timeout and no retries, so the till hears "unavailable" within a
second rather than waiting on a dead Redis).

Every key of one call carries the brand as its hash tag (`lixi:hot:{b42}:…`), so the script runs
unchanged on Redis Cluster or a Valkey cluster: all its keys live in one slot.

Failed look-ups (a 404 on validate or redeem: a guessed, forged or other brand's code) are checked
with the other limits and counted after the answer, by a second script call that only a 404 pays.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import redis
from flask import Flask, current_app, g, request
from limits import RateLimitItem, parse_many
from redis.backoff import NoBackoff
from redis.retry import Retry

from lixi.errors import DomainError, ErrorCode
from lixi.extensions import limiter
from lixi.ratelimit import client_ip

# KEYS: the counters, then (optional) a tally of refusals. ARGV: how many of the counters this
# request counts (the first ones; the rest, failure counters, are only checked), whether there is
# a tally, then each counter's limit and window in milliseconds. A counter at its limit refuses
# the request: nothing is counted and the script answers the milliseconds until that window ends.
# Otherwise every counted counter goes up by one (a new window starts with its first count).
_CHECK_AND_COUNT = """
local counted = tonumber(ARGV[1])
local counters = #KEYS - tonumber(ARGV[2])
for i = 1, counters do
  local used = tonumber(redis.call('GET', KEYS[i]) or '0')
  if used >= tonumber(ARGV[1 + 2 * i]) then
    if counters < #KEYS then redis.call('INCR', KEYS[#KEYS]) end
    local left = redis.call('PTTL', KEYS[i])
    if left < 0 then
      redis.call('PEXPIRE', KEYS[i], ARGV[2 + 2 * i])
      left = tonumber(ARGV[2 + 2 * i])
    end
    return left
  end
end
for i = 1, counted do
  if redis.call('INCR', KEYS[i]) == 1 then redis.call('PEXPIRE', KEYS[i], ARGV[2 + 2 * i]) end
end
return -1
"""

# KEYS: counters to count one more (failures); ARGV: each one's window in milliseconds.
_COUNT = """
for i = 1, #KEYS do
  if redis.call('INCR', KEYS[i]) == 1 then redis.call('PEXPIRE', KEYS[i], ARGV[i]) end
end
return 0
"""


class RateLimited(DomainError):
    """429 rate_limited, with Retry-After: the seconds until the breached window ends."""

    def __init__(self, retry_after: int) -> None:
        super().__init__(ErrorCode.RATE_LIMITED, 429, "Too many requests; slow down.")
        self.headers = {"Retry-After": str(retry_after)}


def digest(text: str) -> str:
    """An identity of bounded length for a key (member ids, cookies, API keys are the caller's text)."""
    return hashlib.blake2b(text.encode("utf-8", "replace"), digest_size=12).hexdigest()


@dataclass(frozen=True)
class HotLimit:
    """One limit of a hot route: its setting, a scope naming its counters, and whom it counts.

    `identity(data)` gets the parsed body. A `failures_only` limit is checked on every request but
    counted only by `HotLimits.count_failure` (a 404).
    """

    setting: str
    scope: str
    identity: Callable[[dict], str]
    failures_only: bool = False


@lru_cache(maxsize=256)
def _rates(value: str) -> tuple[tuple[int, int, str], ...]:
    """ "120 per minute; 1000 per hour" → ((120, 60000, "120/60"), …): limit, window ms, key suffix."""
    items: list[RateLimitItem] = parse_many(value)
    return tuple(
        (item.amount, item.get_expiry() * 1000, f"{item.amount}/{item.get_expiry()}") for item in items
    )


class HotLimiter:
    """The scripts and their Redis client, one per app (redis-py keeps a pool per client)."""

    def __init__(self, app: Flask) -> None:
        timeout = app.config["RATE_LIMIT_REDIS_TIMEOUT"]
        self.client = redis.Redis.from_url(
            app.config["REDIS_URL"],
            socket_connect_timeout=timeout,
            socket_timeout=timeout,
            retry=Retry(NoBackoff(), 0),  # fail closed at once: a retry would double the wait
        )
        self.check_and_count = self.client.register_script(_CHECK_AND_COUNT)
        self.count = self.client.register_script(_COUNT)
        self.prefix = f"{app.config['RATELIMIT_KEY_PREFIX']}:hot"

    def brand_prefix(self, brand_id: int) -> str:
        # The hash tag: every key of a call is the brand's, so one cluster slot holds them all.
        return f"{self.prefix}:{{b{brand_id}}}"

    @staticmethod
    def of(app: Flask) -> HotLimiter:
        return app.extensions["lixi_hot_limiter"]


def init_hot_limits(app: Flask) -> None:
    """After Flask-Limiter's init_app: the scripts, and Flask-Limiter's hooks skip the hot routes."""
    app.extensions["lixi_hot_limiter"] = HotLimiter(app)
    # Flask-Limiter has no limits on the hot routes, yet its before, after and teardown hooks
    # would each still run (its context, its filters, its headers) on every hot request.
    for hooks in (app.before_request_funcs, app.after_request_funcs, app.teardown_request_funcs):
        for index, hook in enumerate(hooks.get(None, [])):
            if _owner(hook) is limiter:
                hooks[None][index] = _unless_hot(hook)


def _owner(hook: Callable) -> object:
    return getattr(hook, "__self__", None) or next(iter(getattr(hook, "args", ())), None)


def is_hot_route() -> bool:
    return getattr(current_app.view_functions.get(request.endpoint or ""), "lixi_hot", False)


def _unless_hot(hook: Callable) -> Callable:
    def hook_unless_hot(*args: Any) -> Any:
        if is_hot_route():
            return args[0] if args else None  # an after_request hook hands the response on
        return hook(*args)

    return hook_unless_hot


@dataclass(frozen=True)
class _Counter:
    key: str
    limit: int
    window_ms: int
    failures_only: bool


class HotLimits:
    """The limits of one hot route, checked (and counted) in one script call.

    `tally(data)`, when given, names a counter of refused requests (games count refused plays per
    campaign for the stats); it is counted in the same call.
    """

    def __init__(self, *limits: HotLimit, tally: Callable[[dict], str] | None = None) -> None:
        self.limits = limits
        self.tally = tally

    def keys(self, brand_id: int, data: dict) -> tuple[list[_Counter], str | None]:
        """The counters of this request (counted ones first) and the tally's key, all under one tag."""
        limiter = HotLimiter.of(current_app)
        base = limiter.brand_prefix(brand_id)
        config = current_app.config
        counters = []
        for limit in self.limits:
            identity = limit.identity(data)
            for amount, window_ms, suffix in _rates(config[limit.setting]):
                key = f"{base}:{limit.scope}:{identity}:{suffix}"
                counters.append(_Counter(key, amount, window_ms, limit.failures_only))
        counters.sort(key=lambda counter: counter.failures_only)
        tally = f"{base}:refused:{self.tally(data)}" if self.tally else None
        return counters, tally

    def check(self, brand_id: int, data: dict) -> None:
        """Count this request against every limit, or raise 429 (a breach) or let RedisError out (503)."""
        counters, tally = self.keys(brand_id, data)
        keys = [counter.key for counter in counters]
        args: list[Any] = [sum(not c.failures_only for c in counters), 1 if tally else 0]
        for counter in counters:
            args += (counter.limit, counter.window_ms)
        if tally:
            keys.append(tally)
        left_ms = HotLimiter.of(current_app).check_and_count(keys=keys, args=args)
        if left_ms >= 0:
            raise RateLimited(max(1, -(-left_ms // 1000)))

    def count_failure(self, brand_id: int, data: dict) -> None:
        """One more failed look-up on the failures-only counters (after a 404)."""
        failures = [counter for counter in self.keys(brand_id, data)[0] if counter.failures_only]
        if failures:
            script = HotLimiter.of(current_app).count
            script(keys=[c.key for c in failures], args=[c.window_ms for c in failures])


def by_client_ip(_data: dict) -> str:
    return client_ip()


def by_api_key(_data: dict) -> str:
    """The authenticated key (the API's hot routes check the key first, in memory: lixi.auth)."""
    return f"key{g.api_key_id}"


def tally_count(brand_id: int, name: str) -> int | None:
    """A tally of refusals (HotLimits' `tally`), None when Redis cannot say."""
    limiter = HotLimiter.of(current_app)
    try:
        value = limiter.client.get(f"{limiter.brand_prefix(brand_id)}:refused:{name}")
    except redis.RedisError:
        return None
    return int(value or 0)
