"""The member card: a signed QR the member shows at the till, and finding a member by phone number."""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import url_for

from lixi.contacts import members_with_contact, normalize_phone
from lixi.errors import NotFound
from lixi.extensions import db
from lixi.models import Member
from lixi.signing import BadData, sign, unsign
from vouchers.schemas import base_url

CARD_PURPOSE = "member-card"
CARD_PATH = "/m/"  # the card's URL is <base>/m/<token>: the merchant's scanner tells it by this path
NOT_A_MEMBER = "No member with this card or phone number."
MAX_MATCHES = 10  # members sharing one phone number that the till lists to choose from


def member_card_token(member: Member) -> str:
    """The card's token: like a voucher's, signed and without expiry (a card is printed or saved)."""
    return sign({"b": member.brand_id, "m": member.id}, CARD_PURPOSE)


def member_card_url(member: Member) -> str:
    """What the card's QR holds; a phone camera opens the card's public page."""
    return base_url() + url_for("loyalty_pages.member_card", token=member_card_token(member))


def card_token_of(presented: str) -> str:
    """The token in what was scanned or typed: the card's URL (…/m/<token>) or the bare token."""
    text = presented.strip()
    path = urlsplit(text).path if "://" in text else text
    if path.startswith(CARD_PATH):
        path = path[len(CARD_PATH) :]
    return path.strip("/")


def read_member_card(token: str) -> tuple[int, int] | None:
    """(brand id, member id) of a genuine card token, else None."""
    try:
        data = unsign(token, CARD_PURPOSE)
        return int(data["b"]), int(data["m"])
    except (BadData, KeyError, TypeError, ValueError):
        return None


def member_of_card(token: str) -> Member | None:
    """The member of a genuine card token (their own brand's), else None."""
    found = read_member_card(token)
    member = db.session.get(Member, found[1]) if found else None
    return member if member is not None and found is not None and member.brand_id == found[0] else None


def open_member_card(brand_id: int, presented: str) -> Member:
    """The brand's member whose card this is; a forged card and another brand's card are one 404."""
    found = read_member_card(card_token_of(presented))
    if found is None or found[0] != brand_id:
        raise NotFound(NOT_A_MEMBER)
    member = db.session.get(Member, found[1])
    if member is None or member.brand_id != brand_id:
        raise NotFound(NOT_A_MEMBER)
    return member


def members_by_phone(brand_id: int, typed: str) -> list[Member]:
    """The brand's members with this phone number (usually one); 404 when none or not a number."""
    e164 = normalize_phone(typed)
    if e164 is None:
        raise NotFound(NOT_A_MEMBER)
    members = members_with_contact(brand_id, None, e164, MAX_MATCHES)
    if not members:
        raise NotFound(NOT_A_MEMBER)
    return members


def find_members(brand_id: int, presented: str) -> list[Member]:
    """What the cashier scanned or typed: a member card (one member) or a phone number (maybe several)."""
    if read_member_card(card_token_of(presented)) is not None:
        return [open_member_card(brand_id, presented)]
    return members_by_phone(brand_id, presented)


def masked_phone(phone: str | None) -> str:
    """The last three digits only, for the till's screen (the cashier need not read the number)."""
    digits = [c for c in phone or "" if c.isdigit()]
    return "•••• " + "".join(digits[-3:]) if len(digits) >= 3 else ""
