"""Dashboard pages for the loyalty programme: its settings with an earnings preview, members with
their ledger and a manual adjustment, the rewards catalogue, the report, and monthly statements."""

from __future__ import annotations

from typing import Any

from babel.dates import format_date
from flask import Response, g, render_template, request
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _

from dashboard.access import admin_blueprint, csv_response, current_brand
from dashboard.forms import FormErrors, FormPage, integer, load_form, local_instant, saved, text, whole_number
from games.schemas import EVENT_TYPES
from games.wallet import member_vouchers
from lixi.errors import DomainError
from lixi.formatting import current_locale, number
from lixi.models import Brand, Member
from lixi.schemas import parse_id
from loyalty import ledger, referrals, reports, rewards, standing, statements, tiers
from loyalty.errors import LoyaltyErrorCode
from loyalty.programme import Programme, find_programme, points_for, save_programme
from loyalty.schemas import AdjustmentInSchema, ProgrammeSchema, RewardInSchema
from vouchers.offers import list_offers

bp = admin_blueprint("dashboard_loyalty", __name__)

PREVIEW_BILL = 500_000  # the settings page's default example: "a 500,000 ₫ bill earns …"
PURCHASE = "purchase"


# --- the programme -----------------------------------------------------------------------------


def _rows(prefix: str, names: tuple[str, ...]) -> list[dict[str, str]]:
    """Repeated form rows (earn_event, earn_points, …) as dicts, skipping empty rows."""
    columns = {name: request.form.getlist(f"{prefix}_{name}") for name in names}
    count = max((len(values) for values in columns.values()), default=0)
    rows = []
    for i in range(count):
        row = {name: (values[i].strip() if i < len(values) else "") for name, values in columns.items()}
        if any(value for key, value in row.items() if key != "event"):
            rows.append(row)
    return rows


EARN_COLUMNS = ("event", "points", "per_amount", "per_points", "min_amount", "max_amount")
TIER_COLUMNS = ("name", "min_points", "multiplier")


def _multiplier(raw: str, field: str) -> float | str | None:
    """×1.5 typed as 1.5 or 1,5 (the schema checks the range); None when empty."""
    cleaned = raw.replace(",", ".").lstrip("×x").strip()
    if not cleaned:
        return None
    try:
        return float(cleaned)
    except ValueError:
        raise FormErrors({field: [_("Enter a number such as 1.5.")]}) from None


def _dropped_nones(data: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in data.items() if value is not None}


def _section(data: dict[str, Any]) -> dict[str, Any] | None:
    """An optional block (referral, birthday): None when none of its fields was filled."""
    kept = _dropped_nones(data)
    return kept or None


def _programme_form() -> dict[str, Any]:
    """The settings form as the API's PUT body, for ProgrammeSchema."""
    earn = []
    for row in _rows("earn", EARN_COLUMNS):
        per_amount = whole_number(row["per_amount"], "earn")
        per_points = whole_number(row["per_points"], "earn")
        rule = {
            "event": row["event"],
            "points": whole_number(row["points"], "earn"),
            "points_per": (
                {"amount": per_amount, "points": per_points}
                if per_amount is not None or per_points is not None
                else None
            ),
            "min_amount": whole_number(row["min_amount"], "earn"),
            "max_amount": whole_number(row["max_amount"], "earn"),
        }
        earn.append(_dropped_nones(rule))
    tiers, multipliers = [], {}
    for row in _rows("tier", TIER_COLUMNS):
        tiers.append(
            _dropped_nones({"name": row["name"], "min_points": whole_number(row["min_points"], "tiers")})
        )
        multiplier = _multiplier(row["multiplier"], "tier_multipliers")
        if multiplier is not None and row["name"]:
            multipliers[row["name"]] = multiplier
    return {
        "name": text("name"),
        "earn": earn,
        "pending_days": integer("pending_days"),
        "expire_days": integer("expire_days"),
        "point_value": integer("point_value"),
        "tiers": tiers,
        "tier_window_days": integer("tier_window_days"),
        "tier_grace_days": integer("tier_grace_days"),
        "tier_multipliers": multipliers,
        "expiring_notice_days": integer("expiring_notice_days"),
        "referral": _section(
            {
                "referrer_points": integer("referrer_points"),
                "referee_points": integer("referee_points"),
                "referrer_offer_id": parse_id(request.form.get("referrer_offer_id")),
                "referee_offer_id": parse_id(request.form.get("referee_offer_id")),
                "max_per_referrer": integer("max_per_referrer"),
                "join_url": text("join_url") or None,
            }
        ),
        "birthday": _section(
            {
                "points": integer("birthday_points"),
                "offer_id": parse_id(request.form.get("birthday_offer_id")),
            }
        ),
        "member_goal": integer("member_goal"),
        "member_goal_date": request.form.get("member_goal_date") or None,
    }


def _save_programme(brand_id: int) -> Any:
    return save_programme(brand_id, load_form(ProgrammeSchema(), _programme_form()))


def _stored_form(programme: Programme | None) -> dict[str, Any]:
    """The saved programme as the form's values (what a GET shows)."""
    if programme is None:
        return {"earn": [{"event": PURCHASE}], "tiers": []}
    settings = programme.settings
    referral, birthday = settings.get("referral") or {}, settings.get("birthday") or {}
    earn = [
        {
            "event": rule.get("event"),
            "points": rule.get("points"),
            "per_amount": (rule.get("points_per") or {}).get("amount"),
            "per_points": (rule.get("points_per") or {}).get("points"),
            "min_amount": rule.get("min_amount"),
            "max_amount": rule.get("max_amount"),
        }
        for rule in settings.get("earn") or []
    ]
    multipliers = settings.get("tier_multipliers") or {}
    tiers = [
        {"name": tier.name, "min_points": tier.min_points, "multiplier": multipliers.get(tier.name)}
        for tier in programme.tiers
    ]
    values: dict[str, Any] = {
        key: settings.get(key)
        for key in (
            "name",
            "pending_days",
            "expire_days",
            "point_value",
            "tier_window_days",
            "tier_grace_days",
            "expiring_notice_days",
            "member_goal",
            "member_goal_date",
        )
    }
    values.update({key: referral.get(key) for key in referral})
    values.update({"birthday_points": birthday.get("points"), "birthday_offer_id": birthday.get("offer_id")})
    values.update({"earn": earn, "tiers": tiers})
    return values


def _posted_form() -> dict[str, Any]:
    """A refused form's values as they were typed (rows included), to show again."""
    values: dict[str, Any] = request.form.to_dict()
    values["earn"] = _rows("earn", EARN_COLUMNS)
    values["tiers"] = _rows("tier", TIER_COLUMNS)
    return values


def earnings_preview(programme: Programme | None, bill: int) -> list[tuple[str | None, int]]:
    """What a purchase of `bill` earns below the first tier (None) and in each tier."""
    if programme is None:
        return []
    names: list[str | None] = [tier.name for tier in programme.tiers]
    if not programme.tiers or programme.tiers[0].min_points > 0:
        names.insert(0, None)
    return [(name, points_for(programme, PURCHASE, bill, name)) for name in names]


@bp.route("/loyalty", methods=["GET", "POST"])
def programme_page() -> ResponseReturnValue:
    """The programme's settings (earning, tiers, expiry, referral, birthday, goal) and a preview."""
    page = FormPage("dashboard/loyalty/programme.html")
    if page.submit(lambda: _save_programme(g.brand_id)) is not None:
        return saved(_("Loyalty programme saved."), "dashboard_loyalty.programme_page")
    programme = find_programme(g.brand_id)
    try:
        bill = whole_number(request.args.get("bill"), "bill")
    except FormErrors:
        bill = None
    bill = PREVIEW_BILL if bill is None else min(bill, 10**15)
    values = _posted_form() if page.errors else _stored_form(programme)
    return page.render(
        programme=programme,
        values=values,
        bill=bill,
        preview=earnings_preview(programme, bill),
        events=EVENT_TYPES,
        offers=list_offers(g.brand_id),
    )


# --- members -----------------------------------------------------------------------------------


@bp.get("/loyalty/members")
def members_page() -> str:
    """Members with their points: search by external id, phone or name; newest first, by pages."""
    query = (request.args.get("q") or "").strip()[:200]
    found = reports.search_members(g.brand_id, query, parse_id(request.args.get("before")))
    return render_template("dashboard/loyalty/members.html", brand=current_brand(), page=found, q=query)


def _adjust(brand_id: int, member: Member) -> Any:
    raw = text("points").replace("−", "-").replace(" ", "")  # a typographic minus reads as one
    sign = -1 if raw.startswith("-") else 1
    amount = whole_number(raw[1:] if raw.startswith(("+", "-")) else raw, "points")
    data = load_form(
        AdjustmentInSchema(),
        {"points": None if amount is None else sign * amount, "reason": text("reason")},
    )
    try:
        return ledger.adjust(brand_id, member, data["points"], data["reason"])
    except DomainError as refusal:
        if refusal.code != LoyaltyErrorCode.INSUFFICIENT_POINTS:
            raise
        message = _(
            "The member has only %(points)s points: that would take them below zero.", points=_balance(member)
        )
        raise FormErrors({"points": [message]}) from None


def _balance(member: Member) -> str:
    return number(standing.member_loyalty(member.brand_id, member).points)


@bp.route("/loyalty/members/<int:member_id>", methods=["GET", "POST"])
def member_page(member_id: int) -> ResponseReturnValue:
    """A member: points, tier, ledger, tier history, vouchers, plays, referrals; adjust the points."""
    page = FormPage("dashboard/loyalty/member.html")
    member = reports.get_brand_member(g.brand_id, member_id)
    if page.submit(lambda: _adjust(g.brand_id, member)) is not None:
        return saved(_("Points adjusted."), "dashboard_loyalty.member_page", member_id=member.id)
    entries, next_after = standing.history(g.brand_id, member.id, after=parse_id(request.args.get("after")))
    programme = find_programme(g.brand_id)
    return page.render(
        member=member,
        loyalty=standing.member_loyalty(g.brand_id, member) if programme else None,
        entries=entries,
        next_after=next_after,
        tier_changes=tiers.tier_changes(g.brand_id, member.id),
        vouchers=member_vouchers(g.brand_id, member.id),
        plays=reports.member_plays(g.brand_id, member.id),
        referrals=reports.with_friends(g.brand_id, referrals.referrals_of(g.brand_id, member.id)),
        month=statements.statement_month(None, current_brand().timezone).label,
    )


@bp.get("/loyalty/members/<int:member_id>/statement")
def statement_page(member_id: int) -> str:
    """A member's printable monthly statement."""
    brand = current_brand()
    member = reports.get_brand_member(brand.id, member_id)
    month = statements.statement_month(request.args.get("month"), brand.timezone)
    statement = statements.member_statement(brand.id, member, month)
    title = format_date(month.first_day, "LLLL y", locale=current_locale())
    return render_template(
        "dashboard/loyalty/statement.html", brand=brand, statement=statement, month_title=title
    )


@bp.get("/loyalty/statements.csv")
def statements_csv() -> Response:
    """Every member's month (opening, earned, spent, expired, adjusted, closing, tier), streamed."""
    brand = current_brand()
    month = statements.statement_month(request.args.get("month"), brand.timezone)
    return csv_response(statements.statements_csv(brand.id, month), statements.statements_filename(month))


# --- rewards -----------------------------------------------------------------------------------


def _reward_form(brand: Brand) -> dict[str, Any]:
    return {
        "name": text("name"),
        "offer_id": parse_id(request.form.get("offer_id")),
        "cost_points": integer("cost_points"),
        "stock": integer("stock"),
        "per_member_limit": integer("per_member_limit"),
        "min_tier": text("min_tier") or None,
        "starts_at": local_instant("starts_at", brand.timezone),
        "ends_at": local_instant("ends_at", brand.timezone),
    }


def _create_reward(brand: Brand) -> Any:
    return rewards.create_reward(brand.id, load_form(RewardInSchema(), _reward_form(brand)))


@bp.route("/loyalty/rewards", methods=["GET", "POST"])
def rewards_page() -> ResponseReturnValue:
    """The rewards catalogue ("đổi quà"): stock left and exchanges; a form for a new reward."""
    page = FormPage("dashboard/loyalty/rewards.html")
    reward = page.submit(lambda: _create_reward(current_brand()))
    if reward is not None:
        return saved(_("Reward “%(name)s” added.", name=reward.name), "dashboard_loyalty.rewards_page")
    programme = find_programme(g.brand_id)
    offers = list_offers(g.brand_id, include_archived=True)
    return page.render(
        programme=programme,
        rows=reports.reward_rows(g.brand_id),
        offers=[offer for offer in offers if offer.archived_at is None],
        offers_by_id={offer.id: offer.name for offer in offers},
        tiers=[tier.name for tier in programme.tiers] if programme else [],
    )


@bp.post("/loyalty/rewards/<int:reward_id>/<any(deactivate, activate):action>")
def reward_active(reward_id: int, action: str) -> Response:
    """Take a reward out of the catalogue (vouchers already exchanged stay valid), or put it back."""
    reward = rewards.set_reward_active(g.brand_id, reward_id, action == "activate")
    if reward.active:
        message = _("Reward “%(name)s” is offered again.", name=reward.name)
    else:
        message = _("Reward “%(name)s” withdrawn.", name=reward.name)
    return saved(message, "dashboard_loyalty.rewards_page")


# --- the report --------------------------------------------------------------------------------


@bp.get("/loyalty/report")
def report_page() -> str:
    """Members against the goal, activity, points and liability, tiers, repeat rate, top 20%, CLV."""
    brand = current_brand()
    report = reports.loyalty_report(brand.id)
    month = statements.statement_month(None, brand.timezone).label
    goal_day = format_date(report.goal_date, "long", locale=current_locale()) if report.goal_date else None
    return render_template(
        "dashboard/loyalty/report.html", brand=brand, report=report, month=month, goal_day=goal_day
    )
