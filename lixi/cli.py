"""Command-line set-up: `flask brands create`, `flask seed-demo`, housekeeping."""

from __future__ import annotations

import json
import logging
import threading

import click
from flask import Flask, current_app
from flask.cli import AppGroup
from sqlalchemy import select, update
from werkzeug.exceptions import HTTPException

from lixi.auth import create_api_key
from lixi.brands import create_brand
from lixi.database import write_transaction
from lixi.extensions import db
from lixi.idempotency import purge_expired_records
from lixi.members import upsert_member
from lixi.merchants import create_merchant
from lixi.models import ApiKey, Brand, Merchant, StaffUser
from lixi.staff import create_staff
from lixi.timeutil import utcnow

brands_cli = AppGroup("brands", help="Manage brands (tenants).")

DEMO_SLUG = "lixi-demo"
log = logging.getLogger(__name__)
DEMO_STAFF_EMAIL = "staff@demo.lixi.vn"
DEMO_ADMIN_EMAIL = "admin@demo.lixi.vn"
DEMO_STAFF_PASSWORD = "lixi-demo-1234"  # noqa: S105 - the public demo login, printed by seed-demo


def _emit(data: dict, as_json: bool) -> None:
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
    _emit({"id": brand.id, "slug": brand.slug, "api_key": secret}, as_json)


def _base_url() -> str:
    return current_app.config["PUBLIC_BASE_URL"] or "http://127.0.0.1:5000"


def seed_demo() -> dict:
    """The demo tenant; re-running keeps the data and issues a fresh API key (older demo keys revoked)."""
    # Imported here: the kernel does not import domains at module level (STYLE.md).
    from vouchers.models import Offer
    from vouchers.offers import create_offer
    from vouchers.service import issue_vouchers, voucher_token

    brand = db.session.execute(select(Brand).where(Brand.slug == DEMO_SLUG)).scalar()
    if brand is None:
        brand, secret = create_brand("Lixi Demo Café", slug=DEMO_SLUG)
    else:
        with write_transaction():
            db.session.execute(
                update(ApiKey)
                .where(ApiKey.brand_id == brand.id, ApiKey.revoked_at.is_(None))
                .values(revoked_at=utcnow())
            )
            _, secret = create_api_key(brand.id, "demo")

    merchant = db.session.execute(select(Merchant).where(Merchant.brand_id == brand.id)).scalar()
    if merchant is None:
        merchant = create_merchant(brand.id, "Lixi Café Nguyễn Huệ", "42 Nguyễn Huệ, Quận 1, TP.HCM")
    known = set(db.session.execute(select(StaffUser.email).where(StaffUser.brand_id == brand.id)).scalars())
    if DEMO_STAFF_EMAIL not in known:
        create_staff(
            brand.id, DEMO_STAFF_EMAIL, DEMO_STAFF_PASSWORD, name="Thu Ngân", merchant_ids=[merchant.id]
        )
    if DEMO_ADMIN_EMAIL not in known:
        create_staff(brand.id, DEMO_ADMIN_EMAIL, DEMO_STAFF_PASSWORD, role="brand_admin", name="Quản lý")
    members = [
        upsert_member(brand.id, external_id, {"name": name})[0]
        for external_id, name in (("demo-001", "Nguyễn Văn An"), ("demo-002", "Trần Thị Bình"))
    ]
    offer = db.session.execute(select(Offer).where(Offer.brand_id == brand.id)).scalar()
    if offer is None:
        offer = create_offer(
            brand.id,
            {
                "name": "Giảm 50.000 ₫",
                "kind": "fixed_amount",
                "value": 50000,
                "min_bill": 200000,
                "valid_days": 30,
                "terms": "Áp dụng cho hóa đơn từ 200.000 ₫. Mỗi mã dùng một lần.",
            },
        )
    voucher = issue_vouchers(brand.id, offer.id, 1, members[0].external_id, source="demo")[0]
    campaign, play_url = _demo_campaign(brand.id, offer.id, members[0].external_id)
    base = _base_url()
    return {
        "brand_id": brand.id,
        "brand_slug": brand.slug,
        "api_key": secret,
        "merchant_id": merchant.id,
        "offer_id": offer.id,
        "member_external_ids": [m.external_id for m in members],
        "staff_login": {"email": DEMO_STAFF_EMAIL, "password": DEMO_STAFF_PASSWORD},
        "admin_login": {"email": DEMO_ADMIN_EMAIL, "password": DEMO_STAFF_PASSWORD},
        "voucher_code": voucher.code,
        "campaign_id": campaign.id,
        "urls": _existing_pages(
            {
                "voucher": f"/v/{voucher_token(voucher.code)}",
                "play": play_url,
                "openapi": "/openapi.json",
                "merchant": "/merchant",
                "dashboard": "/dashboard",
            },
            base,
        ),
    }


def _demo_campaign(brand_id: int, offer_id: int, member_external_id: str):  # type: ignore[no-untyped-def]
    """An active spin wheel with three prizes, and plays for the first demo member."""
    from flask import url_for

    from games.campaigns import change_status, create_campaign
    from games.links import member_link_token
    from games.models import Campaign
    from games.plays import grant_plays

    campaign = db.session.execute(select(Campaign).where(Campaign.brand_id == brand_id)).scalar()
    if campaign is None:
        campaign = create_campaign(
            brand_id,
            {
                "name": "Vòng quay Tết",
                "game": "spin_wheel",
                "budget": 5_000_000,
                "plays_per_member_per_day": 5,
                "prizes": [
                    {"label": "Giảm 50k", "weight": 10, "stock": 50, "offer_id": offer_id, "value": 50000},
                    {"label": "Lì xì 10k", "weight": 30, "stock": 200, "value": 10000},
                    {"label": "Chúc may mắn", "weight": 60},
                ],
                "earning_rules": [
                    {"event": "purchase", "plays": 1, "min_amount": 200000, "max_amount": 499999},
                    {"event": "purchase", "plays": 2, "min_amount": 500000, "max_amount": 999999},
                    {"event": "purchase", "plays": 3, "min_amount": 1000000},
                ],
            },
        )
        campaign = change_status(brand_id, campaign.id, "activate")
    grant_plays(brand_id, member_external_id, campaign.id, 3)
    token = member_link_token(brand_id, member_external_id, campaign.id)
    with current_app.test_request_context():
        path = url_for("games_pages.play_page", campaign_id=campaign.id, t=token)
    return campaign, path


def _existing_pages(paths: dict[str, str], base: str) -> dict[str, str]:
    """Only the pages this build serves (the merchant app and dashboard come in later releases)."""
    adapter = current_app.url_map.bind("localhost")
    found = {}
    for name, path in paths.items():
        try:
            adapter.match(path.split("?", 1)[0], method="GET")
        except HTTPException:
            continue
        found[name] = base + path
    return found


def register(app: Flask) -> None:
    app.cli.add_command(brands_cli)

    @app.cli.command("seed-demo")
    @click.option("--json", "as_json", is_flag=True, help="Print JSON.")
    def seed_demo_command(as_json: bool) -> None:
        """Create (or refresh) the demo brand, merchant, staff, members, offer and a voucher."""
        _emit(seed_demo(), as_json)

    @app.cli.command("run-draws")
    @click.option("--json", "as_json", is_flag=True, help="Print JSON.")
    def run_draws_command(as_json: bool) -> None:
        """Draw every scheduled lucky draw that is due (run from cron; each is drawn once)."""
        from games.draws import due_draws, run_draw

        drawn = {str(campaign_id): len(run_draw(campaign_id)) for campaign_id in due_draws()}
        _emit(
            {"drawn": drawn} if as_json else {f"campaign {k}": f"{v} winners" for k, v in drawn.items()},
            as_json,
        )

    @app.cli.command("worker")
    @click.option("--burst", is_flag=True, help="Stop when the queue is empty.")
    @click.option("--in-process", is_flag=True, help="Run jobs in this process (no fork per job).")
    def worker_command(burst: bool, in_process: bool) -> None:
        """Run background jobs (bulk issues, webhook deliveries) and sweep the outbox for lost ones."""
        from lixi.jobs import work
        from lixi.webhooks import sweep

        interval = current_app.config["WEBHOOK_SWEEP_SECONDS"]
        stop = threading.Event()

        def sweep_forever(flask_app: Flask) -> None:
            # Catches what a Redis outage or a killed worker left behind (see lixi.outbox).
            while not stop.wait(interval):
                with flask_app.app_context():
                    try:
                        sweep()
                    except Exception:  # noqa: BLE001 - keep sweeping; the next round retries
                        log.exception("outbox sweep failed")
                    finally:
                        db.session.remove()

        sweeper = threading.Thread(
            target=sweep_forever, args=(current_app._get_current_object(),), daemon=True
        )  # type: ignore[attr-defined]
        sweeper.start()
        try:
            work(current_app._get_current_object(), burst=burst, in_process=in_process)  # type: ignore[attr-defined]
        finally:
            stop.set()

    @app.cli.command("purge-idempotency")
    def purge_idempotency_command() -> None:
        """Forget Idempotency-Keys older than IDEMPOTENCY_TTL_HOURS."""
        click.echo(f"purged {purge_expired_records()} records")
