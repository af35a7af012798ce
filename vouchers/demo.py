"""The vouchers' part of seed-demo: two offers, a voucher waiting to be redeemed, the merchant page."""

from __future__ import annotations

from sqlalchemy import or_, select

from lixi.demo import Demo
from lixi.extensions import db
from lixi.timeutil import utcnow
from vouchers.models import Offer, Voucher, VoucherStatus
from vouchers.offers import create_offer
from vouchers.service import issue_vouchers, voucher_token

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


def seed_offers(demo: Demo) -> None:
    """The demo's offers (the games' prizes point at them too)."""
    assert demo.brand is not None
    offer, lixi_offer = (_demo_offer(demo.brand.id, spec) for spec in (DEMO_OFFER, DEMO_LIXI_OFFER))
    demo.facts.update(offer_id=offer.id, lixi_offer_id=lixi_offer.id)


def seed_voucher(demo: Demo) -> None:
    """The first member's demo voucher, and its public page."""
    assert demo.brand is not None
    voucher = _demo_voucher(demo.brand.id, demo.facts["offer_id"], demo.members[0].external_id)
    demo.facts["voucher_code"] = voucher.code
    demo.add_page("voucher", f"/v/{voucher_token(voucher.code)}")


def add_merchant_page(demo: Demo) -> None:
    assert demo.brand is not None
    demo.add_page("merchant", f"/merchant/login?brand={demo.brand.slug}")


def _demo_offer(brand_id: int, spec: dict) -> Offer:
    """The demo's offer of this name, made on the first run."""
    offer = db.session.execute(
        select(Offer)
        .where(Offer.brand_id == brand_id, Offer.name == spec["name"], Offer.archived_at.is_(None))
        .order_by(Offer.id)
    ).scalar()
    return offer or create_offer(brand_id, spec)


def _demo_voucher(brand_id: int, offer_id: int, member_external_id: str) -> Voucher:
    """The demo voucher still waiting to be redeemed, or a new one once it was used, voided or expired."""
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
