"""Members: a brand's customers, upserted by the brand's external_id."""

from __future__ import annotations

from datetime import date

from sqlalchemy.exc import IntegrityError

from lixi.audit import record_audit
from lixi.database import write_transaction
from lixi.errors import NotFound
from lixi.extensions import db
from lixi.models import Member, scoped
from lixi.plugins import plugged

PROFILE_FIELDS = ("name", "phone", "email", "birthday", "subscribed")


def find_member(brand_id: int, external_id: str) -> Member | None:
    query = scoped(Member, brand_id).where(Member.external_id == external_id)
    return db.session.execute(query).scalar_one_or_none()


def get_member(brand_id: int, external_id: str) -> Member:
    member = find_member(brand_id, external_id)
    if member is None:
        raise NotFound("No such member.")
    return member


def upsert_member(
    brand_id: int, external_id: str, profile: dict[str, str | date | bool | None]
) -> tuple[Member, bool]:
    """Create the member or update the given fields; returns (member, created).

    The domains' member hooks run in the same transaction (loyalty ties a referral, for one)."""
    changes = {name: profile[name] for name in PROFILE_FIELDS if name in profile}
    try:
        with write_transaction():
            member = find_member(brand_id, external_id)
            created = member is None
            if member is None:
                member = Member(brand_id=brand_id, external_id=external_id)
                db.session.add(member)
            for name, value in changes.items():
                setattr(member, name, value)
            db.session.flush()
            action = "member.created" if created else "member.updated"
            data: dict = {"fields": sorted(changes)}
            if "subscribed" in changes:  # consent given or taken back: the record says which
                data["subscribed"] = changes["subscribed"]
            record_audit(brand_id, action, "member", member.id, data)
            for hook in plugged().member_hooks:
                hook(member, created, profile)
    except IntegrityError:
        # A concurrent upsert created the row first (PostgreSQL): update it instead.
        return upsert_member(brand_id, external_id, profile)
    return member, created


def ensure_member(brand_id: int, external_id: str) -> Member:
    """The member, created if new (audited, the domains' hooks run), inside the caller's write
    transaction: an event about a member the brand has not posted yet creates them in its own
    transaction rather than in one of their own before it."""
    member = find_member(brand_id, external_id)
    if member is not None:
        return member
    try:
        with db.session.begin_nested():  # a savepoint: a twin racing us (PostgreSQL) wins cleanly
            member = Member(brand_id=brand_id, external_id=external_id)
            db.session.add(member)
            db.session.flush()
    except IntegrityError:
        raced = find_member(brand_id, external_id)
        assert raced is not None
        return raced
    record_audit(brand_id, "member.created", "member", member.id, {"fields": []})
    for hook in plugged().member_hooks:
        hook(member, True, {})
    return member
