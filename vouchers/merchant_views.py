"""The merchant page (/merchant): staff log in, scan or type a voucher code, check, redeem, void.

Pages are server-rendered; the scanner script posts JSON to /merchant/api/* with the page's CSRF
token and gets back the verdict both as data and as a rendered card (so money, dates and words
come out of the same templates and translations as every other page).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from flask import Blueprint, Response, flash, jsonify, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_babel import refresh
from flask_login import current_user, login_required
from marshmallow import Schema, ValidationError

from lixi.auth import (
    act_for_staff,
    log_in_page,
    log_out_everywhere,
    login_per_account,
    login_per_ip,
    staff_actor,
)
from lixi.errors import DomainError, InvalidRequest, NotFound
from lixi.formatting import local_datetime, money
from lixi.forms import VoidForm
from lixi.idempotency import idempotent
from lixi.models import Brand, Merchant, StaffRole
from lixi.plugins import plugged
from lixi.ratelimit import is_code_lookup_failure, shared_limit_from
from lixi.schemas import parse_id
from lixi.staff import works_at
from vouchers import desk
from vouchers.errors import VoucherConflict, VoucherErrorCode
from vouchers.schemas import (
    CounterCheckInSchema,
    CounterRedeemInSchema,
    CounterRedemptionOutSchema,
    CounterVoucherOutSchema,
)

bp = Blueprint("merchant", __name__, url_prefix="/merchant")
bp.before_request(refresh)  # the locale is cached on the app context; each page picks its own

STORE_KEY = "merchant_id"
# Built once: a schema's fields are set up when it is made, and every scan needs these.
CHECK_IN = CounterCheckInSchema()
REDEEM_IN = CounterRedeemInSchema()
VOUCHER_OUT = CounterVoucherOutSchema()
REDEMPTION_OUT = CounterRedemptionOutSchema()


@bp.before_request
def _identify_staff() -> None:
    """The tenant and the actor of the audit trail, for the services and the idempotency keys."""
    if current_user.is_authenticated:
        act_for_staff(current_user)


def _staff_key() -> str:
    return staff_actor(current_user)


def _store_key() -> str:
    return f"store:{session.get(STORE_KEY)}"


# Guessing codes by hand: unknown codes (404) count per cashier and per store, on check and redeem.
failed_scans_per_staff = shared_limit_from(
    "RATE_LIMIT_FAILED_SCANS_PER_STAFF", "failed-scans-staff", _staff_key, deduct_when=is_code_lookup_failure
)
failed_scans_per_store = shared_limit_from(
    "RATE_LIMIT_FAILED_SCANS_PER_STORE", "failed-scans-store", _store_key, deduct_when=is_code_lookup_failure
)


def _load(schema: Schema) -> dict[str, Any]:
    try:
        # A JSON body is parsed strictly (unreadable: 400; a lone surrogate: 422 naming the field).
        return schema.load(request.get_json(silent=not request.is_json) or {})
    except ValidationError as error:
        raise InvalidRequest("Some fields are invalid.", {"fields": error.messages}) from None


def _current_store() -> Merchant | None:
    """The store this session acts for; a cashier of a single store needs no choice."""
    store = works_at(current_user, session.get(STORE_KEY))
    if store is None and len(current_user.merchants) == 1:
        store = current_user.merchants[0]
        session[STORE_KEY] = store.id
    return store


def _store_or_refuse() -> Merchant:
    store = _current_store()
    if store is None:
        raise DomainError(VoucherErrorCode.STORE_NOT_CHOSEN, 409, _("Choose your store first."))
    return store


@bp.route("/login", methods=["GET", "POST"])
@login_per_ip
@login_per_account
def login() -> Any:
    """Cashiers (and brand admins) log in to scan."""
    return log_in_page(
        "/merchant",
        "merchant.counter",
        (StaffRole.MERCHANT_STAFF, StaffRole.BRAND_ADMIN),
        _("Merchant log-in"),
        _("For store staff: scan and redeem vouchers."),
    )


@bp.post("/logout")
@login_required
def logout() -> Response:
    """Log out: every session of the account ends on the server (a saved cookie no longer works)."""
    log_out_everywhere()
    return redirect(url_for("merchant.login"))


@bp.get("")
@login_required
def counter() -> str:
    """The scanner, the manual entry and today's redemptions at the chosen store."""
    store = _current_store()
    brand = desk.staff_brand(current_user)
    stores = desk.stores_of(current_user)
    if store is None:
        return render_template("merchant/stores.html", brand=brand, stores=stores)
    today = desk.today_at_store(brand, store.id)
    return render_template(
        "merchant/counter.html",
        brand=brand,
        store=store,
        stores=stores,
        today=today,
        void_form=VoidForm(),
        scan_targets=_scan_targets(),
    )


def _scan_targets() -> list[dict[str, Any]]:
    """What else the scanner reads besides vouchers (a member card), from the domains' plugins."""
    return [
        {"prefix": t.path_prefix, "typed": t.typed, "url": url_for(t.endpoint), "label": str(t.label or "")}
        for t in plugged().scan_targets
    ]


@bp.post("/store")
@login_required
def choose_store() -> Response:
    """Act for one of the stores this member of staff works at (kept in the session)."""
    wanted = parse_id(request.form.get(STORE_KEY))
    if works_at(current_user, wanted) is None:
        raise NotFound("No such store.")
    session[STORE_KEY] = wanted
    return redirect(url_for("merchant.counter"))


@bp.post("/api/check")
@login_required
@failed_scans_per_staff
@failed_scans_per_store
def check() -> Response:
    """What the scanned code is worth here, and whether it can be redeemed (changes nothing)."""
    data = _load(CHECK_IN)
    store = _store_or_refuse()
    verdict = desk.check_at_store(current_user.brand_id, store.id, data["code"], data.get("bill_amount"))
    return _verdict_response(verdict, store, data)


@bp.post("/api/redeem")
@login_required
@failed_scans_per_staff
@failed_scans_per_store
@idempotent
def redeem() -> Response:
    """Redeem the checked code; the page sends an Idempotency-Key, so a double tap redeems once."""
    data = _load(REDEEM_IN)
    store = _store_or_refuse()
    try:
        redemption = desk.redeem_at_store(
            current_user,
            store.id,
            data["code"],
            data.get("amount"),
            data.get("bill_amount"),
            request.headers.get("Idempotency-Key"),
        )
    except VoucherConflict as refusal:
        verdict = desk.refused_verdict(
            current_user.brand_id, store.id, data["code"], data.get("bill_amount"), refusal
        )
        return _verdict_response(verdict, store, data, status=409)
    brand = desk.staff_brand(current_user)
    html = render_template("merchant/_redeemed.html", redemption=redemption, brand=brand)
    body = {
        "redeemed": True,
        "redemption": REDEMPTION_OUT.dump(redemption),
        "message": _("Redeemed: %(amount)s", amount=money(redemption.amount, brand.currency)),
        "html": html,
    }
    response = jsonify(body)
    response.status_code = 201
    return response


def _verdict_response(verdict: desk.Verdict, store: Merchant, data: dict, status: int = 200) -> Response:
    brand = desk.staff_brand(current_user)
    if verdict.refusal:
        message = refusal_message(verdict.refusal, brand)
    else:
        message = _("Valid at %(store)s", store=store.name)
    voucher = verdict.voucher
    html = render_template(
        "merchant/_verdict.html",
        verdict=verdict,
        voucher=voucher,
        offer=voucher.offer,
        brand=brand,
        message=message,
        presented=data["code"],
        bill_amount=data.get("bill_amount"),
    )
    body = {
        "valid": verdict.refusal is None,
        "reason": verdict.refusal.code if verdict.refusal else None,
        "message": message,
        "voucher": VOUCHER_OUT.dump(voucher),
        "amount": verdict.amount,
        "html": html,
    }
    response = jsonify(body)
    response.status_code = status
    return response


def refusal_message(refusal: VoucherConflict, brand: Brand) -> str:
    """Why the voucher cannot be used, in the cashier's words and language."""
    details = refusal.details or {}
    code = refusal.code
    if code == VoucherErrorCode.ALREADY_REDEEMED and details.get("redeemed_at"):
        when = local_datetime(datetime.fromisoformat(details["redeemed_at"]), brand.timezone)
        return _("Already redeemed at %(store)s on %(time)s.", store=details["merchant_name"], time=when)
    if code == VoucherErrorCode.ALREADY_REDEEMED:
        return _("Already redeemed.")
    if code == VoucherErrorCode.EXPIRED and details.get("expired_at"):
        when = local_datetime(datetime.fromisoformat(details["expired_at"]), brand.timezone)
        return _("Expired on %(time)s.", time=when)
    if code == VoucherErrorCode.EXPIRED:
        return _("Expired.")
    if code == VoucherErrorCode.VOIDED:
        return _("This voucher was cancelled by the brand.")
    if code == VoucherErrorCode.NOT_VALID_HERE:
        return _("Not valid at this store.")
    if code == VoucherErrorCode.MIN_BILL_NOT_MET:
        minimum = money(details.get("min_bill"), brand.currency)
        return _("Minimum bill not met: the bill must be at least %(amount)s.", amount=minimum)
    if code == VoucherErrorCode.INSUFFICIENT_BALANCE:
        balance = money(details.get("balance"), brand.currency)
        return _("Not enough balance: %(balance)s left.", balance=balance)
    return refusal.message


@bp.get("/today")
@login_required
def today() -> str:
    """Today's redemptions at the store (the page reloads this part after each redemption)."""
    brand = desk.staff_brand(current_user)
    store = _store_or_refuse()
    today = desk.today_at_store(brand, store.id)
    return render_template(
        "merchant/_today.html", brand=brand, store=store, today=today, void_form=VoidForm()
    )


@bp.post("/redemptions/<int:redemption_id>/void")
@login_required
def void(redemption_id: int) -> Response:
    """Undo a mistaken redemption at this store, within the void window, with a reason."""
    form = VoidForm()
    store = _store_or_refuse()
    if not form.validate_on_submit():
        flash(_("Say why you are voiding it (at least 3 characters)."), "error")
        return redirect(url_for("merchant.counter"))
    try:
        desk.void_at_store(current_user.brand_id, store.id, redemption_id, form.reason.data or "")
    except VoucherConflict as refusal:
        if refusal.code == VoucherErrorCode.VOID_WINDOW_CLOSED:
            flash(_("Too late to void this one: ask the brand."), "error")
        else:
            flash(_("This redemption was already voided."), "error")
        return redirect(url_for("merchant.counter"))
    flash(_("Voided. The voucher can be used again."), "ok")
    return redirect(url_for("merchant.counter"))
