"""Merchants (stores) of a brand."""

from __future__ import annotations

from sqlalchemy import select

from lixi.audit import record_audit, stamp_once
from lixi.database import write_transaction
from lixi.errors import NotFound
from lixi.extensions import db
from lixi.models import Merchant, scoped


def create_merchant(brand_id: int, name: str, address: str | None = None) -> Merchant:
    with write_transaction():
        merchant = Merchant(brand_id=brand_id, name=name.strip(), address=address)
        db.session.add(merchant)
        db.session.flush()
        record_audit(brand_id, "merchant.created", "merchant", merchant.id, {"name": merchant.name})
    return merchant


def get_merchant(brand_id: int, merchant_id: int) -> Merchant:
    merchant = db.session.execute(scoped(Merchant, brand_id).where(Merchant.id == merchant_id)).scalar()
    if merchant is None:
        raise NotFound("No such merchant.")
    return merchant


def list_merchants(brand_id: int) -> list[Merchant]:
    query = scoped(Merchant, brand_id).where(Merchant.archived_at.is_(None)).order_by(Merchant.id)
    return list(db.session.execute(query).scalars())


def merchant_ids_of_brand(brand_id: int, merchant_ids: list[int]) -> list[int]:
    found = db.session.execute(
        select(Merchant.id).where(Merchant.brand_id == brand_id, Merchant.id.in_(merchant_ids))
    ).scalars()
    return list(found)


def update_merchant(brand_id: int, merchant_id: int, name: str, address: str | None) -> Merchant:
    merchant = get_merchant(brand_id, merchant_id)
    with write_transaction() as session:
        merchant.name, merchant.address = name.strip(), address
        session.add(merchant)
        record_audit(brand_id, "merchant.updated", "merchant", merchant.id, {"name": merchant.name})
    return merchant


def archive_merchant(brand_id: int, merchant_id: int) -> Merchant:
    """The store closes: its staff can no longer act there; its history stays."""
    merchant = get_merchant(brand_id, merchant_id)
    stamp_once(merchant, "archived_at", "merchant.archived", "merchant", {"name": merchant.name})
    return merchant
