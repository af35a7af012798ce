"""Games: campaigns, prizes, earned plays, server-decided draws and their fairness proofs."""

from __future__ import annotations

from flask import Flask

from games import demo, events
from games.api import blp
from games.cli import run_draws_command
from games.views import bp as game_pages
from lixi import openapi
from lixi.plugins import add_demo_seeder, add_topics


def register(app: Flask) -> None:
    """The games API, the members' game pages, run-draws, and what they publish."""
    openapi.api.register_blueprint(blp)
    app.register_blueprint(game_pages)
    app.cli.add_command(run_draws_command)
    add_topics(app, *events.TOPICS)
    add_demo_seeder(app, 40, demo.seed_campaign)
