"""Dashboard pages for what a brand offers and where: offers, stores, staff, and bulk issues."""

from __future__ import annotations

from typing import Any

from flask import (
    Response,
    flash,
    g,
    jsonify,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import gettext as _

from dashboard.access import (
    FormErrors,
    admin_blueprint,
    csv_response,
    current_brand,
    form_page,
    integer,
    load_form,
)
from lixi import merchants, staff
from lixi.auth import keep_this_session
from lixi.errors import DomainError, ErrorCode, InvalidRequest
from lixi.schemas import MerchantInSchema, StaffInSchema, parse_id, parse_ids
from vouchers import bulk, offers
from vouchers.schemas import OfferInSchema, base_url

bp = admin_blueprint("dashboard_catalog", __name__)


def _field_errors(error: InvalidRequest | FormErrors) -> dict[str, list[str]]:
    if isinstance(error, FormErrors):
        return error.fields
    return (error.details or {}).get("fields") or {"form": [error.message]}


# --- offers ----------------------------------------------------------------------------------


def _offer_form() -> dict[str, Any]:
    return {
        "name": request.form.get("name", "").strip(),
        "kind": request.form.get("kind"),
        "value": integer("value"),
        "max_discount": integer("max_discount"),
        "min_bill": integer("min_bill"),
        "valid_days": integer("valid_days"),
        "valid_until": request.form.get("valid_until") or None,
        "merchant_ids": parse_ids(request.form.getlist("merchant_ids")),
        "terms": request.form.get("terms", "").strip() or None,
    }


@bp.route("/offers", methods=["GET", "POST"])
def offers_page() -> Any:
    """Offers (what a voucher is worth): the list, and a form for a new one."""
    brand = current_brand()
    errors: dict[str, list[str]] = {}
    if request.method == "POST":
        try:
            offer = offers.create_offer(brand.id, load_form(OfferInSchema(), _offer_form()))
        except (FormErrors, InvalidRequest) as error:
            errors = _field_errors(error)
        else:
            flash(_("Offer “%(name)s” created.", name=offer.name), "ok")
            return redirect(url_for("dashboard_catalog.offers_page"))
    return form_page(
        "dashboard/offers.html",
        errors,
        brand=brand,
        offers=offers.list_offers(brand.id, include_archived=True),
        stores=merchants.list_merchants(brand.id),
    )


@bp.route("/offers/<int:offer_id>", methods=["GET", "POST"])
def offer_page(offer_id: int) -> Any:
    """Edit an offer's name, terms, conditions, validity and stores."""
    brand = current_brand()
    offer = offers.get_offer(brand.id, offer_id)
    errors: dict[str, list[str]] = {}
    if request.method == "POST":
        data = {k: v for k, v in _offer_form().items() if k in offers.EDITABLE_FIELDS}
        # Emptied optional fields are cleared; the name stays required.
        cleared = {k: None for k, v in data.items() if v is None and k != "name"}
        try:
            cleaned = load_form(OfferInSchema(only=offers.EDITABLE_FIELDS, partial=("merchant_ids",)), data)
            offers.update_offer(
                brand.id, offer.id, {**cleared, **cleaned, "merchant_ids": data["merchant_ids"]}
            )
        except (FormErrors, InvalidRequest) as error:
            errors = _field_errors(error)
        else:
            flash(_("Offer saved."), "ok")
            return redirect(url_for("dashboard_catalog.offers_page"))
    return form_page(
        "dashboard/offer.html",
        errors,
        brand=brand,
        offer=offer,
        stores=merchants.list_merchants(brand.id),
    )


@bp.post("/offers/<int:offer_id>/archive")
def archive_offer(offer_id: int) -> Response:
    """Stop issuing an offer (issued vouchers stay valid)."""
    offer = offers.archive_offer(g.brand_id, offer_id)
    flash(_("Offer “%(name)s” archived.", name=offer.name), "ok")
    return redirect(url_for("dashboard_catalog.offers_page"))


# --- stores ------------------------------------------------------------------------------------


@bp.route("/stores", methods=["GET", "POST"])
def stores_page() -> Any:
    """The brand's stores: the list, and a form for a new one."""
    brand = current_brand()
    errors: dict[str, list[str]] = {}
    if request.method == "POST":
        form = {
            "name": request.form.get("name", "").strip(),
            "address": request.form.get("address", "").strip(),
        }
        try:
            data = load_form(MerchantInSchema(), form)
            merchants.create_merchant(brand.id, data["name"], data.get("address"))
        except (FormErrors, InvalidRequest) as error:
            errors = _field_errors(error)
        else:
            flash(_("Store added."), "ok")
            return redirect(url_for("dashboard_catalog.stores_page"))
    return form_page(
        "dashboard/stores.html",
        errors,
        brand=brand,
        stores=merchants.list_merchants(brand.id),
    )


@bp.route("/stores/<int:merchant_id>", methods=["GET", "POST"])
def store_page(merchant_id: int) -> Any:
    """Rename a store or change its address."""
    brand = current_brand()
    store = merchants.get_merchant(brand.id, merchant_id)
    errors: dict[str, list[str]] = {}
    if request.method == "POST":
        form = {
            "name": request.form.get("name", "").strip(),
            "address": request.form.get("address", "").strip(),
        }
        try:
            data = load_form(MerchantInSchema(), form)
            merchants.update_merchant(brand.id, store.id, data["name"], data.get("address"))
        except (FormErrors, InvalidRequest) as error:
            errors = _field_errors(error)
        else:
            flash(_("Store saved."), "ok")
            return redirect(url_for("dashboard_catalog.stores_page"))
    return form_page("dashboard/store.html", errors, brand=brand, store=store)


@bp.post("/stores/<int:merchant_id>/archive")
def archive_store(merchant_id: int) -> Response:
    """Close a store: its staff can no longer redeem there."""
    merchants.archive_merchant(g.brand_id, merchant_id)
    flash(_("Store archived."), "ok")
    return redirect(url_for("dashboard_catalog.stores_page"))


# --- staff -------------------------------------------------------------------------------------


@bp.route("/staff", methods=["GET", "POST"])
def staff_page() -> Any:
    """Staff accounts: cashiers bound to stores, and brand admins."""
    brand = current_brand()
    errors: dict[str, list[str]] = {}
    if request.method == "POST":
        form = {
            "email": request.form.get("email", "").strip(),
            "password": request.form.get("password", ""),
            "name": request.form.get("name", "").strip(),
            "role": request.form.get("role") or "merchant_staff",
            "merchant_ids": parse_ids(request.form.getlist("merchant_ids")),
        }
        try:
            data = load_form(StaffInSchema(), form)
            staff.create_staff(
                brand.id,
                data["email"],
                data["password"],
                data["role"],
                data.get("name"),
                data["merchant_ids"],
            )
        except (FormErrors, InvalidRequest) as error:
            errors = _field_errors(error)
        except DomainError as error:
            if error.code != ErrorCode.EMAIL_TAKEN:
                raise
            errors = {"email": [_("An account with this email exists.")]}
        else:
            flash(_("Account created for %(email)s.", email=form["email"]), "ok")
            return redirect(url_for("dashboard_catalog.staff_page"))
    return form_page(
        "dashboard/staff.html",
        errors,
        brand=brand,
        staff=staff.list_staff(brand.id),
        stores=merchants.list_merchants(brand.id),
    )


@bp.route("/staff/<int:staff_id>", methods=["GET", "POST"])
def staff_member_page(staff_id: int) -> Any:
    """Rename an account, change its stores, or set a new password."""
    brand = current_brand()
    user = staff.get_staff(brand.id, staff_id)
    errors: dict[str, list[str]] = {}
    if request.method == "POST":
        try:
            staff.update_staff(
                brand.id,
                user.id,
                request.form.get("name", "").strip() or None,
                parse_ids(request.form.getlist("merchant_ids")),
                request.form.get("password") or None,
            )
        except InvalidRequest as error:
            errors = _field_errors(error)
        else:
            keep_this_session(user)  # a new password ends the account's other sessions, not this one
            flash(_("Account saved."), "ok")
            return redirect(url_for("dashboard_catalog.staff_page"))
    return form_page(
        "dashboard/staff_member.html",
        errors,
        brand=brand,
        user=user,
        stores=merchants.list_merchants(brand.id),
    )


@bp.post("/staff/<int:staff_id>/disable")
def disable_staff(staff_id: int) -> Response:
    """Lock an account out (its open sessions end at once)."""
    user = staff.disable_staff(g.brand_id, staff_id)
    flash(_("%(email)s can no longer log in.", email=user.email), "ok")
    return redirect(url_for("dashboard_catalog.staff_page"))


# --- bulk issues -------------------------------------------------------------------------------


@bp.route("/issues", methods=["GET", "POST"])
def bulk_page() -> Any:
    """Issue up to 100,000 vouchers in the background, with progress and a CSV of codes."""
    brand = current_brand()
    errors: dict[str, list[str]] = {}
    if request.method == "POST":
        try:
            offer_id, count = parse_id(request.form.get("offer_id")), integer("count")
            if offer_id is None or count is None:
                raise FormErrors({"count": [_("Choose an offer and a number of vouchers.")]})
            job = bulk.start_bulk_issue(brand.id, offer_id, count, g.actor)
        except (FormErrors, InvalidRequest) as error:
            errors = _field_errors(error)
        else:
            return redirect(url_for("dashboard_catalog.bulk_issue_page", bulk_id=job.id))
    return form_page(
        "dashboard/issues.html",
        errors,
        brand=brand,
        jobs=bulk.list_bulk_issues(brand.id),
        offers=offers.list_offers(brand.id),
    )


@bp.get("/issues/<int:bulk_id>")
def bulk_issue_page(bulk_id: int) -> str:
    """One bulk issue: its progress bar (refreshed by the page) and, when done, the CSV."""
    brand = current_brand()
    return render_template("dashboard/issue.html", brand=brand, job=bulk.get_bulk_issue(brand.id, bulk_id))


@bp.get("/issues/<int:bulk_id>/progress.json")
def bulk_issue_progress(bulk_id: int) -> Response:
    job = bulk.get_bulk_issue(g.brand_id, bulk_id)
    return jsonify({"status": job.status, "issued": job.issued, "count": job.count, "error": job.error})


@bp.get("/issues/<int:bulk_id>/vouchers.csv")
def bulk_issue_csv(bulk_id: int) -> Response:
    """The codes and links of a bulk issue, streamed."""
    job = bulk.get_bulk_issue(g.brand_id, bulk_id)
    rows = bulk.bulk_csv_rows(g.brand_id, job.id, base_url())
    return csv_response(rows, f"lixi-vouchers-{job.batch_id}.csv")
