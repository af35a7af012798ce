"""The app factory: reads like a table of contents."""

from __future__ import annotations

from flask import Flask, request
from werkzeug.middleware.proxy_fix import ProxyFix
from werkzeug.routing import IntegerConverter, Map

from lixi import errors
from lixi.auth import init_staff_sessions
from lixi.config import ROOT, Config
from lixi.extensions import api, babel, csrf, db, limiter, migrate, redis_client
from lixi.formatting import register_template_helpers
from lixi.models import MAX_ID
from lixi.openapi import document_api, spec_options
from lixi.parsing import register_request_parsing
from lixi.security import register_security_headers


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
    if app.config["TRUSTED_PROXIES"]:
        n = app.config["TRUSTED_PROXIES"]
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=n, x_proto=n, x_host=n)  # type: ignore[method-assign]
    register_extensions(app)
    register_blueprints(app)
    errors.register_errorhandlers(app)
    register_template_helpers(app)
    register_security_headers(app)
    register_commands(app)
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
    app.url_map.converters["int"] = IdConverter
    if app.config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite:///"):
        (ROOT / "instance").mkdir(exist_ok=True)
    db.init_app(app)
    migrate.init_app(app, db, render_as_batch=True, directory=str(ROOT / "migrations"))
    babel.init_app(app, locale_selector=select_locale)
    limiter.init_app(app)
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


def register_blueprints(app: Flask) -> None:
    from dashboard.campaign_views import bp as dashboard_campaigns
    from dashboard.catalog_views import bp as dashboard_catalog
    from dashboard.settings_views import bp as dashboard_settings
    from dashboard.views import auth_bp as dashboard_auth
    from dashboard.views import bp as dashboard_home
    from games.api import blp as games_api
    from games.views import bp as games_pages
    from lixi.api import blp as kernel_api
    from vouchers.api import blp as vouchers_api
    from vouchers.merchant_views import bp as merchant_pages
    from vouchers.views import bp as vouchers_pages

    api.register_blueprint(kernel_api)
    api.register_blueprint(vouchers_api)
    api.register_blueprint(games_api)
    app.register_blueprint(vouchers_pages)
    app.register_blueprint(games_pages)
    app.register_blueprint(merchant_pages)
    for dashboard in (
        dashboard_auth,
        dashboard_home,
        dashboard_catalog,
        dashboard_campaigns,
        dashboard_settings,
    ):
        app.register_blueprint(dashboard)


def register_commands(app: Flask) -> None:
    from lixi import cli

    cli.register(app)
