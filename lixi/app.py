"""The app factory: reads like a table of contents."""

from __future__ import annotations

from importlib import import_module

from flask import Flask, request
from werkzeug.middleware.proxy_fix import ProxyFix
from werkzeug.routing import IntegerConverter, Map

from lixi import cli, errors, mail
from lixi.api import blp as kernel_api
from lixi.auth import init_staff_sessions
from lixi.blueprints import NoSessionForTheApi
from lixi.config import ROOT, Config
from lixi.extensions import babel, csrf, db, limiter, migrate
from lixi.formatting import register_template_helpers
from lixi.hotlimits import init_hot_limits
from lixi.keycache import init_keycache
from lixi.models import MAX_ID
from lixi.openapi import api, document_api, spec_options
from lixi.outbox import init_outbox
from lixi.parsing import register_request_parsing
from lixi.plugins import add_json_paths, add_sweep, init_plugins
from lixi.redis_client import redis_client
from lixi.security import register_security_headers

# The domains, each plugged in by its register(app), in the order they stand on one another (a
# domain after those it imports). Named, not imported: the kernel imports no domain (as warehouse's
# config.include(".accounts")); tests/test_architecture.py checks the order against the imports.
DOMAINS = ("vouchers", "gifting", "games", "loyalty", "webhooks", "dashboard")


def create_app(config: Config | None = None) -> Flask:
    app = Flask(
        "lixi",
        root_path=str(ROOT),
        template_folder=str(ROOT / "templates"),
        static_folder=str(ROOT / "static"),
        instance_path=str(ROOT / "instance"),
    )
    app.config.from_object(config or Config())
    register_request_parsing(app)
    app.session_interface = NoSessionForTheApi()
    if app.config["TRUSTED_PROXIES"]:
        n = app.config["TRUSTED_PROXIES"]
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=n, x_proto=n, x_host=n)  # type: ignore[method-assign]
    register_extensions(app)
    register_kernel(app)
    register_domains(app)
    errors.register_errorhandlers(app)
    register_template_helpers(app)
    register_security_headers(app)
    return app


def select_locale() -> str:
    """?lang= wins (and is remembered in a cookie), then the cookie, then the browser's languages."""
    languages = ["vi", "en"]
    wanted = request.args.get("lang") or request.cookies.get("lang")
    if wanted in languages:
        return wanted
    return request.accept_languages.best_match(languages) or "vi"


class IdConverter(IntegerConverter):
    """`<int:…>` ids that fit the id columns: a bigger number is a 404, not a database overflow."""

    def __init__(self, map: Map, *args: object, **kwargs: object) -> None:  # noqa: A002 - werkzeug's name
        kwargs.setdefault("max", MAX_ID)
        super().__init__(map, *args, **kwargs)  # type: ignore[arg-type]


def register_extensions(app: Flask) -> None:
    init_plugins(app)
    init_outbox()
    init_keycache()
    app.url_map.converters["int"] = IdConverter
    if app.config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite:///"):
        (ROOT / "instance").mkdir(exist_ok=True)
    db.init_app(app)
    migrate.init_app(app, db, render_as_batch=True, directory=str(ROOT / "migrations"))
    babel.init_app(app, locale_selector=select_locale)
    limiter.init_app(app)
    init_hot_limits(app)
    csrf.init_app(app)
    init_staff_sessions(app)
    redis_client.init_app(app)
    api.init_app(app, spec_kwargs=spec_options())
    document_api(api, app)
    api.register_converter(IdConverter, lambda _: {"type": "integer", "minimum": 0, "maximum": MAX_ID})
    api.spec.components.security_scheme(
        "ApiKey",
        {"type": "http", "scheme": "bearer", "description": "A brand API key: `Bearer lx_…`"},
    )


def register_kernel(app: Flask) -> None:
    """What the kernel serves itself: its API (members, merchants, staff), its commands, the mail sweep."""
    api.register_blueprint(kernel_api)
    add_json_paths(app, "/api/")
    cli.register(app)
    add_sweep(app, mail.sweep_mail, every="MAIL_SWEEP_SECONDS")


def register_domains(app: Flask) -> None:
    for name in DOMAINS:
        import_module(name).register(app)
