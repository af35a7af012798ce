"""The games' commands: `flask run-draws` (from cron)."""

from __future__ import annotations

import click
from flask.cli import with_appcontext

from games.draws import due_draws, run_draw
from lixi.cli import emit


@click.command("run-draws")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@with_appcontext
def run_draws_command(as_json: bool) -> None:
    """Draw every scheduled lucky draw that is due (run from cron; each is drawn once)."""
    drawn = {str(campaign_id): len(run_draw(campaign_id)) for campaign_id in due_draws()}
    emit(
        {"drawn": drawn} if as_json else {f"campaign {k}": f"{v} winners" for k, v in drawn.items()},
        as_json,
    )
