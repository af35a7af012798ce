"""Dashboard pages for game campaigns: the builder, the live figures and charts, and exports."""

from __future__ import annotations

from typing import Any

from flask import Response, abort, flash, g, jsonify, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _

from dashboard import exports
from dashboard.access import admin_blueprint, csv_response, current_brand, local_day_bounds
from dashboard.forms import FormPage, integer, load_form, local_instant, saved, text, whole_number
from games import campaigns, stats
from games.models import Campaign, CampaignStatus, GameKind
from games.schemas import EVENT_TYPES, CampaignInSchema
from lixi.errors import DomainError
from lixi.models import Brand
from lixi.schemas import parse_id
from vouchers.offers import list_offers
from vouchers.schemas import base_url

bp = admin_blueprint("dashboard_campaigns", __name__)


@bp.get("/campaigns")
def campaigns_page() -> str:
    """Every campaign of the brand, newest first."""
    brand = current_brand()
    return render_template(
        "dashboard/campaigns.html", brand=brand, campaigns=campaigns.list_campaigns(brand.id)
    )


def _rows(prefix: str, names: tuple[str, ...]) -> list[dict[str, str]]:
    """Repeated form rows (prize_label[], prize_weight[], …) as dicts, skipping empty rows."""
    columns = {name: request.form.getlist(f"{prefix}_{name}") for name in names}
    count = max((len(values) for values in columns.values()), default=0)
    rows = []
    for i in range(count):
        row = {name: (values[i].strip() if i < len(values) else "") for name, values in columns.items()}
        if any(row.values()):
            rows.append(row)
    return rows


def _campaign_form(tz_name: str) -> dict[str, Any]:
    prizes = [
        {
            "label": row["label"],
            "weight": whole_number(row["weight"], "prizes"),
            "stock": whole_number(row["stock"], "prizes"),
            "daily_cap": whole_number(row["daily_cap"], "prizes"),
            "offer_id": whole_number(row["offer_id"], "prizes"),
            "value": whole_number(row["value"], "prizes"),
        }
        for row in _rows("prize", ("label", "weight", "stock", "daily_cap", "offer_id", "value"))
    ]
    rules = [
        {
            "event": row["event"],
            "plays": whole_number(row["plays"], "earning_rules"),
            "min_amount": whole_number(row["min_amount"], "earning_rules"),
            "max_amount": whole_number(row["max_amount"], "earning_rules"),
        }
        for row in _rows("rule", ("event", "plays", "min_amount", "max_amount"))
        if row["plays"]
    ]
    return {
        "name": text("name"),
        "game": request.form.get("game"),
        "starts_at": local_instant("starts_at", tz_name),
        "ends_at": local_instant("ends_at", tz_name),
        "draw_at": local_instant("draw_at", tz_name),
        "budget": integer("budget"),
        "plays_per_member_per_day": integer("plays_per_member_per_day"),
        "pacing": request.form.get("pacing") == "on",
        "prizes": [{k: v for k, v in p.items() if v not in (None, "")} for p in prizes],
        "earning_rules": [{k: v for k, v in r.items() if v is not None} for r in rules],
    }


def _create_campaign(brand: Brand) -> Campaign:
    return campaigns.create_campaign(brand.id, load_form(CampaignInSchema(), _campaign_form(brand.timezone)))


@bp.route("/campaigns/new", methods=["GET", "POST"])
def new_campaign() -> ResponseReturnValue:
    """The campaign builder: game, schedule, budget, prizes with a live odds and cost preview, rules."""
    page = FormPage("dashboard/campaign_new.html")
    campaign = page.submit(lambda: _create_campaign(current_brand()))
    if campaign is not None:
        message = _("Campaign “%(name)s” saved as a draft.", name=campaign.name)
        return saved(message, "dashboard_campaigns.campaign_page", campaign_id=campaign.id)
    games = [kind.value for kind in GameKind]
    return page.render(offers=list_offers(g.brand_id), games=games, event_types=EVENT_TYPES)


@bp.get("/campaigns/<int:campaign_id>")
def campaign_page(campaign_id: int) -> str:
    """One campaign: its status and actions, the fairness commitment, live figures and charts."""
    brand = current_brand()
    campaign = campaigns.get_campaign(brand.id, campaign_id)
    figures = _figures(brand.id, campaign.id)
    return render_template(
        "dashboard/campaign.html",
        brand=brand,
        campaign=campaign,
        economics=campaigns.campaign_economics(campaign),
        figures=figures,
        effectiveness=stats.campaign_effectiveness(brand.id, campaign.id, figures["stats"]),
        export_kinds=exports.EXPORT_KINDS,
        ended=campaign.status == CampaignStatus.ENDED,
    )


def _figures(brand_id: int, campaign_id: int) -> dict[str, Any]:
    figures = stats.campaign_stats(brand_id, campaign_id)
    return {
        "stats": figures,
        "series": stats.campaign_series(brand_id, campaign_id),
        "funnel": stats.campaign_funnel(brand_id, campaign_id, figures),
    }


@bp.get("/campaigns/<int:campaign_id>/figures.json")
def campaign_figures(campaign_id: int) -> Response:
    """The live figures the campaign page refreshes without a reload."""
    return jsonify(_figures(g.brand_id, campaign_id))


@bp.post("/campaigns/<int:campaign_id>/<any(activate, pause, end):action>")
def change_status(campaign_id: int, action: str) -> Response:
    """Activate, pause or end (the first activation commits to the fairness seed)."""
    try:
        campaigns.change_status(g.brand_id, campaign_id, action)
    except DomainError as refusal:
        if refusal.status == 404:
            raise
        flash(
            _(
                "That cannot be done now: the campaign is %(status)s.",
                status=(refusal.details or {}).get("status"),
            ),
            "error",
        )
    return redirect(url_for("dashboard_campaigns.campaign_page", campaign_id=campaign_id))


@bp.get("/exports")
def exports_page() -> str:
    """CSV exports of vouchers, redemptions, plays and members, for a campaign or dates."""
    brand = current_brand()
    return render_template(
        "dashboard/exports.html",
        brand=brand,
        kinds=exports.EXPORT_KINDS,
        campaigns=campaigns.list_campaigns(brand.id),
    )


@bp.get("/exports/<kind>.csv")
def export_csv(kind: str) -> Response:
    """A streamed CSV (a million rows never sit in memory)."""
    brand = current_brand()
    if kind not in exports.EXPORT_KINDS:
        abort(404)
    campaign_id = parse_id(request.args.get("campaign_id"))
    if request.args.get("campaign_id") and campaign_id is None:
        abort(404)
    since, until = local_day_bounds(request.args.get("since"), request.args.get("until"), brand.timezone)
    rows = exports.export_rows(
        brand.id, kind, campaign_id=campaign_id, since=since, until=until, base_url=base_url()
    )
    return csv_response(rows, exports.filename(kind, campaign_id, since, until))
