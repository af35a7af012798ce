"""The brand dashboard: admin pages over the domains' services, and its CSV exports."""

from __future__ import annotations

from flask import Flask

from dashboard.campaign_views import bp as campaign_pages
from dashboard.catalog_views import bp as catalog_pages
from dashboard.gift_bulk_views import bp as gift_batch_pages
from dashboard.gift_views import bp as gift_pages
from dashboard.loyalty_views import bp as loyalty_pages
from dashboard.mail_views import bp as mail_pages
from dashboard.settings_views import bp as settings_pages
from dashboard.views import auth_bp as log_in_pages
from dashboard.views import bp as home_pages
from lixi.demo import Demo
from lixi.plugins import add_demo_seeder, add_login_page


def register(app: Flask) -> None:
    """The dashboard's pages and where its staff log in."""
    pages = (
        log_in_pages,
        home_pages,
        catalog_pages,
        campaign_pages,
        settings_pages,
        mail_pages,
        loyalty_pages,
        gift_pages,
        gift_batch_pages,
    )
    for blueprint in pages:
        app.register_blueprint(blueprint)
    add_login_page(app, "/dashboard", "dashboard_auth.login")
    add_demo_seeder(app, 70, add_dashboard_page)


def add_dashboard_page(demo: Demo) -> None:
    assert demo.brand is not None
    demo.add_page("dashboard", f"/dashboard/login?brand={demo.brand.slug}")
