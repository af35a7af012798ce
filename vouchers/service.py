"""Voucher rules: create offers, issue vouchers, and validate, redeem and void them exactly once.

Every change is one write transaction whose decisive statement is a conditional UPDATE
(checked by its row count) or an INSERT under a unique constraint, so the guarantees hold on
SQLite and PostgreSQL alike, across processes, without locks in Python.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from functools import lru_cache

from flask import current_app
from sqlalchemy import bindparam, case, exists, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm.attributes import set_committed_value

from lixi.audit import record_audit
from lixi.database import write_transaction
from lixi.errors import InvalidRequest, NotFound
from lixi.extensions import db
from lixi.members import get_member
from lixi.merchants import merchant_ids_of_brand
from lixi.models import Brand, Merchant, scoped
from lixi.signing import BadData, sign, unsign
from lixi.timeutil import end_of_local_day, local_date, utcnow
from vouchers.codes import new_code, normalize_code
from vouchers.errors import VoucherConflict, VoucherErrorCode
from vouchers.models import Offer, OfferKind, Redemption, Voucher, VoucherStatus, offer_merchants

TOKEN_PURPOSE = "voucher"  # noqa: S105 - a signing salt name, not a secret
UNKNOWN_CODE = "No voucher matches this code."


def _invalid(field: str, message: str) -> InvalidRequest:
    return InvalidRequest(message, {"fields": {field: [message]}})


# ── offers ──────────────────────────────────────────────────────────────────────────────


def offer_expiry_instant(valid_until: date | datetime, tz_name: str) -> datetime:
    """A date means 'through that day' in the brand's zone; a datetime is taken as given."""
    if isinstance(valid_until, datetime):
        return valid_until
    return end_of_local_day(valid_until, tz_name)


def create_offer(brand_id: int, data: dict) -> Offer:
    kind = data["kind"]
    value = data["value"]
    if kind == OfferKind.PERCENT and not 1 <= value <= 100:
        raise _invalid("value", "A percent offer's value is a whole percent from 1 to 100.")
    if kind in (OfferKind.FIXED_AMOUNT, OfferKind.GIFT_CARD) and value < 1:
        raise _invalid("value", "The value must be at least 1.")
    if data.get("valid_days") is not None and data.get("valid_until") is not None:
        raise _invalid("valid_until", "Give valid_days or valid_until, not both.")
    if data.get("max_discount") is not None and kind != OfferKind.PERCENT:
        raise _invalid("max_discount", "max_discount applies to percent offers only.")
    brand = db.session.get(Brand, brand_id)
    assert brand is not None
    valid_until = data.get("valid_until")
    if valid_until is not None:
        valid_until = offer_expiry_instant(valid_until, brand.timezone)
        if valid_until <= utcnow():
            raise _invalid("valid_until", "valid_until is already in the past.")
    wanted_merchants = sorted(set(data.get("merchant_ids") or []))
    known = merchant_ids_of_brand(brand_id, wanted_merchants) if wanted_merchants else []
    if len(known) != len(wanted_merchants):
        unknown = sorted(set(wanted_merchants) - set(known))
        raise _invalid("merchant_ids", f"Unknown merchants: {unknown}.")

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
        record_audit(brand_id, "offer.created", "offer", offer.id, {"name": offer.name, "kind": kind})
    return offer


def get_offer(brand_id: int, offer_id: int) -> Offer:
    offer = db.session.execute(scoped(Offer, brand_id).where(Offer.id == offer_id)).scalar()
    if offer is None:
        raise NotFound("No such offer.")
    return offer


# ── issuing ─────────────────────────────────────────────────────────────────────────────


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
        raise _invalid("count", f"count must be from 1 to {limit}.")
    offer = get_offer(brand_id, offer_id)
    if offer.archived_at is not None:
        raise _invalid("offer_id", "This offer is archived.")
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
    now = utcnow()
    expires_at = voucher_expiry(offer, brand.timezone, now)
    batch_id = secrets.token_hex(8)
    balance = offer.value if offer.kind == OfferKind.GIFT_CARD else None
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
        }
        for _ in range(count)
    ]
    with write_transaction() as session:
        vouchers = list(
            session.scalars(insert(Voucher).returning(Voucher, sort_by_parameter_order=True), rows)
        )
        record_audit(
            brand.id,
            "vouchers.issued",
            "voucher_batch",
            batch_id,
            {"offer_id": offer.id, "count": count, "member_id": member_id, "source": source},
        )
    return vouchers


# ── finding a code ──────────────────────────────────────────────────────────────────────


def voucher_token(code: str) -> str:
    return _signed(tuple(current_app.config["SECRET_KEYS"]), code)


@lru_cache(maxsize=65536)
def _signed(keys: tuple[str, ...], code: str) -> str:
    # Deterministic for a key set, and a voucher response needs it four times (token and URLs).
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


def find_voucher(brand_id: int, presented: str) -> Voucher:
    """The brand's voucher for a code or token; one generic 404 for anything else."""
    return _lookup(brand_id, presented, None)[0]


# The hottest statements of the API, built once: constructing a SELECT costs more than running it.
_BY_CODE = select(Voucher).where(Voucher.brand_id == bindparam("brand_id"), Voucher.code == bindparam("code"))
_BY_CODE_AT_MERCHANT = _BY_CODE.add_columns(
    (
        ~exists().where(offer_merchants.c.offer_id == Voucher.offer_id)
        | exists().where(
            offer_merchants.c.offer_id == Voucher.offer_id,
            offer_merchants.c.merchant_id == bindparam("merchant_id"),
        )
    ).label("valid_here"),
    exists()
    .where(Merchant.id == bindparam("merchant_id"), Merchant.brand_id == bindparam("brand_id"))
    .label("merchant_known"),
)


def _lookup(brand_id: int, presented: str, merchant_id: int | None) -> tuple[Voucher, bool]:
    """The voucher (with offer and member) and whether it is valid at `merchant_id`, in one query.

    Validation is the hottest path of the API, so the merchant checks ride along as EXISTS
    columns instead of costing queries of their own. Raises 404 for an unknown code and
    422 for a merchant that is not the brand's.
    """
    code = code_from_input(presented)
    if code is None:
        raise NotFound(UNKNOWN_CODE)
    params = {"brand_id": brand_id, "code": code}
    if merchant_id is None:
        voucher = db.session.execute(_BY_CODE, params).scalar()
        if voucher is None:
            raise NotFound(UNKNOWN_CODE)
        return voucher, True
    row = db.session.execute(_BY_CODE_AT_MERCHANT, {**params, "merchant_id": merchant_id}).first()
    if row is None:
        raise NotFound(UNKNOWN_CODE)
    voucher, valid_here, merchant_known = row
    if not merchant_known:
        raise _invalid("merchant_id", "No such merchant.")
    return voucher, bool(valid_here)


def find_voucher_by_token(token: str) -> Voucher | None:
    """For the public pages: any brand's voucher, by a genuine token only."""
    code = code_from_token(token)
    if code is None:
        return None
    return db.session.execute(select(Voucher).where(Voucher.code == code)).scalar()


# ── rules ───────────────────────────────────────────────────────────────────────────────


@dataclass(frozen=True)
class Check:
    """What validation found: the voucher and what it would take off the bill (if known)."""

    voucher: Voucher
    amount: int | None


def discount_for(offer: Offer, bill_amount: int | None) -> int | None:
    """What a single-use voucher takes off a bill; None when it depends on an unknown bill."""
    if offer.kind == OfferKind.FREE_ITEM:
        return offer.value
    if offer.kind == OfferKind.FIXED_AMOUNT:
        return offer.value if bill_amount is None else min(offer.value, bill_amount)
    if offer.kind == OfferKind.PERCENT:
        if bill_amount is None:
            return None
        discount = bill_amount * offer.value // 100
        return min(discount, offer.max_discount) if offer.max_discount is not None else discount
    return None


def _last_redemption(voucher: Voucher) -> Redemption | None:
    query = (
        select(Redemption)
        .where(Redemption.voucher_id == voucher.id, Redemption.voided_at.is_(None))
        .order_by(Redemption.id.desc())
        .limit(1)
    )
    return db.session.execute(query).scalar()


def _already_redeemed(voucher: Voucher) -> VoucherConflict:
    last = _last_redemption(voucher)
    details = {}
    if last is not None:
        details = {
            "redeemed_at": last.created_at.isoformat(),
            "merchant_id": last.merchant_id,
            "merchant_name": last.merchant.name,
        }
    return VoucherConflict(VoucherErrorCode.ALREADY_REDEEMED, details)


def check_usable(voucher: Voucher, valid_here: bool, bill_amount: int | None) -> None:
    """Raise the first reason this voucher cannot be used now (at this merchant, for this bill)."""
    now = utcnow()
    offer = voucher.offer
    if voucher.status == VoucherStatus.VOIDED:
        raise VoucherConflict(VoucherErrorCode.VOIDED)
    if voucher.status == VoucherStatus.REDEEMED:
        raise _already_redeemed(voucher)
    if voucher.status_at(now) == VoucherStatus.EXPIRED:
        assert voucher.expires_at is not None
        raise VoucherConflict(VoucherErrorCode.EXPIRED, {"expired_at": voucher.expires_at.isoformat()})
    if not valid_here:
        raise VoucherConflict(VoucherErrorCode.NOT_VALID_HERE)
    if offer.min_bill and bill_amount is not None and bill_amount < offer.min_bill:
        raise VoucherConflict(VoucherErrorCode.MIN_BILL_NOT_MET, {"min_bill": offer.min_bill})


def validate_voucher(
    brand_id: int, presented: str, merchant_id: int | None = None, bill_amount: int | None = None
) -> Check:
    voucher, valid_here = _lookup(brand_id, presented, merchant_id)
    check_usable(voucher, valid_here, bill_amount)
    if voucher.offer.kind == OfferKind.GIFT_CARD:
        return Check(voucher, None)
    return Check(voucher, discount_for(voucher.offer, bill_amount))


# ── redeeming and voiding ───────────────────────────────────────────────────────────────


def redeem_voucher(
    brand_id: int,
    presented: str,
    merchant_id: int,
    amount: int | None = None,
    bill_amount: int | None = None,
    idempotency_key: str | None = None,
    actor: str = "api",
) -> Redemption:
    """Redeem once (or take `amount` from a gift card's balance), at a merchant, in one transaction.

    The checks run before the write lock is taken (on SQLite writers queue behind it); the
    conditional UPDATE inside the transaction re-checks status, expiry and balance, so a
    voucher changed in between is refused, never redeemed twice.
    """
    voucher, valid_here = _lookup(brand_id, presented, merchant_id)
    offer = voucher.offer
    check_usable(voucher, valid_here, bill_amount)
    if offer.min_bill and bill_amount is None:
        raise _invalid("bill_amount", "This voucher has a minimum bill: send bill_amount.")
    now = utcnow()
    still_usable = (
        (Voucher.id == voucher.id)
        & (Voucher.status == VoucherStatus.ISSUED)
        & ((Voucher.expires_at.is_(None)) | (Voucher.expires_at > now))
    )
    if offer.kind == OfferKind.GIFT_CARD:
        if amount is None:
            raise _invalid("amount", "Gift cards need the amount to take from the balance.")
        taken = amount
        redeem = (
            update(Voucher)
            .where(still_usable, Voucher.balance >= amount)
            .values(
                balance=Voucher.balance - amount,
                status=case((Voucher.balance == amount, VoucherStatus.REDEEMED), else_=Voucher.status),
                redeemed_at=now,
            )
        )
    else:
        discount = discount_for(offer, bill_amount)
        if discount is None:
            raise _invalid("bill_amount", "Percent vouchers need bill_amount to work out the discount.")
        taken = discount
        redeem = update(Voucher).where(still_usable).values(status=VoucherStatus.REDEEMED, redeemed_at=now)

    with write_transaction() as session:
        changed = session.execute(
            redeem.returning(Voucher.status, Voucher.balance, Voucher.redeemed_at).execution_options(
                synchronize_session=False
            )
        ).first()
        if changed is None:
            raise _lost_race(voucher, amount)
        for name, value in changed._mapping.items():
            set_committed_value(voucher, name, value)
        redemption = Redemption(
            brand_id=brand_id,
            voucher=voucher,  # the object, not just its id: the response needs it without a reload
            merchant_id=merchant_id,
            amount=taken,
            bill_amount=bill_amount,
            idempotency_key=idempotency_key,
            actor=actor,
            created_at=now,
        )
        session.add(redemption)
        session.flush()
        record_audit(
            brand_id,
            "voucher.redeemed",
            "voucher",
            voucher.code,
            {"redemption_id": redemption.id, "merchant_id": merchant_id, "amount": taken},
        )
    return redemption


def _lost_race(voucher: Voucher, amount: int | None) -> VoucherConflict:
    """The conditional UPDATE matched nothing: someone changed the voucher first. Say what."""
    db.session.refresh(voucher)
    if voucher.status == VoucherStatus.VOIDED:
        return VoucherConflict(VoucherErrorCode.VOIDED)
    if voucher.status == VoucherStatus.REDEEMED:
        return _already_redeemed(voucher)
    if voucher.status_at(utcnow()) == VoucherStatus.EXPIRED:
        return VoucherConflict(VoucherErrorCode.EXPIRED)
    return VoucherConflict(
        VoucherErrorCode.INSUFFICIENT_BALANCE, {"balance": voucher.balance, "amount": amount}
    )


def get_redemption(brand_id: int, redemption_id: int) -> Redemption:
    query = scoped(Redemption, brand_id).where(Redemption.id == redemption_id)
    redemption = db.session.execute(query).scalar()
    if redemption is None:
        raise NotFound("No such redemption.")
    return redemption


def void_redemption(brand_id: int, redemption_id: int, reason: str | None = None) -> Redemption:
    """Undo a mistaken redemption within VOID_WINDOW_SECONDS: the voucher or balance comes back."""
    window = timedelta(seconds=current_app.config["VOID_WINDOW_SECONDS"])
    with write_transaction() as session:
        redemption = get_redemption(brand_id, redemption_id)
        now = utcnow()
        if redemption.voided_at is not None:
            raise VoucherConflict(VoucherErrorCode.ALREADY_VOIDED)
        if redemption.created_at < now - window:
            raise VoucherConflict(VoucherErrorCode.VOID_WINDOW_CLOSED)
        result = session.execute(
            update(Redemption)
            .where(Redemption.id == redemption.id, Redemption.voided_at.is_(None))
            .values(voided_at=now, void_reason=reason)
            .execution_options(synchronize_session=False)
        )
        if result.rowcount != 1:
            raise VoucherConflict(VoucherErrorCode.ALREADY_VOIDED)
        voucher = redemption.voucher
        if voucher.offer.kind == OfferKind.GIFT_CARD:
            restore = update(Voucher).values(
                balance=Voucher.balance + redemption.amount,
                status=case(
                    (Voucher.status == VoucherStatus.REDEEMED, VoucherStatus.ISSUED), else_=Voucher.status
                ),
            )
        else:
            restore = (
                update(Voucher)
                .where(Voucher.status == VoucherStatus.REDEEMED)
                .values(status=VoucherStatus.ISSUED, redeemed_at=None)
            )
        session.execute(restore.where(Voucher.id == voucher.id).execution_options(synchronize_session=False))
        session.refresh(redemption)
        session.refresh(voucher)
        record_audit(
            brand_id,
            "redemption.voided",
            "redemption",
            redemption.id,
            {"voucher": voucher.code, "amount": redemption.amount, "reason": reason},
        )
    return redemption


def void_voucher(brand_id: int, presented: str, reason: str | None = None) -> Voucher:
    """Cancel an unused voucher for good (a mistaken issue, a refund)."""
    with write_transaction() as session:
        voucher = find_voucher(brand_id, presented)
        if voucher.status == VoucherStatus.VOIDED:
            raise VoucherConflict(VoucherErrorCode.ALREADY_VOIDED)
        result = session.execute(
            update(Voucher)
            .where(Voucher.id == voucher.id, Voucher.status == VoucherStatus.ISSUED)
            .values(status=VoucherStatus.VOIDED, voided_at=utcnow())
            .execution_options(synchronize_session=False)
        )
        if result.rowcount != 1:
            raise _lost_race(voucher, None)
        session.refresh(voucher)
        record_audit(brand_id, "voucher.voided", "voucher", voucher.code, {"reason": reason})
    return voucher
