"""seed-demo: the demo tenant, made once; each domain seeds its part (lixi.plugins.add_demo_seeder).

The parts run in their order, each adding what it made to what seed-demo prints (in that order):
the kernel's tenant (0: brand, API key, store), then offers (10), the kernel's people (20: staff,
members), a voucher (30), the loyalty programme (35), a game (40), the member's page (45), and
the pages to visit (50 and up).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from flask import Flask, current_app
from sqlalchemy import select
from werkzeug.exceptions import HTTPException

from lixi.auth import authenticate_api_key, issue_api_key, revoke_api_key
from lixi.brands import create_brand
from lixi.errors import Unauthorized
from lixi.extensions import db
from lixi.members import upsert_member
from lixi.merchants import create_merchant
from lixi.models import ApiKey, Brand, Member, Merchant, StaffUser
from lixi.plugins import add_demo_seeder, plugged
from lixi.staff import create_staff

DEMO_SLUG = "lixi-demo"
DEMO_STAFF_EMAIL = "staff@demo.lixi.vn"
DEMO_ADMIN_EMAIL = "admin@demo.lixi.vn"
DEMO_STAFF_PASSWORD = "lixi-demo-1234"  # noqa: S105 - the public demo login, printed by seed-demo
DEMO_MEMBERS = (("demo-001", "Nguyễn Văn An"), ("demo-002", "Trần Thị Bình"))
SEEDED_KEY_NAMES = ("default", "demo")  # create_brand's first key, and the ones seed-demo made since


@dataclass
class Demo:
    """What seed-demo has made so far, handed to each part in turn."""

    key_file: Path
    facts: dict[str, Any] = field(default_factory=dict)  # what seed-demo prints, in order
    pages: dict[str, str] = field(default_factory=dict)  # name -> path of a page worth visiting
    brand: Brand | None = None
    merchant: Merchant | None = None
    members: list[Member] = field(default_factory=list)

    def add_page(self, name: str, path: str) -> None:
        self.pages[name] = path


def default_key_file() -> Path:
    return Path(current_app.instance_path) / "demo-api-key"


def seed_demo(key_file: Path) -> dict:
    """The demo tenant, made once: later runs keep its data and the API key saved in `key_file`."""
    demo = Demo(key_file)
    for _order, seeder in sorted(plugged().demo_seeders, key=lambda part: part[0]):
        seeder(demo)
    base = current_app.config["PUBLIC_BASE_URL"] or "http://127.0.0.1:5000"
    return {**demo.facts, "urls": _existing_pages(demo.pages, base)}


def register(app: Flask) -> None:
    add_demo_seeder(app, 0, seed_tenant)
    add_demo_seeder(app, 20, seed_people)
    add_demo_seeder(app, 50, lambda demo: demo.add_page("openapi", "/openapi.json"))


def seed_tenant(demo: Demo) -> None:
    """The demo brand with its API key (kept in the key file) and its store."""
    brand = db.session.execute(select(Brand).where(Brand.slug == DEMO_SLUG)).scalar()
    if brand is None:
        brand, secret = create_brand("Lixi Demo Café", slug=DEMO_SLUG)
        _save_key(demo.key_file, secret)
    else:
        secret = _kept_key(brand.id, demo.key_file)
    merchant = db.session.execute(select(Merchant).where(Merchant.brand_id == brand.id)).scalar()
    if merchant is None:
        merchant = create_merchant(brand.id, "Lixi Café Nguyễn Huệ", "42 Nguyễn Huệ, Quận 1, TP.HCM")
    demo.brand, demo.merchant = brand, merchant
    demo.facts.update(
        brand_id=brand.id,
        brand_slug=brand.slug,
        api_key=secret,
        api_key_file=str(demo.key_file),
        merchant_id=merchant.id,
    )


def seed_people(demo: Demo) -> None:
    """A cashier of the store, a brand admin, and two members."""
    assert demo.brand is not None and demo.merchant is not None
    brand_id = demo.brand.id
    known = set(db.session.execute(select(StaffUser.email).where(StaffUser.brand_id == brand_id)).scalars())
    if DEMO_STAFF_EMAIL not in known:
        create_staff(
            brand_id, DEMO_STAFF_EMAIL, DEMO_STAFF_PASSWORD, name="Thu Ngân", merchant_ids=[demo.merchant.id]
        )
    if DEMO_ADMIN_EMAIL not in known:
        create_staff(brand_id, DEMO_ADMIN_EMAIL, DEMO_STAFF_PASSWORD, role="brand_admin", name="Quản lý")
    demo.members = [
        upsert_member(brand_id, external_id, {"name": name})[0] for external_id, name in DEMO_MEMBERS
    ]
    slug = demo.brand.slug
    demo.facts.update(
        member_external_ids=[member.external_id for member in demo.members],
        # Staff accounts are per brand: the log-in asks for the brand's code (prefilled by ?brand=).
        staff_login={"brand": slug, "email": DEMO_STAFF_EMAIL, "password": DEMO_STAFF_PASSWORD},
        admin_login={"brand": slug, "email": DEMO_ADMIN_EMAIL, "password": DEMO_STAFF_PASSWORD},
    )


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


def _existing_pages(paths: dict[str, str], base: str) -> dict[str, str]:
    """Only the pages this build serves."""
    adapter = current_app.url_map.bind("localhost")
    found = {}
    for name, path in paths.items():
        try:
            adapter.match(path.split("?", 1)[0], method="GET")
        except HTTPException:
            continue
        found[name] = base + path
    return found
