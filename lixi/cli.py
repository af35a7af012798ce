"""Command-line set-up: `flask brands create`, `flask seed-demo`, the worker, housekeeping.

A domain adds its own commands in its register(app) (games: run-draws) and its part of seed-demo
through lixi.plugins.
"""

from __future__ import annotations

import json
import logging
import threading
from pathlib import Path

import click
from flask import Flask, current_app
from flask.cli import AppGroup, with_appcontext

from lixi import demo
from lixi.brands import create_brand
from lixi.extensions import db
from lixi.idempotency import purge_expired_records
from lixi.jobs import work
from lixi.plugins import Sweep, plugged

brands_cli = AppGroup("brands", help="Manage brands (tenants).")

log = logging.getLogger(__name__)


def emit(data: dict, as_json: bool) -> None:
    """Print a command's result: JSON with --json, else one `key: value` line each."""
    if as_json:
        click.echo(json.dumps(data, ensure_ascii=False))
        return
    for key, value in data.items():
        if isinstance(value, dict):
            for inner, inner_value in value.items():
                click.echo(f"{key}.{inner}: {inner_value}")
        else:
            click.echo(f"{key}: {value}")


@brands_cli.command("create")
@click.argument("name")
@click.option("--currency", default="VND", show_default=True)
@click.option("--locale", default="vi", type=click.Choice(["vi", "en"]), show_default=True)
@click.option("--timezone", default="Asia/Ho_Chi_Minh", show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def brands_create(name: str, currency: str, locale: str, timezone: str, as_json: bool) -> None:
    """Create a brand and print its API key (shown once)."""
    brand, secret = create_brand(name, currency, locale, timezone)
    emit({"id": brand.id, "slug": brand.slug, "api_key": secret}, as_json)


@click.command("seed-demo")
@with_appcontext
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.option(
    "--key-file",
    type=click.Path(dir_okay=False, path_type=Path),
    envvar="DEMO_API_KEY_FILE",
    help="Where the demo's API key is kept between runs [default: instance/demo-api-key].",
)
def seed_demo_command(as_json: bool, key_file: Path | None) -> None:
    """Make the demo brand, stores, staff, members, offers, a voucher and a spin wheel, once;
    later runs keep them, print the same API key and top the members' plays up."""
    emit(demo.seed_demo(key_file or demo.default_key_file()), as_json)


@click.command("worker")
@with_appcontext
@click.option("--burst", is_flag=True, help="Stop when the queue is empty.")
@click.option("--in-process", is_flag=True, help="Run jobs in this process (no fork per job).")
def worker_command(burst: bool, in_process: bool) -> None:
    """Run background jobs (bulk issues, webhook deliveries) and the domains' sweeps (the outbox's
    lost nudges)."""
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    stop = threading.Event()
    sweepers = [
        threading.Thread(target=_sweep_forever, args=(app, sweep, stop), daemon=True)
        for sweep in plugged(app).sweeps
    ]
    for sweeper in sweepers:
        sweeper.start()
    try:
        work(app, burst=burst, in_process=in_process)
    finally:
        stop.set()
        # Let a sweep in progress finish before the interpreter (and Redis, under make run) goes.
        for sweeper in sweepers:
            sweeper.join(timeout=30)


def _sweep_forever(app: Flask, sweep: Sweep, stop: threading.Event) -> None:
    # Catches what a Redis outage or a killed worker left behind (see lixi.outbox).
    while not stop.wait(app.config[sweep.every]):
        with app.app_context():
            try:
                sweep.run()
            except Exception:  # noqa: BLE001 - keep sweeping; the next round retries
                log.exception("sweep %s failed", getattr(sweep.run, "__qualname__", sweep.run))
            finally:
                db.session.remove()


@click.command("purge-idempotency")
@with_appcontext
def purge_idempotency_command() -> None:
    """Forget Idempotency-Keys older than IDEMPOTENCY_TTL_HOURS."""
    click.echo(f"purged {purge_expired_records()} records")


def register(app: Flask) -> None:
    for command in (brands_cli, seed_demo_command, worker_command, purge_idempotency_command):
        app.cli.add_command(command)
    demo.register(app)
