"""Webhooks: brands' endpoints, and delivering outbox events to them (signed, retried, logged)."""

from __future__ import annotations

from flask import Flask

from lixi.plugins import add_outbox_hook, add_sweep
from webhooks.delivery import enqueue_dispatch
from webhooks.endpoints import is_subscribed
from webhooks.sweep import sweep


def register(app: Flask) -> None:
    """Read the outbox: nudged after each commit that published a wanted event, swept for the rest."""
    add_outbox_hook(app, wants=is_subscribed, after_commit=enqueue_dispatch)
    add_sweep(app, sweep, every="WEBHOOK_SWEEP_SECONDS")
