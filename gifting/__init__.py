"""Gifting: vouchers sent to someone with a card and a message, claimed safely, lì xì envelopes,
and bulk gifts from a file."""

from __future__ import annotations

from flask import Flask

from gifting import models  # noqa: F401 - the tables, for migrations


def register(app: Flask) -> None:
    """The gifts API, the claim page, the sweeps that send, remind and expire, and the topics."""
