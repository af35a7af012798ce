"""Loyalty's commands: the ledger check and the daily job."""

from __future__ import annotations

import json
import sys

import click
from flask.cli import with_appcontext

from loyalty.check import check_ledgers
from loyalty.daily import run_daily


@click.command("loyalty-check")
@click.option("--json", "as_json", is_flag=True, help="Print the mismatches as JSON.")
@with_appcontext
def loyalty_check_command(as_json: bool) -> None:
    """Check that every member's balance equals their ledger; exit 1 on any mismatch."""
    problems = check_ledgers()
    if as_json:
        click.echo(json.dumps({"ok": not problems, "problems": problems}))
    elif problems:
        for problem in problems:
            click.echo(f"member {problem['member_id']}: {problem['problem']}", err=True)
    else:
        click.echo("every balance equals its ledger")
    if problems:
        sys.exit(1)


@click.command("loyalty-daily")
@with_appcontext
def loyalty_daily_command() -> None:
    """Release pending points, expire, send expiring-soon notices, review tiers, grant birthdays,
    send last month's statements."""
    report = run_daily()
    click.echo(
        f"settled {report.settled}, expiring notices {report.expiring_notices}, "
        f"tiers reviewed {report.tiers_reviewed}, birthdays {report.birthdays}, "
        f"statements {report.statements}"
    )
