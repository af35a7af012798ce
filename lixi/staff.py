"""Staff accounts: brand admins and merchant staff, their passwords, stores and sessions.

An account belongs to one brand: an email is unique within a brand, not across brands (brand B
creating an account for an email brand A uses learns nothing about A), so the log-in names the
brand. Sessions carry the account's `session_version` (see StaffUser.get_id): log-out, a new
password and disabling raise it, which ends every session of the account on the server.
"""

from __future__ import annotations

from flask import current_app
from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from werkzeug.security import check_password_hash, generate_password_hash

from lixi.audit import record_audit, stamp_once
from lixi.database import write_transaction
from lixi.errors import DomainError, ErrorCode, NotFound, invalid_field
from lixi.extensions import db
from lixi.merchants import merchant_ids_of_brand
from lixi.models import Brand, Merchant, StaffRole, StaffUser, scoped

# Checked when the brand or email is unknown, so either costs the same time as a wrong password.
_DUMMY_PASSWORD_HASH = generate_password_hash("not a real password")


def normalize_email(email: str) -> str:
    return email.strip().lower()


def normalize_slug(slug: str) -> str:
    return slug.strip().lower()


def _check_password(password: str) -> None:
    minimum = current_app.config["STAFF_MIN_PASSWORD_LENGTH"]
    if len(password) < minimum:
        raise invalid_field("password", f"Use at least {minimum} characters.")


def _stores_for(brand_id: int, role: str, merchant_ids: list[int]) -> list[Merchant]:
    """The brand's stores by id; merchant staff need at least one."""
    wanted = sorted(set(merchant_ids))
    if role == StaffRole.MERCHANT_STAFF and not wanted:
        raise invalid_field("merchant_ids", "Merchant staff work at one or more stores.")
    if merchant_ids_of_brand(brand_id, wanted) != wanted:
        raise invalid_field("merchant_ids", "Unknown merchants.")
    return list(
        db.session.execute(select(Merchant).where(Merchant.id.in_(wanted)).order_by(Merchant.id)).scalars()
    )


def create_staff(
    brand_id: int,
    email: str,
    password: str,
    role: str = StaffRole.MERCHANT_STAFF,
    name: str | None = None,
    merchant_ids: list[int] | None = None,
) -> StaffUser:
    """A staff account; merchant staff must work at one or more of the brand's stores."""
    _check_password(password)
    merchants = _stores_for(brand_id, role, merchant_ids or [])
    wanted = [m.id for m in merchants]
    try:
        with write_transaction() as session:
            user = StaffUser(
                brand_id=brand_id,
                email=normalize_email(email),
                name=name,
                role=role,
                password_hash=generate_password_hash(password),
                merchants=merchants,
            )
            session.add(user)
            session.flush()
            record_audit(
                brand_id, "staff.created", "staff_user", user.id, {"role": role, "merchant_ids": wanted}
            )
    except IntegrityError:
        # Only (brand_id, email) is unique: this says nothing about other brands' accounts.
        raise DomainError(ErrorCode.EMAIL_TAKEN, 409, "An account with this email exists.") from None
    return user


def list_staff(brand_id: int) -> list[StaffUser]:
    return list(db.session.execute(scoped(StaffUser, brand_id).order_by(StaffUser.id)).scalars())


def get_staff(brand_id: int, staff_id: int) -> StaffUser:
    user = db.session.execute(scoped(StaffUser, brand_id).where(StaffUser.id == staff_id)).scalar()
    if user is None:
        raise NotFound("No such staff account.")
    return user


def load_staff(staff_id: int, session_version: int) -> StaffUser | None:
    """For Flask-Login's session loader: the enabled account, if the session was made under its
    current session version; else None (the session ends)."""
    user = db.session.get(StaffUser, staff_id)
    if user is None or not user.is_active or user.session_version != session_version:
        return None
    return user


def authenticate(brand_slug: str, email: str, password: str, role: str | None = None) -> StaffUser | None:
    """The enabled account of this brand with this email and password (and role, if given), else None.

    One query and one password-hash check whatever is wrong (brand, email or password), so
    neither the answer nor its timing tells whether an email has an account in some brand.
    """
    user = db.session.execute(
        select(StaffUser)
        .join(Brand, Brand.id == StaffUser.brand_id)
        .where(Brand.slug == normalize_slug(brand_slug))
        .where(func.lower(StaffUser.email) == normalize_email(email))
    ).scalar()
    matches = check_password_hash(user.password_hash if user else _DUMMY_PASSWORD_HASH, password)
    if user is None or not matches or not user.is_active or (role and user.role != role):
        return None
    return user


# Raising the session version ends every session cookie made before it (see StaffUser.get_id).
_NEXT_SESSION_VERSION = {"session_version": StaffUser.session_version + 1}


def _end_sessions(user_id: int) -> None:
    """Inside a write transaction: every session cookie made before this stops working."""
    db.session.execute(
        update(StaffUser)
        .where(StaffUser.id == user_id)
        .values(_NEXT_SESSION_VERSION)
        .execution_options(synchronize_session=False)
    )


def staff_actor(user: StaffUser) -> str:
    """How a staff member is named in the audit trail (and in redemptions' actor)."""
    return f"staff:{user.id}"


def log_out(user: StaffUser) -> None:
    """End every session of the account, this one and any other (a saved or copied cookie too)."""
    with write_transaction():
        _end_sessions(user.id)
        record_audit(user.brand_id, "staff.logged_out", "staff_user", user.id, actor=staff_actor(user))
    db.session.refresh(user)


def works_at(user: StaffUser, merchant_id: int | None) -> Merchant | None:
    """The store, if this member of staff may act there (brand admins: any store of the brand)."""
    if merchant_id is None:
        return None
    if user.role == StaffRole.BRAND_ADMIN:
        merchant = db.session.get(Merchant, merchant_id)
        return merchant if merchant is not None and merchant.brand_id == user.brand_id else None
    return next((m for m in user.merchants if m.id == merchant_id and m.archived_at is None), None)


def update_staff(
    brand_id: int, staff_id: int, name: str | None, merchant_ids: list[int], password: str | None = None
) -> StaffUser:
    """Rename an account, change the stores it works at, or set a new password."""
    user = get_staff(brand_id, staff_id)
    merchants = _stores_for(brand_id, user.role, merchant_ids)
    wanted = [m.id for m in merchants]
    if password is not None:
        _check_password(password)
    with write_transaction() as session:
        user.name = name
        user.merchants = merchants
        if password is not None:
            user.password_hash = generate_password_hash(password)
        session.add(user)
        session.flush()
        if password is not None:
            _end_sessions(user.id)  # whoever held the old password is logged out everywhere
        changes = {"merchant_ids": wanted, "password_changed": password is not None}
        record_audit(brand_id, "staff.updated", "staff_user", user.id, changes)
    db.session.refresh(user)
    return user


def disable_staff(brand_id: int, staff_id: int) -> StaffUser:
    """The account can no longer log in; its open sessions end at their next request (and stay
    ended: the session version moves too, so no old cookie works should the account come back)."""
    user = get_staff(brand_id, staff_id)
    stamp_once(
        user, "disabled_at", "staff.disabled", "staff_user", {"email": user.email}, also=_NEXT_SESSION_VERSION
    )
    return user
