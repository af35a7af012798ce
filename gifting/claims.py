"""Claiming a gift: the claim page's first look (opened), the one-time code sent to the email or
phone a claim must prove, and the claim itself, exactly once however many people race for it."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import timedelta

from flask import current_app
from sqlalchemy import insert, select, update
from sqlalchemy.exc import IntegrityError

from gifting import delivery, events
from gifting.errors import GiftError, GiftErrorCode
from gifting.links import find_gift_by_token
from gifting.models import CLAIMABLE_STATUSES, Gift, GiftClaimCode, GiftEnvelope, GiftStatus
from gifting.service import gift_event, holder
from lixi.audit import acting_as, record_audit
from lixi.contacts import members_with_contact, normalize_email, normalize_phone
from lixi.database import write_transaction
from lixi.errors import NotFound, invalid_field
from lixi.extensions import db
from lixi.models import Brand
from lixi.outbox import publish
from lixi.timeutil import utcnow
from vouchers.holds import hand_over, take_from_held, void_held
from vouchers.models import Voucher
from vouchers.service import insert_vouchers

RECIPIENT = "recipient"  # the audit actor of what the claim page does (it has no account)
CODE_DIGITS = 6
RECIPIENT_CODE = "recipient"  # the code row of a single gift: one code for all its addresses


def open_gift(token: str) -> Gift:
    """The gift of a claim link; the first look marks it opened (gift.opened, once). 404 otherwise."""
    gift = find_gift_by_token(token)
    if gift is None:
        raise NotFound("This gift link is not valid.")
    if gift.status == GiftStatus.SENT:
        with write_transaction(), acting_as(RECIPIENT):
            now = utcnow()
            opened = db.session.execute(
                update(Gift)
                .where(Gift.id == gift.id, Gift.status == GiftStatus.SENT)
                .values(status=GiftStatus.OPENED, opened_at=now)
                .execution_options(synchronize_session=False)
            ).rowcount
            if opened == 1:
                gift.status, gift.opened_at = GiftStatus.OPENED, now
                record_audit(gift.brand_id, events.GIFT_OPENED, "gift", gift.id)
                publish(gift.brand_id, events.GIFT_OPENED, gift_event(gift))
        db.session.refresh(gift)
    return gift


def needs_code(gift: Gift) -> bool:
    """A gift addressed to an email or phone is claimed by proving it; a lì xì by each claimer's own."""
    return gift.is_split or bool(gift.recipient_email or gift.recipient_phone)


def normal_contact(typed: str | None) -> str:
    """Who claims, as one key per person: an email lower-cased whole (mail providers ignore the
    case of the local part, so An@ and an@ are one person here) or a phone in E.164; 422 otherwise."""
    text = (typed or "").strip()
    normal = normalize_email(text) if "@" in text else normalize_phone(text)
    if not normal:
        raise invalid_field("contact", "Enter an email address or a phone number.")
    return normal.lower()


def masked(contact: str) -> str:
    """Enough of the address to recognise it: t***@example.com, +84 9** *** 678."""
    if "@" in contact:
        name, domain = contact.split("@", 1)
        return f"{name[:1]}***@{domain}"
    return f"{contact[:4]}{'*' * (len(contact) - 7)}{contact[-3:]}"


def _code_hash(gift_id: int, contact: str, code: str) -> str:
    key = current_app.config["SECRET_KEYS"][0].encode()
    return hmac.new(key, f"{gift_id}:{contact}:{code}".encode(), hashlib.sha256).hexdigest()


def request_claim_code(gift: Gift, contact: str | None = None) -> str:
    """Send a fresh code (the previous one for this address dies) and say where, masked: a lì xì's
    to the claimer's `contact`, a single gift's to each of its addresses."""
    _refuse_unclaimable(gift)
    if gift.is_split:
        target = normal_contact(contact)
        addresses = [target]
        if _envelope_of(gift.id, target) is not None:
            raise GiftError(GiftErrorCode.ENVELOPE_TAKEN)
    else:
        # One code, sent to every address the gift has: a recipient reached by a corrected phone
        # can claim although the email typed first was wrong.
        target = RECIPIENT_CODE
        addresses = [a for a in (gift.recipient_email, gift.recipient_phone) if a]
        if not addresses:
            raise invalid_field("contact", "This gift needs no code.")
    config = current_app.config
    code = f"{secrets.randbelow(10**CODE_DIGITS):0{CODE_DIGITS}d}"
    now = utcnow()
    values = {
        "code_hash": _code_hash(gift.id, target, code),
        "tries": 0,
        "created_at": now,
        "expires_at": now + timedelta(minutes=config["GIFT_CODE_MINUTES"]),
        "used_at": None,
    }
    with write_transaction(), acting_as(RECIPIENT):
        brand = db.session.get(Brand, gift.brand_id)
        assert brand is not None
        renewed = db.session.execute(
            update(GiftClaimCode)
            .where(
                GiftClaimCode.gift_id == gift.id,
                GiftClaimCode.contact == target,
                GiftClaimCode.sent_count < config["GIFT_CODE_SENDS"],
            )
            .values(sent_count=GiftClaimCode.sent_count + 1, **values)
            .execution_options(synchronize_session=False)
        ).rowcount
        if not renewed:
            exists = db.session.execute(
                select(GiftClaimCode.id).where(
                    GiftClaimCode.gift_id == gift.id, GiftClaimCode.contact == target
                )
            ).first()
            if exists:
                raise GiftError(GiftErrorCode.TOO_MANY_CODES)
            db.session.execute(insert(GiftClaimCode), [{"gift_id": gift.id, "contact": target, **values}])
        for address in addresses:
            delivery.send_code(gift, brand, address, code, config["GIFT_CODE_MINUTES"])
    return ", ".join(masked(address) for address in addresses)


def _check_code(gift: Gift, contact: str, code: str | None) -> int:
    """The id of the live code row this code matches; a wrong try is counted (and committed) first."""
    if not code:
        raise GiftError(GiftErrorCode.CODE_REQUIRED)
    row = db.session.execute(
        select(GiftClaimCode).where(GiftClaimCode.gift_id == gift.id, GiftClaimCode.contact == contact)
    ).scalar()
    tries = current_app.config["GIFT_CODE_TRIES"]
    if row is None or row.used_at is not None:
        raise GiftError(GiftErrorCode.CODE_INVALID, details={"tries_left": 0})
    if row.tries >= tries:
        raise GiftError(GiftErrorCode.CODE_LOCKED)
    if row.expires_at <= utcnow():
        raise GiftError(GiftErrorCode.CODE_EXPIRED)
    if hmac.compare_digest(row.code_hash, _code_hash(gift.id, contact, code.strip())):
        return row.id
    with write_transaction():
        db.session.execute(
            update(GiftClaimCode)
            .where(GiftClaimCode.id == row.id, GiftClaimCode.code_hash == row.code_hash)
            .values(tries=GiftClaimCode.tries + 1)
            .execution_options(synchronize_session=False)
        )
    left = tries - row.tries - 1
    if left <= 0:
        raise GiftError(GiftErrorCode.CODE_LOCKED)
    raise GiftError(GiftErrorCode.CODE_INVALID, details={"tries_left": left})


def _use_code(code_id: int) -> None:
    """Spend the code inside the claim's transaction: of two claims with one code, one gets it."""
    used = db.session.execute(
        update(GiftClaimCode)
        .where(GiftClaimCode.id == code_id, GiftClaimCode.used_at.is_(None))
        .values(used_at=utcnow())
        .execution_options(synchronize_session=False)
    ).rowcount
    if used != 1:
        raise GiftError(GiftErrorCode.CODE_INVALID, details={"tries_left": 0})


def _refuse_unclaimable(gift: Gift) -> None:
    if gift.status == GiftStatus.SCHEDULED:
        raise GiftError(GiftErrorCode.NOT_SENT_YET)
    if gift.status == GiftStatus.CLAIMED:
        code = GiftErrorCode.ENVELOPES_EMPTY if gift.is_split else GiftErrorCode.GIFT_CLAIMED
        raise GiftError(code)
    if gift.status not in CLAIMABLE_STATUSES or (gift.expires_at is not None and gift.expires_at <= utcnow()):
        raise GiftError(GiftErrorCode.GIFT_CLOSED)


def _recipient_member_id(brand_id: int, email: str | None, phone: str | None) -> int | None:
    """The brand's (oldest) member with the proven email or phone, if any."""
    members = members_with_contact(brand_id, email, phone, 1)
    return members[0].id if members else None


def claim_gift(gift: Gift, code: str | None = None) -> Voucher:
    """Hand a single gift's voucher to its recipient under a new code: once, whoever races."""
    if gift.is_split:
        raise invalid_field(
            "contact", "Each envelope of a lì xì is claimed with the claimer's own email or phone."
        )
    _refuse_unclaimable(gift)
    contact = gift.recipient_email or gift.recipient_phone
    code_id = _check_code(gift, RECIPIENT_CODE, code) if contact else None
    now = utcnow()
    with write_transaction(), acting_as(RECIPIENT):
        claimed = db.session.execute(
            update(Gift)
            .where(Gift.id == gift.id, Gift.status.in_(CLAIMABLE_STATUSES), Gift.expires_at > now)
            .values(status=GiftStatus.CLAIMED, claimed_at=now, claimed_voucher_id=gift.voucher_id)
            .execution_options(synchronize_session=False)
        ).rowcount
        if claimed != 1:
            db.session.refresh(gift)
            _refuse_unclaimable(gift)
            raise GiftError(GiftErrorCode.GIFT_CLAIMED)
        if code_id is not None:
            _use_code(code_id)
        member_id = _recipient_member_id(gift.brand_id, gift.recipient_email, gift.recipient_phone)
        new_code = hand_over(gift.voucher_id, holder(gift.id), member_id)
        if new_code is None:  # the hold is the gift's while it is open: this would be a bug
            raise RuntimeError(f"gift {gift.id} did not hold its voucher")
        db.session.execute(
            update(Gift)
            .where(Gift.id == gift.id)
            .values(recipient_member_id=member_id)
            .execution_options(synchronize_session=False)
        )
        db.session.refresh(gift)
        voucher = db.session.get(Voucher, gift.voucher_id)
        assert voucher is not None
        db.session.refresh(voucher)
        brand = db.session.get(Brand, gift.brand_id)
        assert brand is not None
        addresses = [a for a in (gift.recipient_email, gift.recipient_phone) if a]
        delivery.send_voucher(gift, brand, addresses, voucher, voucher.balance)
        record_audit(gift.brand_id, events.GIFT_CLAIMED, "gift", gift.id, {"member_id": member_id})
        publish(
            gift.brand_id, events.GIFT_CLAIMED, gift_event(gift, voucher_code=new_code, member_id=member_id)
        )
    return voucher


def _envelope_of(gift_id: int, contact: str) -> GiftEnvelope | None:
    query = select(GiftEnvelope).where(
        GiftEnvelope.gift_id == gift_id, GiftEnvelope.claimer_contact == contact
    )
    return db.session.execute(query).scalar()


def claim_envelope(gift: Gift, contact: str, code: str | None, name: str | None = None) -> GiftEnvelope:
    """Open the next envelope of a lì xì for a proven email or phone: each envelope once, each person
    once. The amount moves from the held gift card into a new gift card of the claimer's."""
    if not gift.is_split:
        raise invalid_field("contact", "This gift is not a lì xì.")
    who = normal_contact(contact)
    _refuse_unclaimable(gift)
    if _envelope_of(gift.id, who) is not None:
        raise GiftError(GiftErrorCode.ENVELOPE_TAKEN)
    code_id = _check_code(gift, who, code)
    try:
        with write_transaction(), acting_as(RECIPIENT):
            _use_code(code_id)
            envelope = _take_an_envelope(gift, who, (name or "").strip()[:200] or None)
            _fill_envelope(gift, envelope, who)
    except IntegrityError as error:  # the same person won another envelope meanwhile
        raise GiftError(GiftErrorCode.ENVELOPE_TAKEN) from error
    db.session.refresh(envelope)
    return envelope


def _take_an_envelope(gift: Gift, who: str, name: str | None) -> GiftEnvelope:
    """The first unclaimed envelope, taken by a conditional UPDATE (retried when another claim took
    it first); their amounts were shuffled when the gift was made."""
    now = utcnow()
    while True:
        envelope_id = db.session.execute(
            select(GiftEnvelope.id)
            .where(GiftEnvelope.gift_id == gift.id, GiftEnvelope.claimed_at.is_(None))
            .order_by(GiftEnvelope.position)
            .limit(1)
        ).scalar()
        if envelope_id is None:
            raise GiftError(GiftErrorCode.ENVELOPES_EMPTY)
        taken = db.session.execute(
            update(GiftEnvelope)
            .where(GiftEnvelope.id == envelope_id, GiftEnvelope.claimed_at.is_(None))
            .values(claimed_at=now, claimer_contact=who, claimer_name=name)
            .execution_options(synchronize_session=False)
        ).rowcount
        if taken == 1:
            envelope = db.session.get(GiftEnvelope, envelope_id)
            assert envelope is not None
            db.session.refresh(envelope)
            return envelope


def _fill_envelope(gift: Gift, envelope: GiftEnvelope, who: str) -> None:
    """Move the envelope's amount into a new voucher; the last envelope completes the gift."""
    left = take_from_held(gift.voucher_id, holder(gift.id), envelope.amount)
    if left is None:  # the gift is closed (returned, cancelled) under us
        raise GiftError(GiftErrorCode.GIFT_CLOSED)
    brand = db.session.get(Brand, gift.brand_id)
    assert brand is not None
    member_id = _recipient_member_id(gift.brand_id, *((who, None) if "@" in who else (None, who)))
    voucher = insert_vouchers(brand, gift.offer, 1, member_id, "gift", balance=envelope.amount)[0]
    delivery.send_voucher(gift, brand, [who], voucher, envelope.amount)
    db.session.execute(
        update(GiftEnvelope)
        .where(GiftEnvelope.id == envelope.id)
        .values(voucher_id=voucher.id, claimer_member_id=member_id)
        .execution_options(synchronize_session=False)
    )
    details = {"position": envelope.position, "amount": envelope.amount, "member_id": member_id}
    record_audit(gift.brand_id, events.ENVELOPE_CLAIMED, "gift", gift.id, details)
    publish(gift.brand_id, events.GIFT_CLAIMED, gift_event(gift, envelope=details, voucher_code=voucher.code))
    if left == 0:
        db.session.execute(
            update(Gift)
            .where(Gift.id == gift.id, Gift.status.in_(CLAIMABLE_STATUSES))
            .values(status=GiftStatus.CLAIMED, claimed_at=utcnow())
            .execution_options(synchronize_session=False)
        )
        void_held(gift.voucher_id, holder(gift.id))  # an empty gift card: nothing left to hold
