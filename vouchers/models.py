"""Offers (what a voucher is worth), vouchers (issued instances) and redemptions."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import (
    BigInteger,
    Column,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from lixi.database import UTCDateTime
from lixi.extensions import db
from lixi.models import Member, Merchant, StaffUser
from lixi.timeutil import utcnow


class OfferKind(StrEnum):
    FIXED_AMOUNT = "fixed_amount"
    PERCENT = "percent"
    FREE_ITEM = "free_item"
    GIFT_CARD = "gift_card"


class VoucherStatus(StrEnum):
    ISSUED = "issued"
    REDEEMED = "redeemed"
    VOIDED = "voided"
    EXPIRED = "expired"  # never stored: an issued voucher past expires_at reads as expired


offer_merchants = Table(
    "offer_merchants",
    db.metadata,
    Column("offer_id", ForeignKey("offers.id", ondelete="CASCADE"), primary_key=True),
    Column("merchant_id", ForeignKey("merchants.id", ondelete="CASCADE"), primary_key=True),
)


class Offer(db.Model):
    __tablename__ = "offers"

    id: Mapped[int] = mapped_column(primary_key=True)
    brand_id: Mapped[int] = mapped_column(ForeignKey("brands.id"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(20))
    # fixed_amount / free_item / gift_card: money in minor units; percent: whole percent 1–100.
    value: Mapped[int] = mapped_column(BigInteger)
    max_discount: Mapped[int | None] = mapped_column(BigInteger)
    min_bill: Mapped[int | None] = mapped_column(BigInteger)
    valid_days: Mapped[int | None] = mapped_column(Integer)
    valid_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    terms: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    archived_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    merchants: Mapped[list[Merchant]] = relationship(secondary=offer_merchants)

    @property
    def merchant_ids(self) -> list[int]:
        return sorted(m.id for m in self.merchants)


class Voucher(db.Model):
    __tablename__ = "vouchers"
    __table_args__ = (
        Index("ix_vouchers_brand_member", "brand_id", "member_id"),
        Index("ix_vouchers_brand_batch", "brand_id", "batch_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    brand_id: Mapped[int] = mapped_column(ForeignKey("brands.id"), index=True)
    offer_id: Mapped[int] = mapped_column(ForeignKey("offers.id"), index=True)
    member_id: Mapped[int | None] = mapped_column(ForeignKey("members.id"))
    code: Mapped[str] = mapped_column(String(16), unique=True)
    status: Mapped[str] = mapped_column(String(12), default=VoucherStatus.ISSUED)
    # Gift cards: what is left to spend. Other kinds: null.
    balance: Mapped[int | None] = mapped_column(BigInteger)
    source: Mapped[str] = mapped_column(String(20), default="api")
    batch_id: Mapped[str | None] = mapped_column(String(32))
    issued_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    redeemed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    voided_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Set while something holds the voucher so that nobody can use it (an open gift: "gift:<id>");
    # a held voucher is refused by validate and redeem (409 held) until it is released.
    held_by: Mapped[str | None] = mapped_column(String(40))

    offer: Mapped[Offer] = relationship(lazy="joined", innerjoin=True)
    member: Mapped[Member | None] = relationship(lazy="joined")

    def status_at(self, instant: datetime) -> str:
        return status_at(self.status, self.expires_at, instant)


def status_at(status: str, expires_at: datetime | None, instant: datetime) -> str:
    """What a voucher's status reads as at `instant`: an issued one past its expiry is expired
    (also for plain rows: exports read columns, not ORM objects)."""
    if status == VoucherStatus.ISSUED and expires_at is not None and expires_at <= instant:
        return VoucherStatus.EXPIRED
    return status


class Redemption(db.Model):
    __tablename__ = "redemptions"
    __table_args__ = (
        UniqueConstraint("brand_id", "idempotency_key"),
        Index("ix_redemptions_merchant_created", "merchant_id", "created_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    brand_id: Mapped[int] = mapped_column(ForeignKey("brands.id"), index=True)
    voucher_id: Mapped[int] = mapped_column(ForeignKey("vouchers.id"), index=True)
    merchant_id: Mapped[int] = mapped_column(ForeignKey("merchants.id"))
    # What the voucher took off the bill (or from the gift-card balance), in minor units.
    amount: Mapped[int] = mapped_column(BigInteger)
    bill_amount: Mapped[int | None] = mapped_column(BigInteger)
    idempotency_key: Mapped[str | None] = mapped_column(String(255))
    actor: Mapped[str] = mapped_column(String(100))
    # The cashier who scanned it, when redeemed from the merchant page (null from the API).
    staff_user_id: Mapped[int | None] = mapped_column(ForeignKey("staff_users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    voided_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    void_reason: Mapped[str | None] = mapped_column(String(500))
    voided_by: Mapped[str | None] = mapped_column(String(100))

    voucher: Mapped[Voucher] = relationship(lazy="joined", innerjoin=True)
    merchant: Mapped[Merchant] = relationship(lazy="joined", innerjoin=True)
    staff_user: Mapped[StaffUser | None] = relationship()


class BulkIssue(db.Model):
    """A large issue run in the background (RQ): its progress, and the batch its vouchers carry."""

    __tablename__ = "bulk_issues"

    id: Mapped[int] = mapped_column(primary_key=True)
    brand_id: Mapped[int] = mapped_column(ForeignKey("brands.id"), index=True)
    offer_id: Mapped[int] = mapped_column(ForeignKey("offers.id"))
    count: Mapped[int] = mapped_column(Integer)
    issued: Mapped[int] = mapped_column(Integer, default=0)
    status: Mapped[str] = mapped_column(String(12), default="queued")  # queued | running | done | failed
    batch_id: Mapped[str] = mapped_column(String(32), unique=True)
    requested_by: Mapped[str] = mapped_column(String(100))
    error: Mapped[str | None] = mapped_column(String(500))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    offer: Mapped[Offer] = relationship()
