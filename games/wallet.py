"""The member's wallet page: their vouchers of the brand, newest first."""

from __future__ import annotations

from sqlalchemy import select

from lixi.extensions import db
from vouchers.models import Voucher

WALLET_SIZE = 200  # the page lists the newest this many


def member_vouchers(brand_id: int, member_id: int) -> list[Voucher]:
    """The member's newest WALLET_SIZE vouchers of this brand."""
    return list(
        db.session.execute(
            select(Voucher)
            .where(Voucher.brand_id == brand_id, Voucher.member_id == member_id)
            .order_by(Voucher.id.desc())
            .limit(WALLET_SIZE)
        ).scalars()
    )
