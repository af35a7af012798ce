"""Bare extension instances, bound to the app in create_app."""

from __future__ import annotations

from flask_babel import Babel
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_login import LoginManager
from flask_migrate import Migrate
from flask_sqlalchemy import SQLAlchemy
from flask_wtf.csrf import CSRFProtect
from sqlalchemy.orm import DeclarativeBase


class Base(DeclarativeBase):
    pass


# Objects stay usable after commit: services return them for serialising without a reload.
db = SQLAlchemy(model_class=Base, session_options={"expire_on_commit": False})
migrate = Migrate()
babel = Babel()
# Every limit names whom it counts (lixi.ratelimit): this default key is never used.
limiter = Limiter(key_func=get_remote_address)
# Staff (cashiers, brand admins) log in to pages with a session cookie.
login_manager = LoginManager()
# Pages with forms are protected; the JSON API (bearer keys, no cookies) is exempted per blueprint.
csrf = CSRFProtect()
