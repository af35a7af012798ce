"""Streamed CSV exports of a brand's vouchers, redemptions, plays and members (any number of rows)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, datetime
from zoneinfo import ZoneInfo

from flask import current_app
from sqlalchemy import ColumnElement, Select, select
from sqlalchemy.orm import InstrumentedAttribute

from games.campaigns import get_campaign
from games.models import Campaign, Play, Prize
from lixi.errors import NotFound, invalid_field
from lixi.extensions import db
from lixi.models import Brand, Member, Merchant, StaffUser
from lixi.timeutil import utcnow
from vouchers.bulk import CsvChunks, keyset_pages
from vouchers.models import Offer, Redemption, Voucher, status_at
from vouchers.service import sign_voucher_code

EXPORT_KINDS = ("vouchers", "redemptions", "plays", "members")


def export_rows(
    brand_id: int,
    kind: str,
    campaign_id: int | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    base_url: str = "",
) -> Iterator[str]:
    """CSV text chunks (header first) of one kind of the brand's rows, a page at a time.

    `campaign_id` keeps the rows of one campaign (its plays, the vouchers they won, those
    vouchers' redemptions, the members who played); `since` (inclusive) and `until` (exclusive)
    bound each row's own time (issued, redeemed, played, joined). Arguments are checked now, so
    a bad kind or another brand's campaign fails before a response starts streaming.
    """
    if kind not in EXPORT_KINDS:
        raise invalid_field("kind", f"kind must be one of {', '.join(EXPORT_KINDS)}.")
    for name, value in (("since", since), ("until", until)):
        if value is not None and value.tzinfo is None:
            raise invalid_field(name, f"{name} needs a time zone.")
    if campaign_id is not None:
        get_campaign(brand_id, campaign_id)  # NotFound for another brand's
    brand = db.session.get(Brand, brand_id)
    if brand is None:
        raise NotFound("No such brand.")
    query, key, stamp = _QUERIES[kind](brand_id, campaign_id)
    if since is not None:
        query = query.where(stamp >= since)
    if until is not None:
        query = query.where(stamp < until)
    return _stream(kind, query, key, ZoneInfo(brand.timezone), base_url.rstrip("/"))


def filename(
    kind: str,
    campaign_id: int | None = None,
    since: date | datetime | None = None,
    until: date | datetime | None = None,
) -> str:
    """lixi-<kind>[-campaign-<id>][-from-<day>][-until-<day>]-<today>.csv (safe in a header)."""
    if kind not in EXPORT_KINDS:
        raise invalid_field("kind", f"kind must be one of {', '.join(EXPORT_KINDS)}.")
    parts = ["lixi", kind]
    if campaign_id is not None:
        parts.append(f"campaign-{int(campaign_id)}")
    if since is not None:
        parts.append(f"from-{since:%Y%m%d}")
    if until is not None:
        parts.append(f"until-{until:%Y%m%d}")
    parts.append(f"{utcnow():%Y%m%d}")
    return "-".join(parts) + ".csv"


def _stream(kind: str, query: Select, key: InstrumentedAttribute, zone: ZoneInfo, base: str) -> Iterator[str]:
    out = CsvChunks()
    out.writerow(_header(kind, query))
    yield out.take()
    now = utcnow()
    for page in keyset_pages(query, key, current_app.config["EXPORT_CHUNK_ROWS"]):
        if kind == "vouchers":
            for row in page:
                _key, code, status, *details = row
                expires_at = row.expires_at
                token = sign_voucher_code(code)
                status = status_at(status, expires_at, now)
                out.writerow((code, token, f"{base}/v/{token}", status, *details), zone)
        else:
            for row in page:
                out.writerow(row[1:], zone)  # the first column is the page key
        yield out.take()


def _header(kind: str, query: Select) -> list[str]:
    """The CSV header is the SELECT's column names (after the page key), so the two cannot drift
    apart; a voucher's token and link, made from its code, follow the code."""
    names = [column.name for column in query.selected_columns][1:]
    return [names[0], "token", "url", *names[1:]] if kind == "vouchers" else names


# Each kind: (a SELECT whose first column is the page key, then the file's columns, each named as
# its header; the key; the row's own time).
Query = tuple[Select, InstrumentedAttribute, ColumnElement]


def _of_campaign_plays(column: InstrumentedAttribute, brand_id: int, campaign_id: int) -> Select:
    """A column of the campaign's plays, for an IN (…) filter."""
    return select(column).where(
        Play.brand_id == brand_id, Play.campaign_id == campaign_id, column.is_not(None)
    )


def _vouchers(brand_id: int, campaign_id: int | None) -> Query:
    query = (
        select(
            Voucher.id.label("page_key"),
            Voucher.code,
            Voucher.status,
            Voucher.offer_id,
            Offer.name.label("offer"),
            Voucher.balance,
            Member.external_id.label("member_external_id"),
            Voucher.source,
            Voucher.batch_id,
            Voucher.issued_at,
            Voucher.expires_at,
            Voucher.redeemed_at,
            Voucher.voided_at,
        )
        .join(Offer, Offer.id == Voucher.offer_id)
        .outerjoin(Member, Member.id == Voucher.member_id)
        .where(Voucher.brand_id == brand_id)
    )
    if campaign_id is not None:
        query = query.where(Voucher.id.in_(_of_campaign_plays(Play.voucher_id, brand_id, campaign_id)))
    return query, Voucher.id, Voucher.issued_at


def _redemptions(brand_id: int, campaign_id: int | None) -> Query:
    query = (
        select(
            Redemption.id.label("page_key"),
            Redemption.id,
            Redemption.created_at,
            Voucher.code,
            Voucher.offer_id,
            Offer.name.label("offer"),
            Redemption.merchant_id,
            Merchant.name.label("merchant"),
            Redemption.amount,
            Redemption.bill_amount,
            Redemption.actor,
            StaffUser.email.label("staff_email"),
            Redemption.voided_at,
            Redemption.void_reason,
            Redemption.voided_by,
        )
        .join(Voucher, Voucher.id == Redemption.voucher_id)
        .join(Offer, Offer.id == Voucher.offer_id)
        .join(Merchant, Merchant.id == Redemption.merchant_id)
        .outerjoin(StaffUser, StaffUser.id == Redemption.staff_user_id)
        .where(Redemption.brand_id == brand_id)
    )
    if campaign_id is not None:
        won = _of_campaign_plays(Play.voucher_id, brand_id, campaign_id)
        query = query.where(Redemption.voucher_id.in_(won))
    return query, Redemption.id, Redemption.created_at


def _plays(brand_id: int, campaign_id: int | None) -> Query:
    query = (
        select(
            Play.id.label("page_key"),
            Play.id,
            Play.created_at,
            Play.campaign_id,
            Campaign.name.label("campaign"),
            Member.external_id.label("member_external_id"),
            Play.prize_id,
            Prize.label.label("prize"),
            Voucher.code.label("voucher_code"),
        )
        .join(Campaign, Campaign.id == Play.campaign_id)
        .join(Member, Member.id == Play.member_id)
        .outerjoin(Prize, Prize.id == Play.prize_id)
        .outerjoin(Voucher, Voucher.id == Play.voucher_id)
        .where(Play.brand_id == brand_id)
    )
    if campaign_id is not None:
        query = query.where(Play.campaign_id == campaign_id)
    return query, Play.id, Play.created_at


def _members(brand_id: int, campaign_id: int | None) -> Query:
    query = select(
        Member.id.label("page_key"),
        Member.external_id,
        Member.name,
        Member.phone,
        Member.email,
        Member.birthday,
        Member.tier,
        Member.created_at,
    ).where(Member.brand_id == brand_id)
    if campaign_id is not None:
        query = query.where(Member.id.in_(_of_campaign_plays(Play.member_id, brand_id, campaign_id)))
    return query, Member.id, Member.created_at


_QUERIES = {"vouchers": _vouchers, "redemptions": _redemptions, "plays": _plays, "members": _members}
