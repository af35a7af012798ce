"""A voucher as validate and redeem read it: one Core SELECT of the columns the answer needs.

The hot paths decide on a snapshot and never change it (redeem's conditional UPDATE re-checks
in the database), so they load no ORM objects: no identity map, no relationship loaders, no
unit of work. Pages and services that edit a voucher keep the ORM entity
(vouchers.service.lookup_voucher). A snapshot has the attributes the rules (vouchers.rules)
and the voucher schemas read, under the same names.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Row, bindparam, exists, select

from lixi.database import read_row
from lixi.errors import NotFound
from lixi.extensions import db
from lixi.models import Member, Merchant
from vouchers.errors import invalid_field
from vouchers.models import Offer, Voucher, offer_merchants, status_at
from vouchers.service import UNKNOWN_CODE, code_from_input


@dataclass(frozen=True, slots=True)
class OfferTerms:
    kind: str
    value: int
    max_discount: int | None
    min_bill: int | None
    name: str


@dataclass(frozen=True, slots=True)
class Holder:
    external_id: str
    name: str | None


@dataclass(slots=True)
class VoucherSnapshot:
    id: int
    code: str
    status: str
    held_by: str | None
    offer_id: int
    balance: int | None
    issued_at: datetime
    expires_at: datetime | None
    redeemed_at: datetime | None
    offer: OfferTerms
    member: Holder | None

    def status_at(self, instant: datetime) -> str:
        return status_at(self.status, self.expires_at, instant)


_v, _o, _m = Voucher.__table__, Offer.__table__, Member.__table__
_VALID_HERE = (
    ~exists().where(offer_merchants.c.offer_id == _v.c.offer_id)
    | exists().where(
        offer_merchants.c.offer_id == _v.c.offer_id, offer_merchants.c.merchant_id == bindparam("merchant_id")
    )
).label("valid_here")
_MERCHANT_KNOWN = (
    exists()
    .where(Merchant.id == bindparam("merchant_id"), Merchant.brand_id == bindparam("brand_id"))
    .label("merchant_known")
)
# Built once (constructing a SELECT costs more than running it); the merchant checks ride along.
_SNAPSHOT = (
    select(
        _v.c.id,
        _v.c.code,
        _v.c.status,
        _v.c.held_by,
        _v.c.offer_id,
        _v.c.balance,
        _v.c.issued_at,
        _v.c.expires_at,
        _v.c.redeemed_at,
        _o.c.kind,
        _o.c.value,
        _o.c.max_discount,
        _o.c.min_bill,
        _o.c.name,
        _m.c.external_id,
        _m.c.name.label("member_name"),
    )
    .select_from(_v.join(_o, _o.c.id == _v.c.offer_id).outerjoin(_m, _m.c.id == _v.c.member_id))
    .where(_v.c.brand_id == bindparam("brand_id"))
)
_BY_CODE = _SNAPSHOT.where(_v.c.code == bindparam("code"))
_BY_CODE_AT_MERCHANT = _BY_CODE.add_columns(_VALID_HERE, _MERCHANT_KNOWN)
_BY_ID = _SNAPSHOT.where(_v.c.id == bindparam("voucher_id"))


def _snapshot(row: Row) -> VoucherSnapshot:
    (id_, code, status, held_by, offer_id, balance, issued_at, expires_at, redeemed_at) = row[:9]
    kind, value, max_discount, min_bill, offer_name, external_id, member_name = row[9:16]
    member = Holder(external_id, member_name) if external_id is not None else None
    offer = OfferTerms(kind, value, max_discount, min_bill, offer_name)
    return VoucherSnapshot(
        id_, code, status, held_by, offer_id, balance, issued_at, expires_at, redeemed_at, offer, member
    )


def snapshot_voucher(brand_id: int, presented: str, merchant_id: int | None) -> tuple[VoucherSnapshot, bool]:
    """The brand's voucher for a code, token or URL, and whether it is valid at `merchant_id`.

    404 for an unknown, forged or other brand's code; 422 for a merchant that is not the brand's.
    """
    code = code_from_input(presented)
    if code is None:
        raise NotFound(UNKNOWN_CODE)
    params = {"brand_id": brand_id, "code": code}
    if merchant_id is None:
        row = read_row(_BY_CODE, params)
        if row is None:
            raise NotFound(UNKNOWN_CODE)
        return _snapshot(row), True
    row = read_row(_BY_CODE_AT_MERCHANT, {**params, "merchant_id": merchant_id})
    if row is None:
        raise NotFound(UNKNOWN_CODE)
    if not row.merchant_known:
        raise invalid_field("merchant_id", "No such merchant.")
    return _snapshot(row), bool(row.valid_here)


def reread(voucher: VoucherSnapshot, brand_id: int) -> VoucherSnapshot:
    """The voucher as it is now (after a conditional UPDATE found it changed)."""
    row = db.session.connection().execute(_BY_ID, {"brand_id": brand_id, "voucher_id": voucher.id}).one()
    return _snapshot(row)
