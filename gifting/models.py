"""Gifts (a voucher sent to someone), their lì xì envelopes, claim codes, delivery attempts and
bulk gifting batches."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import BigInteger, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from lixi.database import UTCDateTime
from lixi.extensions import db
from lixi.models import Member
from lixi.timeutil import utcnow
from vouchers.models import Offer, Voucher


class GiftStatus(StrEnum):
    SCHEDULED = "scheduled"
    SENT = "sent"
    OPENED = "opened"
    CLAIMED = "claimed"
    EXPIRED = "expired"  # passed through on the way to returned (kept when nothing is left to return)
    RETURNED = "returned"
    CANCELLED = "cancelled"


OPEN_STATUSES = (GiftStatus.SCHEDULED, GiftStatus.SENT, GiftStatus.OPENED)
CLAIMABLE_STATUSES = (GiftStatus.SENT, GiftStatus.OPENED)


class Design(StrEnum):
    TET = "tet"
    BIRTHDAY = "birthday"
    THANKS = "thanks"
    PLAIN = "plain"


class SplitMode(StrEnum):
    EQUAL = "equal"
    RANDOM = "random"


class Gift(db.Model):
    """A voucher on its way to someone. The gift holds one voucher (vouchers.held_by) from its
    creation until it is claimed, returned or cancelled: the brand's new voucher, or the member's
    own. A lì xì gift (split_count set) holds a gift card whose balance its envelopes take from."""

    __tablename__ = "gifts"
    __table_args__ = (
        UniqueConstraint("brand_id", "row_id"),  # a bulk file's row is sent once, whatever the upload
        Index("ix_gifts_brand_status", "brand_id", "status"),
        Index("ix_gifts_status_due", "status", "send_at"),
        Index("ix_gifts_sender", "brand_id", "sender_member_id"),
        Index("ix_gifts_recipient", "brand_id", "recipient_member_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    brand_id: Mapped[int] = mapped_column(ForeignKey("brands.id"), index=True)
    status: Mapped[str] = mapped_column(String(12), default=GiftStatus.SCHEDULED)
    offer_id: Mapped[int] = mapped_column(ForeignKey("offers.id"))
    voucher_id: Mapped[int] = mapped_column(ForeignKey("vouchers.id"), index=True)
    value: Mapped[int] = mapped_column(BigInteger)  # what the gift is worth, in minor units
    # Who sends it: a member giving their voucher away (None: the brand), and the name shown.
    sender_member_id: Mapped[int | None] = mapped_column(ForeignKey("members.id"))
    sender_name: Mapped[str | None] = mapped_column(String(200))
    recipient_name: Mapped[str | None] = mapped_column(String(200))
    recipient_email: Mapped[str | None] = mapped_column(String(254))
    recipient_phone: Mapped[str | None] = mapped_column(String(32))  # E.164
    language: Mapped[str] = mapped_column(String(5), default="vi")  # of the mail and the page
    # The member who claimed it (a single gift), when the verified email or phone is one.
    recipient_member_id: Mapped[int | None] = mapped_column(ForeignKey("members.id"))
    message: Mapped[str | None] = mapped_column(String(500))
    design: Mapped[str] = mapped_column(String(12), default=Design.PLAIN)
    claim_days: Mapped[int] = mapped_column(Integer, default=30)
    # Lì xì: the held gift card's balance split into envelopes.
    split_count: Mapped[int | None] = mapped_column(Integer)
    split_mode: Mapped[str | None] = mapped_column(String(8))
    # Bulk gifting: the batch and the file's row_id.
    batch_id: Mapped[int | None] = mapped_column(ForeignKey("gift_batches.id"), index=True)
    row_id: Mapped[str | None] = mapped_column(String(100))
    created_by: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    send_at: Mapped[datetime] = mapped_column(UTCDateTime)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    opened_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    claimed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)  # the claim deadline, set when sent
    reminded_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    expired_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    returned_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    cancelled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # The voucher the recipient got (a single gift) or the sender got back (a return).
    claimed_voucher_id: Mapped[int | None] = mapped_column(ForeignKey("vouchers.id"))
    returned_voucher_id: Mapped[int | None] = mapped_column(ForeignKey("vouchers.id"))

    offer: Mapped[Offer] = relationship(lazy="joined", innerjoin=True)
    voucher: Mapped[Voucher] = relationship(foreign_keys=[voucher_id])
    sender: Mapped[Member | None] = relationship(foreign_keys=[sender_member_id])
    recipient_member: Mapped[Member | None] = relationship(foreign_keys=[recipient_member_id])
    envelopes: Mapped[list[GiftEnvelope]] = relationship(
        order_by="GiftEnvelope.position", back_populates="gift"
    )

    @property
    def is_split(self) -> bool:
        return self.split_count is not None


class GiftEnvelope(db.Model):
    """One envelope of a lì xì gift: its amount, fixed when the gift is made, and who claimed it."""

    __tablename__ = "gift_envelopes"
    __table_args__ = (
        UniqueConstraint("gift_id", "position"),
        UniqueConstraint("gift_id", "claimer_contact"),  # each person claims at most one envelope
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    gift_id: Mapped[int] = mapped_column(ForeignKey("gifts.id"))
    position: Mapped[int] = mapped_column(Integer)  # 1…N
    amount: Mapped[int] = mapped_column(BigInteger)
    claimed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    claimer_name: Mapped[str | None] = mapped_column(String(200))
    claimer_contact: Mapped[str | None] = mapped_column(String(254))  # the verified email or E.164 phone
    claimer_member_id: Mapped[int | None] = mapped_column(ForeignKey("members.id"))
    voucher_id: Mapped[int | None] = mapped_column(ForeignKey("vouchers.id"))

    gift: Mapped[Gift] = relationship(back_populates="envelopes")
    voucher: Mapped[Voucher | None] = relationship()


class GiftClaimCode(db.Model):
    """A one-time code sent to the email or phone a claim must prove (hashed; one live per contact)."""

    __tablename__ = "gift_claim_codes"
    __table_args__ = (UniqueConstraint("gift_id", "contact"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    gift_id: Mapped[int] = mapped_column(ForeignKey("gifts.id"))
    contact: Mapped[str] = mapped_column(String(254))
    code_hash: Mapped[str] = mapped_column(String(64))
    tries: Mapped[int] = mapped_column(Integer, default=0)
    sent_count: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class GiftDelivery(db.Model):
    """One attempt to tell the recipient: the first send, a resend, a reminder, a claim code, the
    voucher after the claim."""

    __tablename__ = "gift_deliveries"

    id: Mapped[int] = mapped_column(primary_key=True)
    gift_id: Mapped[int] = mapped_column(ForeignKey("gifts.id"), index=True)
    kind: Mapped[str] = mapped_column(String(12))  # gift | resend | reminder | code | voucher
    channel: Mapped[str] = mapped_column(String(8))  # email | phone | link
    to_address: Mapped[str | None] = mapped_column(String(254))
    mail_id: Mapped[int | None] = mapped_column(ForeignKey("mail_messages.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class BatchStatus(StrEnum):
    CHECKED = "checked"  # the dry run: rows read and checked, nothing sent
    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"


class GiftBatch(db.Model):
    """A CSV of gifts uploaded in the dashboard: checked first (the dry run), then sent by a job."""

    __tablename__ = "gift_batches"

    id: Mapped[int] = mapped_column(primary_key=True)
    brand_id: Mapped[int] = mapped_column(ForeignKey("brands.id"), index=True)
    filename: Mapped[str] = mapped_column(String(255))
    status: Mapped[str] = mapped_column(String(10), default=BatchStatus.CHECKED)
    # Rows with an amount instead of an offer_id get a gift card of this offer with that balance.
    gift_card_offer_id: Mapped[int | None] = mapped_column(ForeignKey("offers.id"))
    design: Mapped[str] = mapped_column(String(12), default=Design.PLAIN)
    sender_name: Mapped[str | None] = mapped_column(String(200))
    claim_days: Mapped[int] = mapped_column(Integer, default=30)
    rows_total: Mapped[int] = mapped_column(Integer, default=0)
    rows_bad: Mapped[int] = mapped_column(Integer, default=0)
    rows_done: Mapped[int] = mapped_column(Integer, default=0)  # handled by the job (sent or skipped)
    rows_sent: Mapped[int] = mapped_column(Integer, default=0)
    rows_skipped: Mapped[int] = mapped_column(Integer, default=0)  # row_id already sent before
    total_value: Mapped[int] = mapped_column(BigInteger, default=0)
    created_by: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    error: Mapped[str | None] = mapped_column(String(500))


class GiftBatchRow(db.Model):
    """One row of a batch's file, as read, with what became of it."""

    __tablename__ = "gift_batch_rows"
    __table_args__ = (UniqueConstraint("batch_id", "line"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    batch_id: Mapped[int] = mapped_column(ForeignKey("gift_batches.id"))
    line: Mapped[int] = mapped_column(Integer)  # the line in the file (the header is line 1)
    row_id: Mapped[str | None] = mapped_column(String(100))
    name: Mapped[str | None] = mapped_column(String(200))
    email: Mapped[str | None] = mapped_column(String(254))
    phone: Mapped[str | None] = mapped_column(String(32))
    offer_id: Mapped[int | None] = mapped_column(Integer)
    amount: Mapped[int | None] = mapped_column(BigInteger)
    message: Mapped[str | None] = mapped_column(Text)
    send_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    value: Mapped[int] = mapped_column(BigInteger, default=0)
    status: Mapped[str] = mapped_column(String(10), default="ok")  # ok | bad | sent | skipped
    error: Mapped[str | None] = mapped_column(String(500))
    gift_id: Mapped[int | None] = mapped_column(ForeignKey("gifts.id"))
