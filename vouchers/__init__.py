"""Offers, vouchers, codes, QR, and validate / redeem / void."""

from __future__ import annotations

from flask import Flask

from lixi import openapi
from lixi.plugins import add_demo_seeder, add_json_paths, add_login_page, add_topics
from vouchers import demo, events
from vouchers.api import blp
from vouchers.merchant_views import bp as merchant_pages
from vouchers.views import bp as voucher_pages


def register(app: Flask) -> None:
    """The voucher API, the public voucher pages and the merchant's page, and what they publish."""
    openapi.api.register_blueprint(blp)
    app.register_blueprint(voucher_pages)
    app.register_blueprint(merchant_pages)
    add_login_page(app, "/merchant", "merchant.login")
    add_json_paths(app, "/merchant/api/")  # the merchant page's script
    add_topics(app, *events.TOPICS)
    add_demo_seeder(app, 10, demo.seed_offers)
    add_demo_seeder(app, 30, demo.seed_voucher)
    add_demo_seeder(app, 60, demo.add_merchant_page)
