"""Tenants: creating a brand with its first API key."""

from __future__ import annotations

import re
import secrets
import unicodedata

from sqlalchemy import select

from lixi.audit import record_audit
from lixi.auth import create_api_key
from lixi.database import write_transaction
from lixi.errors import InvalidRequest
from lixi.extensions import db
from lixi.models import Brand


def slugify(name: str) -> str:
    ascii_name = unicodedata.normalize("NFKD", name.replace("đ", "d").replace("Đ", "D"))
    ascii_name = ascii_name.encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]+", "-", ascii_name.lower()).strip("-")[:60] or "brand"


def create_brand(
    name: str,
    currency: str = "VND",
    locale: str = "vi",
    timezone: str = "Asia/Ho_Chi_Minh",
    slug: str | None = None,
) -> tuple[Brand, str]:
    """Create a brand and its first API key; returns the brand and the key's secret (shown once)."""
    if not name.strip():
        raise InvalidRequest("A brand needs a name.", {"fields": {"name": ["Required."]}})
    with write_transaction() as session:
        base = slug or slugify(name)
        candidate = base
        while session.execute(select(Brand.id).where(Brand.slug == candidate)).first():
            candidate = f"{base}-{secrets.token_hex(2)}"
        brand = Brand(
            name=name.strip(), slug=candidate, currency=currency.upper(), locale=locale, timezone=timezone
        )
        db.session.add(brand)
        db.session.flush()
        record_audit(brand.id, "brand.created", "brand", brand.id, {"name": brand.name})
        _, secret = create_api_key(brand.id)
    return brand, secret
