"""The member card at the till: the cashier scans the card (or types the phone number), enters the
bill and confirms; a purchase event is recorded by that cashier at that store and earns points and
plays by the same rules as the API (games.earning.record_event).

One confirmation is one event: the form carries a key made when it was drawn, and the event's
external_id is derived from it, so a double tap or a resubmitted page records the purchase once.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass

from flask import Blueprint, Response, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_babel import refresh
from flask_login import current_user, login_required

from games.earning import Refund, record_event
from games.models import Campaign, MemberEvent
from lixi.audit import record_audit
from lixi.auth import act_for_staff, staff_actor
from lixi.errors import NotFound
from lixi.extensions import db
from lixi.models import Brand, Member, Merchant, StaffUser
from lixi.ratelimit import shared_limit_from
from lixi.staff import works_at
from loyalty.events import TILL_PURCHASE
from loyalty.links import (
    card_token_of,
    find_members,
    masked_phone,
    member_card_token,
    open_member_card,
    read_member_card,
)
from loyalty.programme import find_programme
from loyalty.standing import MemberLoyalty, member_loyalty
from vouchers.merchant_views import STORE_KEY, failed_scans_per_staff, failed_scans_per_store

PURCHASE = "purchase"
MAX_BILL = 10**12  # a bill above a trillion đồng is a typo
MAX_KEY_LENGTH = 64

bp = Blueprint("loyalty_till", __name__, url_prefix="/merchant/members")
bp.before_request(refresh)


# --- the service ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class TillContext:
    """The till behind an event being recorded, for its audit row (see note_till_purchase)."""

    external_id: str
    merchant_id: int
    staff_user_id: int
    actor: str


_at_till: ContextVar[TillContext | None] = ContextVar("lixi_till_purchase", default=None)


@contextmanager
def _recording(context: TillContext) -> Iterator[None]:
    token = _at_till.set(context)
    try:
        yield
    finally:
        _at_till.reset(token)


def note_till_purchase(event: MemberEvent, member: Member, _refund: Refund | None) -> list[dict]:
    """An event earner (games.earning.add_event_earner) that earns nothing: inside the event's own
    transaction it audits who recorded it at which store, when the event came from the till."""
    context = _at_till.get()
    if context is not None and context.external_id == event.external_id:
        record_audit(
            event.brand_id,
            TILL_PURCHASE,
            "member_event",
            event.external_id,
            {
                "merchant_id": context.merchant_id,
                "staff_user_id": context.staff_user_id,
                "member_external_id": member.external_id,
                "amount": event.amount,
            },
            actor=context.actor,
        )
    return []


def till_event_id(merchant_id: int, member_id: int, key: str) -> str:
    """The purchase's external_id: one per confirmation key, member and store (fits the 100 characters)."""
    digest = hashlib.sha256(f"{merchant_id}|{member_id}|{key}".encode()).hexdigest()[:32]
    return f"till-{merchant_id}-{digest}"


@dataclass(frozen=True)
class TillPurchase:
    event: MemberEvent
    created: bool  # False: this confirmation was recorded before (a double submit)
    points: int  # available now
    pending_points: int  # waiting out the return window
    plays: list[tuple[Campaign, int]]
    vouchers: int  # vouchers the purchase gave (a referral's reward)


def record_till_purchase(
    user: StaffUser, store: Merchant, member: Member, amount: int, key: str
) -> TillPurchase:
    """Record the bill as the member's purchase, by this cashier at this store, once per key."""
    external_id = till_event_id(store.id, member.id, key)
    context = TillContext(external_id, store.id, user.id, staff_actor(user))
    with _recording(context):
        event, created = record_event(user.brand_id, member.external_id, PURCHASE, external_id, amount)
    grants = event.grants or []
    points = sum(g["points"] for g in grants if "points" in g and g.get("kind") != "pending")
    pending = sum(g["points"] for g in grants if "points" in g and g.get("kind") == "pending")
    plays = [
        (campaign, grant["plays"])
        for grant in grants
        if "campaign_id" in grant and grant.get("plays", 0) > 0
        for campaign in [db.session.get(Campaign, grant["campaign_id"])]
        if campaign is not None
    ]
    vouchers = sum(1 for grant in grants if "voucher" in grant)
    return TillPurchase(event, created, points, pending, plays, vouchers)


@dataclass(frozen=True)
class MemberAtTill:
    """What the cashier sees of a member: enough to greet them, not their contact details."""

    member: Member
    card_token: str
    phone: str
    loyalty: MemberLoyalty | None


def at_till(brand_id: int, member: Member) -> MemberAtTill:
    loyalty = member_loyalty(brand_id, member) if find_programme(brand_id) else None
    return MemberAtTill(member, member_card_token(member), masked_phone(member.phone), loyalty)


# --- the pages -----------------------------------------------------------------------------------


@bp.before_request
def _identify_staff() -> None:
    if current_user.is_authenticated:
        act_for_staff(current_user)


def _current_store() -> Merchant | None:
    """The store the cashier acts for (chosen on /merchant; a one-store cashier needs no choice)."""
    store = works_at(current_user, session.get(STORE_KEY))
    if store is None and len(current_user.merchants) == 1:
        store = current_user.merchants[0]
    return store


def _brand() -> Brand:
    brand = db.session.get(Brand, current_user.brand_id)
    assert brand is not None
    return brand


def _staff_key() -> str:
    return staff_actor(current_user)


def _store_key() -> str:
    store = _current_store()
    return f"store:{store.id if store else None}"


purchases_per_staff = shared_limit_from(
    "RATE_LIMIT_TILL_PURCHASES_PER_STAFF", "till-staff", _staff_key, methods=["POST"]
)
purchases_per_store = shared_limit_from(
    "RATE_LIMIT_TILL_PURCHASES_PER_STORE", "till-store", _store_key, methods=["POST"]
)


def _page(template: str, status: int = 200, **context: object) -> Response:
    html = render_template(template, brand=_brand(), store=_current_store(), **context)
    response = Response(html, status=status, mimetype="text/html")
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.get("")
@login_required
@failed_scans_per_staff
@failed_scans_per_store
def lookup() -> Response:
    """Find the member by a scanned card or a typed phone number, then take the bill."""
    store = _current_store()
    if store is None:
        return redirect(url_for("merchant.counter"))  # choose the store first
    code = (request.args.get("code") or "").strip()[:600]
    if not code:
        return _page("loyalty/till.html", code="", found=[], error=None)
    try:
        members = find_members(current_user.brand_id, code)
    except NotFound:
        # Counted by the failed-scan limits like an unknown voucher code: guessing is limited.
        return _page(
            "loyalty/till.html",
            404,
            code=code,
            found=[],
            error=_("No member with this card or phone number."),
        )
    found = [at_till(current_user.brand_id, member) for member in members]
    typed = "" if read_member_card(card_token_of(code)) else code  # a scanned card's URL is no help to show
    return _page("loyalty/till.html", code=typed, found=found, error=None, key=secrets.token_urlsafe(16))


def _bill(raw: str | None) -> int | None:
    """The bill as typed (digits, with the dots or commas people group them with), in đồng."""
    digits = (raw or "").strip().replace(".", "").replace(",", "").replace(" ", "")
    if not digits.isdigit() or len(digits) > 13:
        return None
    amount = int(digits)
    return amount if 0 < amount <= MAX_BILL else None


@bp.post("/purchases")
@login_required
@purchases_per_staff
@purchases_per_store
def purchase() -> Response:
    """Record the bill on the member's card; shows what the customer earned."""
    store = _current_store()
    if store is None:
        return redirect(url_for("merchant.counter"))
    member = open_member_card(current_user.brand_id, request.form.get("card", ""))
    key = (request.form.get("key") or "").strip()
    amount = _bill(request.form.get("amount"))
    if amount is None or not key or len(key) > MAX_KEY_LENGTH:
        found = [at_till(current_user.brand_id, member)]
        error = _("Enter the bill amount in đồng (digits only).")
        return _page(
            "loyalty/till.html", 422, code="", found=found, error=error, key=key or secrets.token_urlsafe(16)
        )
    result = record_till_purchase(current_user, store, member, amount, key)
    return _page(
        "loyalty/till_done.html",
        201 if result.created else 200,
        result=result,
        shown=at_till(current_user.brand_id, member),
    )
