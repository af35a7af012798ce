"""The Redis client the caches share (rate limits have their own pool, the job queue its own)."""

from __future__ import annotations

import redis
from flask import Flask


class RedisClient:
    """A redis-py client built from REDIS_URL when the app is made."""

    def __init__(self) -> None:
        self.client: redis.Redis | None = None

    def init_app(self, app: Flask) -> None:
        self.client = redis.Redis.from_url(
            app.config["REDIS_URL"], socket_connect_timeout=0.5, socket_timeout=1.0
        )
        app.extensions["lixi_redis"] = self


redis_client = RedisClient()
