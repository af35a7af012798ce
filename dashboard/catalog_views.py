"""Dashboard pages for what a brand offers and where: offers, stores, staff, and bulk issues."""

from __future__ import annotations

from typing import Any

from flask import Response, g, jsonify, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _

from dashboard.access import admin_blueprint, csv_response, current_brand
from dashboard.forms import FormErrors, FormPage, integer, load_form, saved, text
from lixi import merchants, staff
from lixi.auth import keep_this_session
from lixi.errors import DomainError, ErrorCode
from lixi.models import Merchant, StaffUser
from lixi.schemas import MerchantInSchema, StaffInSchema, parse_id, parse_ids
from vouchers import bulk, offers
from vouchers.models import BulkIssue
from vouchers.schemas import OfferInSchema, base_url

bp = admin_blueprint("dashboard_catalog", __name__)


# --- offers ----------------------------------------------------------------------------------


def _offer_form() -> dict[str, Any]:
    return {
        "name": text("name"),
        "kind": request.form.get("kind"),
        "value": integer("value"),
        "max_discount": integer("max_discount"),
        "min_bill": integer("min_bill"),
        "valid_days": integer("valid_days"),
        "valid_until": request.form.get("valid_until") or None,
        "merchant_ids": parse_ids(request.form.getlist("merchant_ids")),
        "terms": text("terms") or None,
    }


def _offer_changes() -> dict[str, Any]:
    """The edit form as changes: emptied optional fields are cleared; the name stays required."""
    data = {k: v for k, v in _offer_form().items() if k in offers.EDITABLE_FIELDS}
    cleared = {k: None for k, v in data.items() if v is None and k != "name"}
    cleaned = load_form(OfferInSchema(only=offers.EDITABLE_FIELDS, partial=("merchant_ids",)), data)
    return {**cleared, **cleaned, "merchant_ids": data["merchant_ids"]}


@bp.route("/offers", methods=["GET", "POST"])
def offers_page() -> ResponseReturnValue:
    """Offers (what a voucher is worth): the list, and a form for a new one."""
    page = FormPage("dashboard/offers.html")
    offer = page.submit(lambda: offers.create_offer(g.brand_id, load_form(OfferInSchema(), _offer_form())))
    if offer is not None:
        return saved(_("Offer “%(name)s” created.", name=offer.name), "dashboard_catalog.offers_page")
    every_offer = offers.list_offers(g.brand_id, include_archived=True)
    return page.render(offers=every_offer, stores=merchants.list_merchants(g.brand_id))


@bp.route("/offers/<int:offer_id>", methods=["GET", "POST"])
def offer_page(offer_id: int) -> ResponseReturnValue:
    """Edit an offer's name, terms, conditions, validity and stores."""
    page = FormPage("dashboard/offer.html")
    offer = offers.get_offer(g.brand_id, offer_id)
    if page.submit(lambda: offers.update_offer(g.brand_id, offer.id, _offer_changes())):
        return saved(_("Offer saved."), "dashboard_catalog.offers_page")
    return page.render(offer=offer, stores=merchants.list_merchants(g.brand_id))


# --- stores ------------------------------------------------------------------------------------


def _store_form() -> dict[str, Any]:
    return load_form(MerchantInSchema(), {"name": text("name"), "address": text("address")})


def _create_store(brand_id: int) -> Merchant:
    data = _store_form()
    return merchants.create_merchant(brand_id, data["name"], data.get("address"))


def _update_store(brand_id: int, merchant_id: int) -> Merchant:
    data = _store_form()
    return merchants.update_merchant(brand_id, merchant_id, data["name"], data.get("address"))


@bp.route("/stores", methods=["GET", "POST"])
def stores_page() -> ResponseReturnValue:
    """The brand's stores: the list, and a form for a new one."""
    page = FormPage("dashboard/stores.html")
    if page.submit(lambda: _create_store(g.brand_id)):
        return saved(_("Store added."), "dashboard_catalog.stores_page")
    return page.render(stores=merchants.list_merchants(g.brand_id))


@bp.route("/stores/<int:merchant_id>", methods=["GET", "POST"])
def store_page(merchant_id: int) -> ResponseReturnValue:
    """Rename a store or change its address."""
    page = FormPage("dashboard/store.html")
    store = merchants.get_merchant(g.brand_id, merchant_id)
    if page.submit(lambda: _update_store(g.brand_id, store.id)):
        return saved(_("Store saved."), "dashboard_catalog.stores_page")
    return page.render(store=store)


# --- staff -------------------------------------------------------------------------------------


def _create_staff(brand_id: int) -> StaffUser:
    form = {
        "email": text("email"),
        "password": request.form.get("password", ""),
        "name": text("name"),
        "role": request.form.get("role") or "merchant_staff",
        "merchant_ids": parse_ids(request.form.getlist("merchant_ids")),
    }
    data = load_form(StaffInSchema(), form)
    try:
        return staff.create_staff(
            brand_id, data["email"], data["password"], data["role"], data.get("name"), data["merchant_ids"]
        )
    except DomainError as error:
        if error.code != ErrorCode.EMAIL_TAKEN:
            raise
        raise FormErrors({"email": [_("An account with this email exists.")]}) from None


def _update_staff(brand_id: int, user: StaffUser) -> StaffUser:
    merchant_ids = parse_ids(request.form.getlist("merchant_ids"))
    password = request.form.get("password") or None
    staff.update_staff(brand_id, user.id, text("name") or None, merchant_ids, password)
    keep_this_session(user)  # a new password ends the account's other sessions, not this one
    return user


@bp.route("/staff", methods=["GET", "POST"])
def staff_page() -> ResponseReturnValue:
    """Staff accounts: cashiers bound to stores, and brand admins."""
    page = FormPage("dashboard/staff.html")
    if page.submit(lambda: _create_staff(g.brand_id)):
        return saved(_("Account created for %(email)s.", email=text("email")), "dashboard_catalog.staff_page")
    return page.render(staff=staff.list_staff(g.brand_id), stores=merchants.list_merchants(g.brand_id))


@bp.route("/staff/<int:staff_id>", methods=["GET", "POST"])
def staff_member_page(staff_id: int) -> ResponseReturnValue:
    """Rename an account, change its stores, or set a new password."""
    page = FormPage("dashboard/staff_member.html")
    user = staff.get_staff(g.brand_id, staff_id)
    if page.submit(lambda: _update_staff(g.brand_id, user)):
        return saved(_("Account saved."), "dashboard_catalog.staff_page")
    return page.render(user=user, stores=merchants.list_merchants(g.brand_id))


# --- bulk issues -------------------------------------------------------------------------------


def _start_bulk_issue(brand_id: int) -> BulkIssue:
    offer_id, count = parse_id(request.form.get("offer_id")), integer("count")
    if offer_id is None or count is None:
        raise FormErrors({"count": [_("Choose an offer and a number of vouchers.")]})
    return bulk.start_bulk_issue(brand_id, offer_id, count, g.actor)


@bp.route("/issues", methods=["GET", "POST"])
def bulk_page() -> ResponseReturnValue:
    """Issue up to 100,000 vouchers in the background, with progress and a CSV of codes."""
    page = FormPage("dashboard/issues.html")
    job = page.submit(lambda: _start_bulk_issue(g.brand_id))
    if job is not None:
        return redirect(url_for("dashboard_catalog.bulk_issue_page", bulk_id=job.id))
    return page.render(jobs=bulk.list_bulk_issues(g.brand_id), offers=offers.list_offers(g.brand_id))


@bp.get("/issues/<int:bulk_id>")
def bulk_issue_page(bulk_id: int) -> str:
    """One bulk issue: its progress bar (refreshed by the page) and, when done, the CSV."""
    job = bulk.get_bulk_issue(g.brand_id, bulk_id)
    return render_template("dashboard/issue.html", brand=current_brand(), job=job)


@bp.get("/issues/<int:bulk_id>/progress.json")
def bulk_issue_progress(bulk_id: int) -> Response:
    """A bulk issue's progress, for the bar the page refreshes."""
    job = bulk.get_bulk_issue(g.brand_id, bulk_id)
    return jsonify({"status": job.status, "issued": job.issued, "count": job.count, "error": job.error})


@bp.get("/issues/<int:bulk_id>/vouchers.csv")
def bulk_issue_csv(bulk_id: int) -> Response:
    """The codes and links of a bulk issue, streamed."""
    job = bulk.get_bulk_issue(g.brand_id, bulk_id)
    rows = bulk.bulk_csv_rows(g.brand_id, job.id, base_url())
    return csv_response(rows, f"lixi-vouchers-{job.batch_id}.csv")


# --- the lists' buttons: archive an offer or a store, disable an account (one service call each) ---


@bp.post("/offers/<int:offer_id>/archive")
def archive_offer(offer_id: int) -> Response:
    """Stop issuing an offer (issued vouchers stay valid)."""
    offer = offers.archive_offer(g.brand_id, offer_id)
    return saved(_("Offer “%(name)s” archived.", name=offer.name), "dashboard_catalog.offers_page")


@bp.post("/stores/<int:merchant_id>/archive")
def archive_store(merchant_id: int) -> Response:
    """Close a store: its staff can no longer redeem there."""
    merchants.archive_merchant(g.brand_id, merchant_id)
    return saved(_("Store archived."), "dashboard_catalog.stores_page")


@bp.post("/staff/<int:staff_id>/disable")
def disable_staff(staff_id: int) -> Response:
    """Lock an account out (its open sessions end at once)."""
    user = staff.disable_staff(g.brand_id, staff_id)
    return saved(_("%(email)s can no longer log in.", email=user.email), "dashboard_catalog.staff_page")
