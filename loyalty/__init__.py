"""Loyalty: points earned by member events, tiers, the rewards catalogue, referrals and birthdays."""

from __future__ import annotations

from flask import Flask

from loyalty import models  # noqa: F401 - the tables, for the metadata and migrations


def register(app: Flask) -> None:
    """The loyalty API, the member's pages, loyalty's commands and what it publishes."""
