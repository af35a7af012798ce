"""Command-line set-up: `flask brands create`, `flask seed-demo`, housekeeping."""

from __future__ import annotations

import json
import logging
import os
import threading
from pathlib import Path

import click
from flask import Flask, current_app
from flask.cli import AppGroup
from sqlalchemy import or_, select
from werkzeug.exceptions import HTTPException

from lixi.auth import authenticate_api_key, issue_api_key, revoke_api_key
from lixi.brands import create_brand
from lixi.errors import Unauthorized
from lixi.extensions import db
from lixi.idempotency import purge_expired_records
from lixi.members import upsert_member
from lixi.merchants import create_merchant
from lixi.models import ApiKey, Brand, Member, Merchant, StaffUser
from lixi.staff import create_staff
from lixi.timeutil import utcnow

brands_cli = AppGroup("brands", help="Manage brands (tenants).")

DEMO_SLUG = "lixi-demo"
log = logging.getLogger(__name__)
DEMO_STAFF_EMAIL = "staff@demo.lixi.vn"
DEMO_ADMIN_EMAIL = "admin@demo.lixi.vn"
DEMO_STAFF_PASSWORD = "lixi-demo-1234"  # noqa: S105 - the public demo login, printed by seed-demo
DEMO_MEMBERS = (("demo-001", "Nguyễn Văn An"), ("demo-002", "Trần Thị Bình"))
DEMO_OFFER = {
    "name": "Giảm 50.000 ₫",
    "kind": "fixed_amount",
    "value": 50000,
    "min_bill": 200000,
    "valid_days": 30,
    "terms": "Áp dụng cho hóa đơn từ 200.000 ₫. Mỗi mã dùng một lần.",
}
# The wheel's "Lì xì 10k": a prize that counts against the budget must give the member something.
DEMO_LIXI_OFFER = {
    "name": "Lì xì 10.000 ₫",
    "kind": "fixed_amount",
    "value": 10000,
    "valid_days": 30,
    "terms": "Lì xì từ vòng quay Tết. Mỗi mã dùng một lần.",
}
DEMO_CAMPAIGN_NAME = "Vòng quay Tết"
DEMO_PLAYS = 5  # each demo member's plays after every seed-demo (the campaign's daily limit too)
SEEDED_KEY_NAMES = ("default", "demo")  # create_brand's first key, and the ones seed-demo made since


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


def default_key_file() -> Path:
    return Path(current_app.instance_path) / "demo-api-key"


def seed_demo(key_file: Path) -> dict:
    """The demo tenant, made once: later runs keep its data and the API key saved in `key_file`."""
    # Imported here: the kernel does not import domains at module level (STYLE.md).
    from vouchers.service import voucher_token

    brand = db.session.execute(select(Brand).where(Brand.slug == DEMO_SLUG)).scalar()
    if brand is None:
        brand, secret = create_brand("Lixi Demo Café", slug=DEMO_SLUG)
        _save_key(key_file, secret)
    else:
        secret = _kept_key(brand.id, key_file)

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
    members = [upsert_member(brand.id, external_id, {"name": name})[0] for external_id, name in DEMO_MEMBERS]
    offer, lixi_offer = (_demo_offer(brand.id, spec) for spec in (DEMO_OFFER, DEMO_LIXI_OFFER))
    voucher = _demo_voucher(brand.id, offer.id, members[0].external_id)
    campaign = _demo_campaign(brand.id, offer.id, lixi_offer.id)
    for member in members:
        _top_up_plays(brand.id, campaign.id, member)
    base = _base_url()
    return {
        "brand_id": brand.id,
        "brand_slug": brand.slug,
        "api_key": secret,
        "api_key_file": str(key_file),
        "merchant_id": merchant.id,
        "offer_id": offer.id,
        "lixi_offer_id": lixi_offer.id,
        "member_external_ids": [m.external_id for m in members],
        # Staff accounts are per brand: the log-in asks for the brand's code (prefilled by ?brand=).
        "staff_login": {"brand": brand.slug, "email": DEMO_STAFF_EMAIL, "password": DEMO_STAFF_PASSWORD},
        "admin_login": {"brand": brand.slug, "email": DEMO_ADMIN_EMAIL, "password": DEMO_STAFF_PASSWORD},
        "voucher_code": voucher.code,
        "campaign_id": campaign.id,
        "urls": _existing_pages(
            {
                "voucher": f"/v/{voucher_token(voucher.code)}",
                "play": _play_path(brand.id, members[0].external_id, campaign.id),
                "openapi": "/openapi.json",
                "merchant": f"/merchant/login?brand={brand.slug}",
                "dashboard": f"/dashboard/login?brand={brand.slug}",
            },
            base,
        ),
    }


def _save_key(key_file: Path, secret: str) -> None:
    """Write the secret readable by its owner only (0600), replacing any older file in one step."""
    key_file.parent.mkdir(parents=True, exist_ok=True)
    partial = key_file.with_name(key_file.name + ".tmp")
    descriptor = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w") as handle:
        handle.write(secret + "\n")
    os.chmod(partial, 0o600)  # O_CREAT's mode does not apply to a file left by an interrupted run
    os.replace(partial, key_file)


def _kept_key(brand_id: int, key_file: Path) -> str:
    """The saved key if it still opens the demo brand; else a new one (the database keeps only hashes)."""
    try:
        saved = key_file.read_text().strip()
    except OSError:
        saved = ""
    if saved:
        try:
            if authenticate_api_key(f"Bearer {saved}").brand_id == brand_id:
                return saved
        except Unauthorized:
            pass
    # The file is gone or belongs to another database: the keys seed-demo made can no longer be
    # shown, so retire them (audited); keys made in the dashboard keep working.
    seeded = db.session.execute(
        select(ApiKey.id).where(
            ApiKey.brand_id == brand_id, ApiKey.name.in_(SEEDED_KEY_NAMES), ApiKey.revoked_at.is_(None)
        )
    ).scalars()
    for key_id in list(seeded):
        revoke_api_key(brand_id, key_id)
    _, secret = issue_api_key(brand_id, "demo")
    _save_key(key_file, secret)
    return secret


def _demo_offer(brand_id: int, spec: dict):  # type: ignore[no-untyped-def]
    """The demo's offer of this name, made on the first run."""
    from vouchers.models import Offer
    from vouchers.offers import create_offer

    offer = db.session.execute(
        select(Offer)
        .where(Offer.brand_id == brand_id, Offer.name == spec["name"], Offer.archived_at.is_(None))
        .order_by(Offer.id)
    ).scalar()
    return offer or create_offer(brand_id, spec)


def _demo_voucher(brand_id: int, offer_id: int, member_external_id: str):  # type: ignore[no-untyped-def]
    """The demo voucher still waiting to be redeemed, or a new one once it was used, voided or expired."""
    from vouchers.models import Voucher, VoucherStatus
    from vouchers.service import issue_vouchers

    now = utcnow()
    voucher = db.session.execute(
        select(Voucher)
        .where(
            Voucher.brand_id == brand_id,
            Voucher.offer_id == offer_id,
            Voucher.source == "demo",
            Voucher.status == VoucherStatus.ISSUED,
            or_(Voucher.expires_at.is_(None), Voucher.expires_at > now),
        )
        .order_by(Voucher.id.desc())
    ).scalar()
    return voucher or issue_vouchers(brand_id, offer_id, 1, member_external_id, source="demo")[0]


def _demo_campaign(brand_id: int, offer_id: int, lixi_offer_id: int):  # type: ignore[no-untyped-def]
    """The demo's spin wheel (made and activated once); every prize with a value is a real voucher."""
    from games.campaigns import change_status, create_campaign
    from games.models import Campaign, CampaignStatus

    kept = None
    for campaign in db.session.execute(
        select(Campaign)
        .where(
            Campaign.brand_id == brand_id,
            Campaign.name == DEMO_CAMPAIGN_NAME,
            Campaign.status != CampaignStatus.ENDED,
        )
        .order_by(Campaign.id)
    ).scalars():
        if any(prize.value and prize.offer_id is None for prize in campaign.prizes):
            # An older demo's "Lì xì 10k" paid nothing yet spent the budget: end it, make the new one.
            change_status(brand_id, campaign.id, "end")
        else:
            kept = campaign
    if kept is not None:
        return kept
    campaign = create_campaign(
        brand_id,
        {
            "name": DEMO_CAMPAIGN_NAME,
            "game": "spin_wheel",
            "budget": 5_000_000,
            "plays_per_member_per_day": DEMO_PLAYS,
            "prizes": [
                {"label": "Giảm 50k", "weight": 10, "stock": 50, "offer_id": offer_id, "value": 50000},
                {"label": "Lì xì 10k", "weight": 30, "stock": 200, "offer_id": lixi_offer_id, "value": 10000},
                {"label": "Chúc may mắn", "weight": 60},  # better luck next time: no offer, no value
            ],
            "earning_rules": [
                {"event": "purchase", "plays": 1, "min_amount": 200000, "max_amount": 499999},
                {"event": "purchase", "plays": 2, "min_amount": 500000, "max_amount": 999999},
                {"event": "purchase", "plays": 3, "min_amount": 1000000},
            ],
        },
    )
    return change_status(brand_id, campaign.id, "activate")


def _top_up_plays(brand_id: int, campaign_id: int, member: Member) -> None:
    """Each run leaves every demo member DEMO_PLAYS plays (granted, so audited), never more."""
    from games.earning import grant_plays
    from games.plays import plays_left

    missing = DEMO_PLAYS - plays_left(campaign_id, member.id)
    if missing > 0:
        grant_plays(brand_id, member.external_id, campaign_id, missing)


def _play_path(brand_id: int, member_external_id: str, campaign_id: int) -> str:
    from flask import url_for

    from games.links import member_link_token

    token = member_link_token(brand_id, member_external_id, campaign_id)
    with current_app.test_request_context():
        return url_for("games_pages.play_page", campaign_id=campaign_id, t=token)


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
    @click.option(
        "--key-file",
        type=click.Path(dir_okay=False, path_type=Path),
        envvar="DEMO_API_KEY_FILE",
        help="Where the demo's API key is kept between runs [default: instance/demo-api-key].",
    )
    def seed_demo_command(as_json: bool, key_file: Path | None) -> None:
        """Make the demo brand, stores, staff, members, offers, a voucher and a spin wheel, once;
        later runs keep them, print the same API key and top the members' plays up."""
        _emit(seed_demo(key_file or default_key_file()), as_json)

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
            # Let a sweep in progress finish before the interpreter (and Redis, under make run) goes.
            sweeper.join(timeout=30)

    @app.cli.command("purge-idempotency")
    def purge_idempotency_command() -> None:
        """Forget Idempotency-Keys older than IDEMPOTENCY_TTL_HOURS."""
        click.echo(f"purged {purge_expired_records()} records")
