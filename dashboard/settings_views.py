"""Dashboard pages for integrations: API keys (shown once) and webhook endpoints with their deliveries."""

from __future__ import annotations

from typing import Any

from flask import Response, flash, g, redirect, render_template, request, url_for
from flask_babel import gettext as _

from dashboard.access import admin_blueprint, current_brand
from dashboard.forms import form_page
from lixi.auth import issue_api_key, list_api_keys, revoke_api_key
from lixi.errors import InvalidRequest
from lixi.schemas import parse_id
from webhooks import endpoints as webhooks

bp = admin_blueprint("dashboard_settings", __name__)


@bp.route("/api-keys", methods=["GET", "POST"])
def api_keys_page() -> Any:
    """The brand's API keys; a new key's secret is shown once, right after it is made."""
    brand = current_brand()
    new_secret = None
    if request.method == "POST":
        name = (request.form.get("name") or "").strip()[:100] or "dashboard"
        _key, new_secret = issue_api_key(brand.id, name)
    return render_template(
        "dashboard/api_keys.html", brand=brand, keys=list_api_keys(brand.id), new_secret=new_secret
    )


@bp.post("/api-keys/<int:key_id>/revoke")
def revoke_key(key_id: int) -> Response:
    """Revoke a key: calls with it are refused."""
    api_key = revoke_api_key(g.brand_id, key_id)
    flash(_("Key %(prefix)s… revoked.", prefix=api_key.prefix), "ok")
    return redirect(url_for("dashboard_settings.api_keys_page"))


@bp.route("/webhooks", methods=["GET", "POST"])
def webhooks_page() -> Any:
    """Webhook endpoints (signing secret shown once) and the log of recent deliveries."""
    brand = current_brand()
    errors: dict[str, list[str]] = {}
    created = None
    if request.method == "POST":
        topics = [t for t in request.form.getlist("topics") if t in webhooks.topics_offered()]
        try:
            created = webhooks.create_endpoint(brand.id, (request.form.get("url") or "").strip(), topics)
        except InvalidRequest as error:
            errors = (error.details or {}).get("fields") or {"url": [error.message]}
    return form_page(
        "dashboard/webhooks.html",
        errors,
        brand=brand,
        endpoints=webhooks.list_endpoints(brand.id),
        deliveries=webhooks.list_deliveries(brand.id, parse_id(request.args.get("endpoint"))),
        topics=webhooks.topics_offered(),
        created=created,
    )


@bp.post("/webhooks/<int:endpoint_id>/disable")
def disable_webhook(endpoint_id: int) -> Response:
    """Stop sending events to an endpoint."""
    webhooks.disable_endpoint(g.brand_id, endpoint_id)
    flash(_("Endpoint disabled."), "ok")
    return redirect(url_for("dashboard_settings.webhooks_page"))
