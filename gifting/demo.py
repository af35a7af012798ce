"""Gifting's part of seed-demo: a Tết gift card offer and a lì xì of five envelopes to open from its
shareable link."""

from __future__ import annotations

from sqlalchemy import select

from gifting.links import gift_token
from gifting.models import Design, Gift, SplitMode
from gifting.service import GiftRequest, insert_gift
from lixi.audit import acting_as
from lixi.database import write_transaction
from lixi.demo import Demo
from lixi.extensions import db
from vouchers.models import Offer
from vouchers.offers import create_offer

DEMO_GIFT_CARD = {
    "name": "Thẻ quà Tết",
    "kind": "gift_card",
    "value": 200_000,
    "valid_days": 365,
    "terms": "Dùng nhiều lần đến khi hết số dư.",
}
DEMO_LIXI_ROW = "demo-lixi-tet"  # the row_id that makes the demo's lì xì once per brand


def seed_gifts(demo: Demo) -> None:
    assert demo.brand is not None
    brand = demo.brand
    offer = db.session.execute(
        select(Offer).where(Offer.brand_id == brand.id, Offer.name == DEMO_GIFT_CARD["name"])
    ).scalar() or create_offer(brand.id, DEMO_GIFT_CARD)
    demo.facts["gift_card_offer_id"] = offer.id
    gift = db.session.execute(
        select(Gift).where(Gift.brand_id == brand.id, Gift.row_id == DEMO_LIXI_ROW)
    ).scalar()
    if gift is None:
        request = GiftRequest(
            offer_id=offer.id,
            sender_name=brand.name,
            message="Chúc mừng năm mới! An khang thịnh vượng.",
            design=Design.TET,
            claim_days=365,
            split_count=5,
            split_total=200_000,
            split_mode=SplitMode.RANDOM,
            row_id=DEMO_LIXI_ROW,
        )
        with acting_as("cli"), write_transaction():
            gift = insert_gift(brand, request)
    demo.add_page("gift", f"/g/{gift_token(gift.id)}")
