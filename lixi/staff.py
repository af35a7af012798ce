"""Staff accounts: brand admins and merchant staff, their passwords and the stores they work at."""

from __future__ import annotations

from flask import current_app
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from werkzeug.security import check_password_hash, generate_password_hash

from lixi.audit import record_audit, stamp_once
from lixi.database import write_transaction
from lixi.errors import DomainError, ErrorCode, NotFound, invalid_field
from lixi.extensions import db
from lixi.merchants import merchant_ids_of_brand
from lixi.models import Merchant, StaffRole, StaffUser, scoped

# Checked when the email is unknown, so a wrong email costs the same time as a wrong password.
_DUMMY_PASSWORD_HASH = generate_password_hash("not a real password")


def normalize_email(email: str) -> str:
    return email.strip().lower()


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
        raise DomainError(ErrorCode.EMAIL_TAKEN, 409, "An account with this email exists.") from None
    return user


def list_staff(brand_id: int) -> list[StaffUser]:
    return list(db.session.execute(scoped(StaffUser, brand_id).order_by(StaffUser.id)).scalars())


def get_staff(brand_id: int, staff_id: int) -> StaffUser:
    user = db.session.execute(scoped(StaffUser, brand_id).where(StaffUser.id == staff_id)).scalar()
    if user is None:
        raise NotFound("No such staff account.")
    return user


def load_staff(staff_id: int) -> StaffUser | None:
    """For Flask-Login's session loader: an enabled account, or None (the session ends)."""
    user = db.session.get(StaffUser, staff_id)
    return user if user is not None and user.is_active else None


def authenticate(email: str, password: str, role: str | None = None) -> StaffUser | None:
    """The enabled account with this email and password (and role, if given), else None."""
    user = db.session.execute(
        select(StaffUser).where(func.lower(StaffUser.email) == normalize_email(email))
    ).scalar()
    matches = check_password_hash(user.password_hash if user else _DUMMY_PASSWORD_HASH, password)
    if user is None or not matches or not user.is_active or (role and user.role != role):
        return None
    return user


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
        changes = {"merchant_ids": wanted, "password_changed": password is not None}
        record_audit(brand_id, "staff.updated", "staff_user", user.id, changes)
    return user


def disable_staff(brand_id: int, staff_id: int) -> StaffUser:
    """The account can no longer log in; its open sessions end at their next request."""
    user = get_staff(brand_id, staff_id)
    stamp_once(user, "disabled_at", "staff.disabled", "staff_user", {"email": user.email})
    return user
