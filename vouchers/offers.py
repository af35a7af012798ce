"""Offers: what a voucher is worth, where, and until when."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import select

from lixi.audit import record_audit, stamp_once
from lixi.database import write_transaction
from lixi.errors import NotFound
from lixi.extensions import db
from lixi.merchants import merchant_ids_of_brand
from lixi.models import Brand, Merchant, scoped
from lixi.timeutil import end_of_local_day, utcnow
from vouchers import events
from vouchers.errors import invalid_field
from vouchers.models import Offer, OfferKind


def offer_expiry_instant(valid_until: date | datetime, tz_name: str) -> datetime:
    """A date means 'through that day' in the brand's zone; a datetime is taken as given."""
    if isinstance(valid_until, datetime):
        return valid_until
    return end_of_local_day(valid_until, tz_name)


def create_offer(brand_id: int, data: dict) -> Offer:
    kind = data["kind"]
    value = data["value"]
    if kind == OfferKind.PERCENT and not 1 <= value <= 100:
        raise invalid_field("value", "A percent offer's value is a whole percent from 1 to 100.")
    if kind in (OfferKind.FIXED_AMOUNT, OfferKind.GIFT_CARD) and value < 1:
        raise invalid_field("value", "The value must be at least 1.")
    if data.get("valid_days") is not None and data.get("valid_until") is not None:
        raise invalid_field("valid_until", "Give valid_days or valid_until, not both.")
    if data.get("max_discount") is not None and kind != OfferKind.PERCENT:
        raise invalid_field("max_discount", "max_discount applies to percent offers only.")
    brand = db.session.get(Brand, brand_id)
    assert brand is not None
    valid_until = data.get("valid_until")
    if valid_until is not None:
        valid_until = offer_expiry_instant(valid_until, brand.timezone)
        if valid_until <= utcnow():
            raise invalid_field("valid_until", "valid_until is already in the past.")
    wanted_merchants = sorted(set(data.get("merchant_ids") or []))
    known = merchant_ids_of_brand(brand_id, wanted_merchants) if wanted_merchants else []
    if len(known) != len(wanted_merchants):
        unknown = sorted(set(wanted_merchants) - set(known))
        raise invalid_field("merchant_ids", f"Unknown merchants: {unknown}.")

    with write_transaction() as session:
        offer = Offer(
            brand_id=brand_id,
            name=data["name"],
            kind=kind,
            value=value,
            max_discount=data.get("max_discount"),
            min_bill=data.get("min_bill"),
            valid_days=data.get("valid_days"),
            valid_until=valid_until,
            terms=data.get("terms"),
        )
        if known:
            offer.merchants = list(session.execute(select(Merchant).where(Merchant.id.in_(known))).scalars())
        session.add(offer)
        session.flush()
        record_audit(brand_id, events.OFFER_CREATED, "offer", offer.id, {"name": offer.name, "kind": kind})
    return offer


def get_offer(brand_id: int, offer_id: int) -> Offer:
    offer = db.session.execute(scoped(Offer, brand_id).where(Offer.id == offer_id)).scalar()
    if offer is None:
        raise NotFound("No such offer.")
    return offer


def list_offers(brand_id: int, include_archived: bool = False) -> list[Offer]:
    query = scoped(Offer, brand_id).order_by(Offer.id.desc())
    if not include_archived:
        query = query.where(Offer.archived_at.is_(None))
    return list(db.session.execute(query).scalars())


# What may change once an offer exists. Its kind and value may not: issued vouchers are worth them.
EDITABLE_FIELDS = ("name", "terms", "min_bill", "max_discount", "valid_days", "valid_until", "merchant_ids")


def update_offer(brand_id: int, offer_id: int, data: dict) -> Offer:
    """Edit an offer's name, terms, conditions, validity and stores (new vouchers follow the new
    validity; issued ones keep the expiry they were given)."""
    offer = get_offer(brand_id, offer_id)
    brand = db.session.get(Brand, brand_id)
    assert brand is not None
    changes = {name: data[name] for name in EDITABLE_FIELDS if name in data}
    if changes.get("valid_days") is not None and changes.get("valid_until") is not None:
        raise invalid_field("valid_until", "Give valid_days or valid_until, not both.")
    if changes.get("max_discount") is not None and offer.kind != OfferKind.PERCENT:
        raise invalid_field("max_discount", "max_discount applies to percent offers only.")
    if changes.get("valid_until") is not None:
        changes["valid_until"] = offer_expiry_instant(changes["valid_until"], brand.timezone)
    wanted = sorted(set(changes.pop("merchant_ids", None) or [])) if "merchant_ids" in data else None
    if wanted is not None and merchant_ids_of_brand(brand_id, wanted) != wanted:
        raise invalid_field("merchant_ids", "Unknown merchants.")
    with write_transaction() as session:
        for name, value in changes.items():
            setattr(offer, name, value)
        if wanted is not None:
            offer.merchants = list(session.execute(select(Merchant).where(Merchant.id.in_(wanted))).scalars())
        session.add(offer)
        record_audit(brand_id, events.OFFER_UPDATED, "offer", offer.id, {"fields": sorted(data)})
    return offer


def archive_offer(brand_id: int, offer_id: int) -> Offer:
    """No new vouchers of this offer; those issued stay valid until they expire."""
    offer = get_offer(brand_id, offer_id)
    stamp_once(offer, "archived_at", events.OFFER_ARCHIVED, "offer", {"name": offer.name})
    return offer
