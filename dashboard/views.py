"""The dashboard's front door: log-in, the overview of a brand's programme, and the audit log."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import refresh

from dashboard.access import admin_blueprint, current_brand, local_day_bounds
from dashboard.audit_details import describe
from games.stats import brand_overview
from lixi.audit import list_audit_events
from lixi.auth import log_in_page, log_out_everywhere, login_per_account, login_per_ip
from lixi.models import StaffRole
from lixi.schemas import parse_id

auth_bp = Blueprint("dashboard_auth", __name__, url_prefix="/dashboard")
auth_bp.before_request(refresh)
bp = admin_blueprint("dashboard", __name__)


@auth_bp.route("/login", methods=["GET", "POST"])
@login_per_ip
@login_per_account
def login() -> Any:
    """Brand admins log in."""
    return log_in_page(
        "/dashboard",
        "dashboard.home",
        (StaffRole.BRAND_ADMIN,),
        _("Brand dashboard"),
        _("For brand admins: campaigns, vouchers, stores and figures."),
    )


@auth_bp.post("/logout")
def logout() -> Any:
    """Log out: every session of the account ends on the server."""
    # A POST with the CSRF token, so no other site can log anyone out; ending the sessions on the
    # server means a saved copy of the cookie no longer opens the dashboard.
    log_out_everywhere()
    return redirect(url_for("dashboard_auth.login"))


@bp.get("")
def home() -> str:
    """The programme at a glance: every campaign with its live figures."""
    brand = current_brand()
    campaigns, figures = brand_overview(brand.id)
    return render_template("dashboard/home.html", brand=brand, campaigns=campaigns, figures=figures)


@bp.get("/audit")
def audit_log() -> str:
    """Who changed what, when: filter by person, action and dates; newest first."""
    brand = current_brand()
    since, until = local_day_bounds(request.args.get("since"), request.args.get("until"), brand.timezone)
    before_id = parse_id(request.args.get("before"))
    events = list_audit_events(
        brand.id,
        actor=request.args.get("actor") or None,
        action=request.args.get("action") or None,
        since=since,
        until=until,
        before_id=before_id,
    )
    rows = [(event, describe(event.data)) for event in events]
    return render_template(
        "dashboard/audit.html", brand=brand, events=events, rows=rows, filters=request.args
    )
