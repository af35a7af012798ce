"""Phone numbers and email addresses as people type them: checked, normalised, and the brand's
members who have them (a gift claimed with a verified email or phone; the till's phone search)."""

from __future__ import annotations

import phonenumbers
from email_validator import EmailNotValidError, validate_email
from sqlalchemy import ColumnElement, func, or_

from lixi.extensions import db
from lixi.models import Member, scoped

PHONE_REGION = "VN"  # a number typed without a country code is Vietnamese (0912… = +84 912…)
EMAIL_LENGTH = 254


def normalize_phone(typed: str) -> str | None:
    """The number in E.164 (+84912345678) for a number typed any usual way, or None if it is not one."""
    if len(typed) > 40:
        return None
    try:
        number = phonenumbers.parse(typed, PHONE_REGION)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_valid_number(number):
        return None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def normalize_email(typed: str) -> str | None:
    """The address with its domain lower-cased (and IDNA-normalised), or None if it is not one.

    email-validator checks the syntax only: no DNS lookup, so a brand's tests and an offline
    machine behave alike, and a typo'd domain is the sender's to notice.
    """
    if len(typed) > EMAIL_LENGTH:
        return None
    try:
        return validate_email(typed.strip(), check_deliverability=False).normalized
    except EmailNotValidError:
        return None


def phone_spellings(e164: str) -> set[str]:
    """How a brand may have stored the number, separators aside: +84912…, 84912…, 0912…."""
    number = phonenumbers.parse(e164)
    spellings = {e164, e164.lstrip("+")}
    if number.country_code == phonenumbers.country_code_for_region(PHONE_REGION):
        spellings.add("0" + str(number.national_number))
    return spellings


def _bare(column):  # type: ignore[no-untyped-def]
    """The stored phone without the separators people type (spaces, dashes, dots, brackets)."""
    for separator in (" ", "-", ".", "(", ")"):
        column = func.replace(column, separator, "")
    return column


def has_phone(e164: str) -> ColumnElement[bool]:
    """A member whose stored phone is this number, however it was written."""
    spellings = phone_spellings(e164)
    return or_(Member.phone.in_(spellings), _bare(Member.phone).in_(spellings))


def members_with_contact(brand_id: int, email: str | None, phone: str | None, limit: int) -> list[Member]:
    """The brand's members with this (normalised) email or E.164 phone, oldest first."""
    conditions = []
    if email:
        conditions.append(func.lower(Member.email) == email.lower())
    if phone:
        conditions.append(has_phone(phone))
    if not conditions:
        return []
    query = scoped(Member, brand_id).where(or_(*conditions)).order_by(Member.id).limit(limit)
    return list(db.session.execute(query).scalars())
