"""Kernel models: the tenant (Brand) and what all domains share: keys, staff, merchants, members, audit."""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum
from typing import Any

from flask_login import UserMixin
from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    Date,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    Text,
    UniqueConstraint,
    false,
    select,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship
from sqlalchemy.sql import Select

from lixi.database import UTCDateTime
from lixi.extensions import db
from lixi.timeutil import utcnow

# Primary keys are INTEGER columns (32-bit on PostgreSQL): larger ids cannot exist, and a request
# naming one is refused before it reaches the database (where it would overflow).
MAX_ID = 2**31 - 1


def scoped(model: Any, brand_id: int) -> Select:
    """SELECT of a tenant's rows: every query on tenant data starts here."""
    return select(model).where(model.brand_id == brand_id)


class Brand(db.Model):
    __tablename__ = "brands"

    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(String(80), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    currency: Mapped[str] = mapped_column(String(3), default="VND")
    locale: Mapped[str] = mapped_column(String(5), default="vi")
    timezone: Mapped[str] = mapped_column(String(64), default="Asia/Ho_Chi_Minh")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class ApiKey(db.Model):
    """A brand's server-to-server key: only its SHA-256 is stored; the prefix finds the row."""

    __tablename__ = "api_keys"

    id: Mapped[int] = mapped_column(primary_key=True)
    brand_id: Mapped[int] = mapped_column(ForeignKey("brands.id"), index=True)
    name: Mapped[str] = mapped_column(String(100), default="default")
    prefix: Mapped[str] = mapped_column(String(24), unique=True)
    key_hash: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


staff_merchants = Table(
    "staff_merchants",
    db.metadata,
    Column("staff_user_id", ForeignKey("staff_users.id", ondelete="CASCADE"), primary_key=True),
    Column("merchant_id", ForeignKey("merchants.id", ondelete="CASCADE"), primary_key=True),
)


class Merchant(db.Model):
    """A store or location of the brand where vouchers are redeemed."""

    __tablename__ = "merchants"

    id: Mapped[int] = mapped_column(primary_key=True)
    brand_id: Mapped[int] = mapped_column(ForeignKey("brands.id"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    address: Mapped[str | None] = mapped_column(String(500))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    archived_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class StaffRole(StrEnum):
    BRAND_ADMIN = "brand_admin"
    MERCHANT_STAFF = "merchant_staff"


class StaffUser(UserMixin, db.Model):
    """A person who logs in: a brand admin, or merchant staff bound to some of the brand's merchants.

    An account belongs to one brand: the same email may have an account in several brands (so
    no brand learns that another one uses it), and the log-in asks for the brand.
    """

    __tablename__ = "staff_users"
    __table_args__ = (UniqueConstraint("brand_id", "email", name="uq_staff_users_brand_email"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    brand_id: Mapped[int] = mapped_column(ForeignKey("brands.id"), index=True)
    email: Mapped[str] = mapped_column(String(254))
    name: Mapped[str | None] = mapped_column(String(200))
    password_hash: Mapped[str] = mapped_column(String(255))
    role: Mapped[str] = mapped_column(String(20))  # brand_admin | merchant_staff
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    disabled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Part of the id every session cookie carries (see get_id): raising it ends every session of
    # the account, which a signed cookie alone cannot do (log-out, a new password, disabling).
    session_version: Mapped[int] = mapped_column(Integer, default=1, server_default="1")

    merchants: Mapped[list[Merchant]] = relationship(secondary=staff_merchants, order_by="Merchant.name")

    @property
    def is_active(self) -> bool:  # Flask-Login: a disabled account's session stops working
        return self.disabled_at is None

    def get_id(self) -> str:
        """What Flask-Login keeps in the session: the account and the session version it was made under."""
        return f"{self.id}:{self.session_version}"


class Member(db.Model):
    """A customer of one brand, known by the brand's own external_id."""

    __tablename__ = "members"
    __table_args__ = (UniqueConstraint("brand_id", "external_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    brand_id: Mapped[int] = mapped_column(ForeignKey("brands.id"), index=True)
    external_id: Mapped[str] = mapped_column(String(100))
    name: Mapped[str | None] = mapped_column(String(200))
    phone: Mapped[str | None] = mapped_column(String(32))
    email: Mapped[str | None] = mapped_column(String(254))
    birthday: Mapped[date | None] = mapped_column(Date)
    tier: Mapped[str] = mapped_column(String(20), default="member")
    # Consent to member mail (and the brand's SMS/Zalo messages): given by the brand through the
    # API, taken back by the member's one-click unsubscribe link (lixi.mail).
    subscribed: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class AuditEvent(db.Model):
    """What changed, who did it and when: written in the same transaction as the change."""

    __tablename__ = "audit_events"
    __table_args__ = (Index("ix_audit_brand_created", "brand_id", "created_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    brand_id: Mapped[int | None] = mapped_column(ForeignKey("brands.id"))
    actor: Mapped[str] = mapped_column(String(100))  # api_key:3, staff:7, cli, system
    action: Mapped[str] = mapped_column(String(60))  # voucher.redeemed, offer.created, …
    subject_type: Mapped[str] = mapped_column(String(40))
    subject_id: Mapped[str] = mapped_column(String(255))  # external ids are up to 100 characters
    data: Mapped[dict] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class OutboxMessage(db.Model):
    """An event to hand on after commit (to webhooks), written in the transaction of the change it reports."""

    __tablename__ = "outbox_messages"

    id: Mapped[int] = mapped_column(primary_key=True)
    brand_id: Mapped[int] = mapped_column(ForeignKey("brands.id"), index=True)
    topic: Mapped[str] = mapped_column(String(60))
    payload: Mapped[dict] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # Set once a delivery row exists for every endpoint that wants the topic (fan-out done).
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime, index=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)


class MailMessage(db.Model):
    """A mail to send after commit (lixi.mail), written in the transaction of the change it tells of."""

    __tablename__ = "mail_messages"
    __table_args__ = (
        Index("ix_mail_messages_due", "status", "next_attempt_at"),
        Index("ix_mail_messages_brand", "brand_id", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    brand_id: Mapped[int] = mapped_column(ForeignKey("brands.id"))
    member_id: Mapped[int | None] = mapped_column(ForeignKey("members.id"))
    kind: Mapped[str] = mapped_column(String(40))  # welcome, points_earned, gift…
    to_address: Mapped[str] = mapped_column(String(254))
    subject: Mapped[str] = mapped_column(String(300))
    text_body: Mapped[str] = mapped_column(Text)
    html_body: Mapped[str | None] = mapped_column(Text)
    headers: Mapped[dict] = mapped_column(JSON, default=dict)  # extra headers (List-Unsubscribe…)
    status: Mapped[str] = mapped_column(String(12), default="pending")  # pending | sent | failed
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_error: Mapped[str | None] = mapped_column(String(500))
    message_id: Mapped[str | None] = mapped_column(String(255))  # the Message-ID header it went with
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class IdempotencyRecord(db.Model):
    """The first response to a mutating call made with an Idempotency-Key, for replays."""

    __tablename__ = "idempotency_records"
    __table_args__ = (UniqueConstraint("brand_id", "key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    brand_id: Mapped[int] = mapped_column(ForeignKey("brands.id"))
    key: Mapped[str] = mapped_column(String(255))
    fingerprint: Mapped[str] = mapped_column(String(64))
    status_code: Mapped[int | None] = mapped_column(Integer)
    response_body: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
