"""Vouchers: issuing them, and finding one by short code, token or URL; cancelling one."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache

from flask import current_app
from sqlalchemy import bindparam, insert, select, update
from sqlalchemy.exc import IntegrityError

from lixi.audit import record_audit
from lixi.database import write_transaction
from lixi.errors import NotFound
from lixi.extensions import db
from lixi.members import get_member
from lixi.merchants import list_merchants
from lixi.models import Brand, Merchant
from lixi.outbox import publish
from lixi.signing import BadData, sign, unsign
from lixi.timeutil import end_of_local_day, local_date, utcnow
from vouchers import events
from vouchers.codes import new_code, normalize_code
from vouchers.errors import VoucherConflict, VoucherErrorCode, invalid_field
from vouchers.models import Offer, OfferKind, Voucher, VoucherStatus
from vouchers.offers import get_offer
from vouchers.rules import lost_race

TOKEN_PURPOSE = "voucher"  # noqa: S105 - a signing salt name, not a secret
UNKNOWN_CODE = "No voucher matches this code."
EVENT_CODES_MAX = 100  # a bigger batch's event gives its batch_id; the codes come from the export


def voucher_expiry(offer: Offer, tz_name: str, issued_at: datetime) -> datetime | None:
    """valid_days = N: through the end of the N-th local day after the day of issue."""
    candidates = []
    if offer.valid_days is not None:
        day = local_date(issued_at, tz_name) + timedelta(days=offer.valid_days)
        candidates.append(end_of_local_day(day, tz_name))
    if offer.valid_until is not None:
        candidates.append(offer.valid_until)
    return min(candidates) if candidates else None


def issue_vouchers(
    brand_id: int,
    offer_id: int,
    count: int = 1,
    member_external_id: str | None = None,
    source: str = "api",
) -> list[Voucher]:
    """Issue `count` vouchers of an offer in one transaction (one audit row for the batch)."""
    limit = current_app.config["MAX_VOUCHERS_PER_ISSUE"]
    if not 1 <= count <= limit:
        raise invalid_field("count", f"count must be from 1 to {limit}.")
    offer = get_offer(brand_id, offer_id)
    if offer.archived_at is not None:
        raise invalid_field("offer_id", "This offer is archived.")
    member = get_member(brand_id, member_external_id) if member_external_id else None
    brand = db.session.get(Brand, brand_id)
    assert brand is not None
    for _attempt in range(3):
        try:
            return _insert_vouchers(brand, offer, count, member.id if member else None, source)
        except IntegrityError:
            # Two codes of 65 random bits collided (about never): draw the batch again.
            continue
    raise RuntimeError("could not draw unique voucher codes")


def _insert_vouchers(
    brand: Brand, offer: Offer, count: int, member_id: int | None, source: str
) -> list[Voucher]:
    with write_transaction():
        return insert_vouchers(brand, offer, count, member_id, source)


def insert_vouchers(
    brand: Brand,
    offer: Offer,
    count: int,
    member_id: int | None,
    source: str,
    batch_id: str | None = None,
    balance: int | None = None,
    held_by: str | None = None,
) -> list[Voucher]:
    """Insert vouchers inside the caller's write transaction (a play issues its prize this way).

    A gift card starts with the offer's value unless `balance` says otherwise (a gift of an
    amount); `held_by` issues them held (a brand's gift, until it is claimed).

    One audit row and one `voucher.issued` event per call (a bulk issue calls it per chunk,
    with its own `batch_id`); the event lists the codes of batches up to EVENT_CODES_MAX.
    """
    now = utcnow()
    expires_at = voucher_expiry(offer, brand.timezone, now)
    batch_id = batch_id or secrets.token_hex(8)
    if offer.kind != OfferKind.GIFT_CARD:
        balance = None
    elif balance is None:
        balance = offer.value
    rows = [
        {
            "brand_id": brand.id,
            "offer_id": offer.id,
            "member_id": member_id,
            "code": new_code(),
            "status": VoucherStatus.ISSUED,
            "balance": balance,
            "source": source,
            "batch_id": batch_id,
            "issued_at": now,
            "expires_at": expires_at,
            "held_by": held_by,
        }
        for _ in range(count)
    ]
    vouchers = list(
        db.session.scalars(insert(Voucher).returning(Voucher, sort_by_parameter_order=True), rows)
    )
    record_audit(
        brand.id,
        events.VOUCHERS_ISSUED,
        "voucher_batch",
        batch_id,
        {"offer_id": offer.id, "count": count, "member_id": member_id, "source": source},
    )
    publish(
        brand.id,
        events.TOPIC_VOUCHER_ISSUED,
        {
            "batch_id": batch_id,
            "offer_id": offer.id,
            "count": count,
            "source": source,
            "member_id": member_id,
            "codes": [v.code for v in vouchers] if count <= EVENT_CODES_MAX else None,
        },
    )
    return vouchers


def voucher_token(code: str) -> str:
    return _signed(tuple(current_app.config["SECRET_KEYS"]), code)


@lru_cache(maxsize=65536)
def _signed(keys: tuple[str, ...], code: str) -> str:
    # Deterministic for a key set, and a voucher response needs it four times (token and URLs).
    return sign_voucher_code(code)


def sign_voucher_code(code: str) -> str:
    """The token of a code, uncached: exports of a million codes would only push the API's hot
    codes out of voucher_token's cache."""
    return sign(code, TOKEN_PURPOSE)


def code_from_token(token: str) -> str | None:
    """The code inside a genuine token, or None for anything forged, tampered or malformed."""
    if not token or len(token) > 512:
        return None
    try:
        code = unsign(token, TOKEN_PURPOSE)
    except (BadData, UnicodeError, ValueError, TypeError):
        return None
    return code if isinstance(code, str) else None


def code_from_input(presented: str) -> str | None:
    """Accept a short code as typed, a signed token, or the voucher URL a QR holds."""
    text = presented.strip()
    if "/v/" in text:
        text = text.split("/v/", 1)[1].split("?", 1)[0].split("#", 1)[0].strip("/")
    if "." in text:
        return code_from_token(text)
    return normalize_code(text)


_BY_CODE = select(Voucher).where(Voucher.brand_id == bindparam("brand_id"), Voucher.code == bindparam("code"))


def find_voucher(brand_id: int, presented: str) -> Voucher:
    """The brand's voucher (the ORM entity, to change it) for a code, token or URL; one generic 404
    for anything else. Validate and redeem read a snapshot instead (vouchers.snapshot)."""
    code = code_from_input(presented)
    voucher = db.session.execute(_BY_CODE, {"brand_id": brand_id, "code": code}).scalar() if code else None
    if voucher is None:
        raise NotFound(UNKNOWN_CODE)
    return voucher


def find_voucher_by_token(token: str) -> Voucher | None:
    """For the public pages: any brand's voucher, by a genuine token only."""
    code = code_from_token(token)
    if code is None:
        return None
    return db.session.execute(select(Voucher).where(Voucher.code == code)).scalar()


@dataclass(frozen=True)
class PublicVoucher:
    """What the public voucher page shows: the voucher, its brand, its stores and its status now."""

    voucher: Voucher
    brand: Brand
    merchants: list[Merchant]
    status: str


def find_public_voucher(token: str) -> PublicVoucher | None:
    """The voucher of a genuine token with where it can be used (no stores of its own: the brand's)."""
    voucher = find_voucher_by_token(token)
    if voucher is None:
        return None
    brand = db.session.get(Brand, voucher.brand_id)
    assert brand is not None
    merchants = voucher.offer.merchants or list_merchants(voucher.brand_id)
    return PublicVoucher(voucher, brand, merchants, voucher.status_at(utcnow()))


def void_voucher(brand_id: int, presented: str, reason: str | None = None) -> Voucher:
    """Cancel an unused voucher for good (a mistaken issue, a refund); not one an open gift holds
    (cancel the gift: it gives the voucher back or voids it)."""
    with write_transaction() as session:
        voucher = find_voucher(brand_id, presented)
        if voucher.status == VoucherStatus.VOIDED:
            raise VoucherConflict(VoucherErrorCode.ALREADY_VOIDED)
        if voucher.held_by is not None:
            raise VoucherConflict(VoucherErrorCode.HELD)
        result = session.execute(
            update(Voucher)
            .where(
                Voucher.id == voucher.id, Voucher.status == VoucherStatus.ISSUED, Voucher.held_by.is_(None)
            )
            .values(status=VoucherStatus.VOIDED, voided_at=utcnow())
            .execution_options(synchronize_session=False)
        )
        if result.rowcount != 1:
            session.refresh(voucher)
            raise lost_race(voucher, None)
        session.refresh(voucher)
        record_audit(brand_id, events.VOUCHER_VOIDED, "voucher", voucher.code, {"reason": reason})
        publish(brand_id, events.TOPIC_VOUCHER_VOIDED, {"code": voucher.code, "reason": reason})
    return voucher
