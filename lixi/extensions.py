"""Bare extension instances, bound to the app in create_app."""

from __future__ import annotations

import redis
from flask_babel import Babel
from flask_limiter import Limiter
from flask_login import LoginManager
from flask_migrate import Migrate
from flask_smorest import Api
from flask_sqlalchemy import SQLAlchemy
from flask_wtf.csrf import CSRFProtect
from sqlalchemy.orm import DeclarativeBase

from lixi.errors import http_error_response
from lixi.ratelimit import client_ip
from lixi.schemas import ErrorSchema


class Base(DeclarativeBase):
    pass


# Objects stay usable after commit: services return them for serialising without a reload.
db = SQLAlchemy(model_class=Base, session_options={"expire_on_commit": False})
migrate = Migrate()
babel = Babel()
limiter = Limiter(key_func=client_ip)
# Staff (cashiers, brand admins) log in to pages with a session cookie.
login_manager = LoginManager()
# Pages with forms are protected; the JSON API (bearer keys, no cookies) is exempted per blueprint.
csrf = CSRFProtect()


class LixiApi(Api):
    """flask-smorest's Api with its error body replaced by the shape of API.md."""

    ERROR_SCHEMA = ErrorSchema

    def handle_http_exception(self, error):  # type: ignore[override]
        return http_error_response(error)


api = LixiApi()


class RedisClient:
    """A redis-py client built from REDIS_URL, shared by caches (rate limits have their own pool)."""

    def __init__(self) -> None:
        self.client: redis.Redis | None = None

    def init_app(self, app) -> None:  # type: ignore[no-untyped-def]
        self.client = redis.Redis.from_url(
            app.config["REDIS_URL"], socket_connect_timeout=0.5, socket_timeout=1.0
        )
        app.extensions["lixi_redis"] = self


redis_client = RedisClient()
