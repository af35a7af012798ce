"""JSON API of campaigns, plays, member events and stats (API.md)."""

from __future__ import annotations

from flask import g, url_for

from games import abuse, campaigns, earning, links, plays, stats
from games.schemas import (
    CampaignInSchema,
    CampaignOutSchema,
    EventInSchema,
    EventOutSchema,
    GrantInSchema,
    LinkInSchema,
    LinkOutSchema,
    PlayInSchema,
    PlayOutSchema,
    PlaysLeftSchema,
    StatsOutSchema,
    StatusOutSchema,
)
from lixi.blueprints import SECURITY, api_blueprint
from lixi.hotpath import hot_route
from lixi.idempotency import idempotent
from lixi.plugins import plugged
from lixi.schemas import ErrorSchema
from vouchers.schemas import base_url

blp = api_blueprint("games", __name__, "Game campaigns, prizes, earned plays, draws and live stats.")


@blp.route("/campaigns", methods=["POST"])
@idempotent
@blp.arguments(CampaignInSchema)
@blp.response(201, CampaignOutSchema)
@blp.doc(security=SECURITY)
def create_campaign(data: dict):
    """Create a game campaign (draft) with its prizes and earning rules.

    A prize is won with odds weight / total weight; `stock` and `daily_cap` limit it, and a prize
    with an `offer_id` hands the winner a voucher of that offer. `value` is what a won prize costs
    the brand (counted against `budget`), so only a prize with an offer has one. Earning rules turn
    member events into plays. `ends_at` must come after `starts_at`, a rule's `max_amount` not
    below its `min_amount`, prize offers must be the brand's, and a paced campaign's stocks add up
    to 100,000 units at most (422 naming the field). The campaign starts as a draft: activate it.
    """
    return campaigns.create_campaign(g.brand_id, data)


@blp.route("/campaigns/<int:campaign_id>", methods=["GET"])
@blp.response(200, CampaignOutSchema)
@blp.alt_response(404, schema=ErrorSchema, description="not_found: no such campaign of this brand.")
@blp.doc(security=SECURITY)
def get_campaign(campaign_id: int):
    """A campaign with its prizes and their odds.

    Its status, schedule, budget spent and the SHA-256 of its fairness seed once activated.
    """
    return campaigns.get_campaign(g.brand_id, campaign_id)


def _transition(action: str, summary: str):  # type: ignore[no-untyped-def]
    @blp.route(f"/campaigns/<int:campaign_id>/{action}", methods=["POST"], endpoint=f"{action}_campaign")
    @blp.response(200, StatusOutSchema)
    @blp.alt_response(404, schema=ErrorSchema, description="not_found: no such campaign of this brand.")
    @blp.alt_response(409, schema=ErrorSchema, description="invalid_transition")
    @blp.doc(
        security=SECURITY,
        summary=summary,
        description=f"{summary} Campaigns go draft → active ⇄ paused → ended; any other move is a 409.",
    )
    def view(campaign_id: int):
        """Move the campaign on (its OpenAPI summary and description are set above)."""
        return campaigns.change_status(g.brand_id, campaign_id, action)

    return view


activate_campaign = _transition(
    "activate", "Start the campaign; the first time, commit to the fairness seed."
)
pause_campaign = _transition("pause", "Pause a running campaign.")
end_campaign = _transition("end", "End the campaign for good.")


@blp.route("/members/<string:external_id>/plays", methods=["POST"])
@idempotent
@blp.arguments(GrantInSchema)
@blp.response(200, PlaysLeftSchema)
@blp.alt_response(404, schema=ErrorSchema, description="not_found: no such member or campaign.")
@blp.doc(security=SECURITY)
def grant_plays(data: dict, external_id: str):
    """Give a member plays of a campaign directly.

    Adds `plays` to what the member has left in the campaign and returns the new total.
    """
    left = earning.grant_plays(g.brand_id, external_id, data["campaign_id"], data["plays"])
    return {"plays_left": left}


@blp.route("/members/<string:external_id>/links", methods=["POST"])
@blp.arguments(LinkInSchema, required=False)
@blp.response(201, LinkOutSchema)
@blp.alt_response(404, schema=ErrorSchema, description="not_found: no such member or campaign.")
@blp.doc(security=SECURITY)
def member_link(data: dict, external_id: str):
    """A signed link that opens the member's game page (and wallet), valid MEMBER_LINK_DAYS.

    Send the link to the member (SMS, app, email): it opens the game without a log-in. Without
    `campaign_id` the link opens the member's own page (points, rewards, vouchers, games: `/me`).
    """
    campaign_id = data.get("campaign_id")
    token = links.member_link_token(g.brand_id, external_id, campaign_id)
    wallet_url = base_url() + url_for("games_pages.wallet_page", t=token)
    if campaign_id is not None:
        url = base_url() + url_for("games_pages.play_page", campaign_id=campaign_id, t=token)
    else:
        home = plugged().member_home  # loyalty's /me when it is plugged in; else the wallet
        url = base_url() + url_for(home, t=token) if home else wallet_url
    return {"url": url, "wallet_url": wallet_url}


@blp.route("/events", methods=["POST"])
@idempotent
@blp.arguments(EventInSchema)
@blp.response(201, EventOutSchema, description="Recorded; the grants it earned.")
@blp.alt_response(200, schema=EventOutSchema, description="Seen before (same external_id): the first result.")
@blp.alt_response(404, schema=ErrorSchema, description="not_found: a refund's purchase is not the member's.")
@blp.alt_response(409, schema=ErrorSchema, description="refund_exceeds_purchase: more than is left.")
@blp.doc(security=SECURITY)
def record_event(data: dict):
    """Report a member event; earning rules of running campaigns grant plays, once per external_id.

    A purchase, a survey, a share…: each active campaign's matching rules grant plays (`grants`),
    and the loyalty programme's rules points. A `refund` (with `refund_of`, the purchase's
    external_id, and `amount`, the part refunded) takes back that share of what the purchase
    earned: points (a debt if they were spent) and plays not used yet.
    An unknown member is created. Repeating an event's `external_id` answers 200 with the first
    result and grants nothing more.
    """
    event, created = earning.record_event(
        g.brand_id,
        data["member_external_id"],
        data["type"],
        data["external_id"],
        data.get("amount"),
        data.get("refund_of"),
    )
    return event, 201 if created else 200


@blp.route("/campaigns/<int:campaign_id>/plays", methods=["POST"])
@hot_route(abuse.api_plays)
@idempotent
@blp.arguments(PlayInSchema)
@blp.response(201, PlayOutSchema)
@blp.alt_response(404, schema=ErrorSchema, description="not_found: no such campaign or member.")
@blp.alt_response(
    409, schema=ErrorSchema, description="no_plays_left, campaign_not_active, daily_limit_reached"
)
@blp.alt_response(429, schema=ErrorSchema, description="rate_limited")
@blp.alt_response(503, schema=ErrorSchema, description="unavailable")
@blp.doc(security=SECURITY)
def make_play(data: dict, campaign_id: int):
    """Play once for a member: the server draws the outcome and issues the prize's voucher.

    Uses one of the member's plays. The outcome comes from the campaign's committed seed (`proof`
    lets anyone check it once the campaign ends); in a scheduled lucky draw the play is an entry.
    Plays are limited per client and per member (429).
    """
    return plays.play(g.brand_id, campaign_id, data["member_external_id"])


@blp.route("/campaigns/<int:campaign_id>/stats", methods=["GET"])
@blp.response(200, StatsOutSchema)
@blp.alt_response(404, schema=ErrorSchema, description="not_found: no such campaign of this brand.")
@blp.doc(security=SECURITY)
def campaign_stats(campaign_id: int):
    """Live figures: plays, wins, prizes won and left, vouchers, budget spent and liability.

    Liability is what the campaign's unredeemed, unexpired vouchers could still cost.
    """
    return stats.campaign_stats(g.brand_id, campaign_id)
