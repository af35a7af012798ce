"""Webhooks: brands' endpoints, and delivering outbox events to them (signed, retried, logged)."""

from __future__ import annotations

from flask import Flask

from lixi.plugins import add_outbox_hook, add_sweep
from webhooks import delivery, endpoints, sweep


def register(app: Flask) -> None:
    """Read the outbox: nudged after each commit that published a wanted event, swept for the rest.

    The dashboard serves the webhook pages (dashboard/settings_views.py), so there is no blueprint here.
    """
    add_outbox_hook(app, wants=endpoints.is_subscribed, after_commit=delivery.enqueue_dispatch)
    add_sweep(app, sweep.sweep, every="WEBHOOK_SWEEP_SECONDS")
