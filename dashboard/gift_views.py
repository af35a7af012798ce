"""Dashboard pages for gifts: the list with its states and the funnel (sent → opened → claimed →
used), and a gift's own page (deliveries, envelopes, audit trail) where staff resend it to a
corrected email or phone, or cancel it. Each change is audited as the staff member."""

from __future__ import annotations

from typing import Any

from flask import Response, flash, g, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from dashboard.access import admin_blueprint, current_brand, local_day_bounds
from dashboard.audit_details import describe
from dashboard.forms import field_errors, text
from gifting import reports
from gifting.errors import GiftError, GiftErrorCode
from gifting.links import claim_url
from gifting.models import OPEN_STATUSES, Gift, GiftStatus
from gifting.queries import deliveries_of, get_gift
from gifting.service import cancel_gift, resend_gift
from lixi.errors import InvalidRequest
from lixi.schemas import parse_id
from lixi.timeutil import utcnow

bp = admin_blueprint("dashboard_gifts", __name__)

STATUS_WORDS = {
    GiftStatus.SCHEDULED: _l("scheduled"),
    GiftStatus.SENT: _l("sent"),
    GiftStatus.OPENED: _l("opened"),
    GiftStatus.CLAIMED: _l("claimed"),
    GiftStatus.EXPIRED: _l("expired"),
    GiftStatus.RETURNED: _l("returned"),
    GiftStatus.CANCELLED: _l("cancelled"),
}
STEP_WORDS = {"sent": _l("Sent"), "opened": _l("Opened"), "claimed": _l("Claimed"), "used": _l("Used")}
REFUSALS = {
    GiftErrorCode.GIFT_CLAIMED: _l("This gift has already been claimed: it can no longer be changed."),
    GiftErrorCode.GIFT_CLOSED: _l("This gift is closed (cancelled, expired or returned)."),
}
SERVICE_FIELDS = {"recipient.email": "email", "recipient.phone": "phone"}


@bp.get("/gifts")
def gifts_page() -> str:
    """The brand's gifts, newest first (filter by status, search by recipient), and the funnel."""
    status = request.args.get("status") or None
    if status not in set(GiftStatus):
        status = None
    query = (request.args.get("q") or "").strip()[:200]
    found = reports.search_gifts(g.brand_id, status, query, parse_id(request.args.get("before")))
    brand = current_brand()
    since_day = request.args.get("since") or ""
    since, _until = local_day_bounds(since_day, None, brand.timezone)
    funnel = reports.gift_funnel(g.brand_id, since)
    return render_template(
        "dashboard/gifts.html",
        brand=brand,
        since=since_day if since else "",
        page=found,
        used=reports.used_gifts(g.brand_id, [gift.id for gift in found.gifts]),
        funnel=funnel,
        status=status,
        q=query,
        status_words=STATUS_WORDS,
        step_words=STEP_WORDS,
        chart_names={name: str(words) for name, words in STEP_WORDS.items()},
    )


def _gift_page(gift: Gift, errors: dict[str, Any] | None = None, status: int = 200) -> tuple[str, int]:
    trail = reports.gift_trail(gift)
    html = render_template(
        "dashboard/gift.html",
        brand=current_brand(),
        gift=gift,
        claim_url=claim_url(gift),
        used=gift.id in reports.used_gifts(g.brand_id, [gift.id]),
        now=utcnow(),
        deliveries=deliveries_of(gift.id),
        trail=[(event, describe(event.data)) for event in trail],
        status_words=STATUS_WORDS,
        is_open=gift.status in OPEN_STATUSES,
        errors=errors or {},
        form=request.form,
    )
    return html, status


@bp.get("/gifts/<int:gift_id>")
def gift_page(gift_id: int) -> ResponseReturnValue:
    """Everything about one gift: who, what, its states' moments, deliveries, envelopes, audit trail."""
    return _gift_page(get_gift(g.brand_id, gift_id))


def _refused(gift_id: int, error: GiftError) -> Response:
    flash(str(REFUSALS.get(error.code, error.message)), "error")
    return redirect(url_for(".gift_page", gift_id=gift_id))


@bp.post("/gifts/<int:gift_id>/resend")
def resend(gift_id: int) -> ResponseReturnValue:
    """Send the gift again, to a corrected email or phone number if typed."""
    gift = get_gift(g.brand_id, gift_id)  # 404 for another brand's, before anything else
    try:
        resend_gift(g.brand_id, gift.id, email=text("email") or None, phone=text("phone") or None)
    except InvalidRequest as error:
        fields = field_errors(error)
        errors = {SERVICE_FIELDS.get(name, name): messages for name, messages in fields.items()}
        return _gift_page(get_gift(g.brand_id, gift_id), errors, 422)
    except GiftError as error:
        return _refused(gift_id, error)
    flash(_("Gift sent again."), "ok")
    return redirect(url_for(".gift_page", gift_id=gift_id))


@bp.post("/gifts/<int:gift_id>/cancel")
def cancel(gift_id: int) -> ResponseReturnValue:
    """Cancel an unclaimed gift, once confirmed: a member's voucher goes back to them, a brand's is voided."""
    gift = get_gift(g.brand_id, gift_id)
    if request.form.get("confirm") != "yes":
        errors = {"confirm": [_("Tick the box to confirm the cancellation.")]}
        return _gift_page(gift, errors, 422)
    try:
        cancel_gift(g.brand_id, gift.id)
    except GiftError as error:
        return _refused(gift_id, error)
    flash(_("Gift cancelled."), "ok")
    return redirect(url_for(".gift_page", gift_id=gift_id))
