"""Loyalty: points earned by member events, tiers, the rewards catalogue, referrals and birthdays."""

from __future__ import annotations

from flask import Flask

from games.earning import add_event_earner
from lixi import openapi
from lixi.plugins import add_demo_seeder, add_member_hook, add_sweep, add_topics
from loyalty import demo, events, joining, mail_views
from loyalty.api import blp
from loyalty.cli import loyalty_check_command, loyalty_daily_command
from loyalty.daily import run_daily
from loyalty.earning import earn_points
from loyalty.views import register_pages


def register(app: Flask) -> None:
    """The loyalty API, the member's pages, loyalty's commands and what it publishes."""
    openapi.api.register_blueprint(blp)
    register_pages(app)  # /me, /m/<card>, /r/<code>, and the till at /merchant/members
    app.register_blueprint(mail_views.bp)  # /u/<token>: the unsubscribe link of member mail
    app.cli.add_command(loyalty_check_command)
    app.cli.add_command(loyalty_daily_command)
    add_topics(app, *events.TOPICS)
    add_event_earner(app, earn_points)
    add_member_hook(app, joining.on_member_upsert)
    add_sweep(app, run_daily, "LOYALTY_SWEEP_SECONDS")
    add_demo_seeder(app, 35, demo.seed_loyalty)
    add_demo_seeder(app, 45, demo.add_member_page)
