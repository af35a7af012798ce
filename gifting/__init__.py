"""Gifting: vouchers sent to someone with a card and a message, claimed safely, lì xì envelopes,
and bulk gifts from a file."""

from __future__ import annotations

from flask import Flask

from gifting import demo, events, views
from gifting.api import blp
from gifting.bulk import resume_batches
from gifting.expiry import run_gift_sweep
from gifting.member_views import register_member_pages
from lixi import openapi
from lixi.plugins import add_demo_seeder, add_sweep, add_topics


def register(app: Flask) -> None:
    """The gifts API, the claim page, the sweeps that send, remind and expire, and the topics."""
    openapi.api.register_blueprint(blp)
    app.register_blueprint(views.bp)
    register_member_pages(app)  # /me/gifts and the wallet's "Tặng bạn"
    add_topics(app, *events.TOPICS)
    add_sweep(app, run_gift_sweep, "GIFT_SWEEP_SECONDS")
    add_sweep(app, resume_batches, "GIFT_SWEEP_SECONDS")  # a bulk file queued but its job lost
    add_demo_seeder(app, 47, demo.seed_gifts)  # after the member's page, before the dashboard
