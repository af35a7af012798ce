"""JSON API of gifts (API.md "Gifting"): send, read, list, cancel, resend."""

from __future__ import annotations

from flask import g

from gifting import queries, service
from gifting.schemas import GiftInSchema, GiftListSchema, GiftOutSchema, GiftQuerySchema, ResendInSchema
from lixi.blueprints import api_blueprint
from lixi.idempotency import idempotent
from lixi.members import get_member
from lixi.schemas import ErrorSchema

blp = api_blueprint("gifting", __name__, "Gifts: vouchers sent to someone, lì xì envelopes, claim links.")


@blp.route("/gifts", methods=["POST"])
@idempotent
@blp.arguments(GiftInSchema)
@blp.response(201, GiftOutSchema)
@blp.alt_response(404, schema=ErrorSchema, description="not_found: no such offer, voucher or sender member.")
@blp.alt_response(409, schema=ErrorSchema, description="not_transferable: the voucher cannot be given now.")
def send_gift(request: service.GiftRequest):
    """Send a voucher to someone as a gift.

    From an offer (a new voucher is issued for the gift; `amount` makes a gift card of that
    balance) or from a member's unused voucher (`voucher_code`; a gift card only with its whole
    balance). The voucher is held from now on: nobody can use it until the gift is claimed (it
    then gets a new code), returned or cancelled. The recipient is told by email (the card, the
    message and the claim link), and for a phone by the `gift.delivery_requested` event for the
    brand's SMS or Zalo provider; without either, share `claim_url` yourself. `send_at` or
    `send_on_lunar` (e.g. Mùng 1 Tết: `{year, month: 1, day: 1}`) schedules it; `split` makes a
    lì xì of N envelopes, each claimed once by a different person.
    """
    return service.create_gift(g.brand_id, request)


@blp.route("/gifts", methods=["GET"])
@blp.arguments(GiftQuerySchema, location="query")
@blp.response(200, GiftListSchema)
@blp.alt_response(404, schema=ErrorSchema, description="not_found: no such member.")
def list_gifts(query: dict):
    """The brand's gifts, newest first.

    Filter by `status` or by a member (gifts they sent or received); page with `before_id` (the
    `next_before_id` of the previous page). Each gift is as `GET /gifts/{id}` has it, without its
    `deliveries`.
    """
    member_id = (
        get_member(g.brand_id, query["member_external_id"]).id if "member_external_id" in query else None
    )
    limit = query["limit"]
    gifts = queries.list_gifts(g.brand_id, query.get("status"), member_id, query.get("before_id"), limit)
    return {"gifts": gifts, "next_before_id": gifts[-1].id if len(gifts) == limit else None}


@blp.route("/gifts/<int:gift_id>", methods=["GET"])
@blp.response(200, GiftOutSchema)
@blp.alt_response(404, schema=ErrorSchema, description="not_found: no such gift.")
def get_gift(gift_id: int):
    """A gift: its state, its dates, its envelopes and every delivery attempt.

    `deliveries` lists each attempt to tell the recipient (the first send, resends, the reminder,
    claim codes) with its channel and status; `split` each envelope of a lì xì and who opened it.
    """
    return queries.get_gift(g.brand_id, gift_id)


@blp.route("/gifts/<int:gift_id>/cancel", methods=["POST"])
@idempotent
@blp.response(200, GiftOutSchema)
@blp.alt_response(404, schema=ErrorSchema, description="not_found: no such gift.")
@blp.alt_response(409, schema=ErrorSchema, description="gift_claimed, gift_closed.")
def cancel_gift(gift_id: int):
    """Cancel a gift before it is claimed.

    A member's voucher goes back to them with a new code; a brand's is voided. Envelopes of a lì
    xì already opened stay with those who opened them; the rest comes back.
    """
    return service.cancel_gift(g.brand_id, gift_id)


@blp.route("/gifts/<int:gift_id>/resend", methods=["POST"])
@idempotent
@blp.arguments(ResendInSchema, required=False)
@blp.response(200, GiftOutSchema)
@blp.alt_response(404, schema=ErrorSchema, description="not_found: no such gift.")
@blp.alt_response(409, schema=ErrorSchema, description="gift_claimed, gift_closed.")
def resend_gift(data: dict, gift_id: int):
    """Send the gift again, to a corrected email or phone if given.

    Codes sent to the old address stop working. A scheduled gift just takes the new address.
    """
    return service.resend_gift(g.brand_id, gift_id, data.get("email"), data.get("phone"))
