"""JSON API of offers, vouchers and redemptions (API.md)."""

from __future__ import annotations

from flask import g, request
from flask.blueprints import BlueprintSetupState
from werkzeug.routing import BaseConverter

from lixi.blueprints import SECURITY, api_blueprint
from lixi.hotlimits import HotLimit, HotLimits, by_api_key, by_client_ip
from lixi.hotpath import hot_route
from lixi.idempotency import idempotent
from lixi.openapi import api
from lixi.schemas import ErrorSchema
from vouchers import offers, redemptions, service
from vouchers.schemas import (
    CodeInSchema,
    IssueInSchema,
    OfferInSchema,
    OfferOutSchema,
    RedeemInSchema,
    RedemptionOutSchema,
    ValidationOutSchema,
    VoidInSchema,
    VoucherListSchema,
    VoucherOutSchema,
)

blp = api_blueprint("vouchers", __name__, "Offers, vouchers, validation, redemption and voids.")


class VoucherCodeConverter(BaseConverter):
    """A voucher's code or token in a path, never the word "validate": GET /vouchers/validate is not
    a voucher look-up, so OPTIONS there advertises POST only (its Allow header matches the document)."""

    regex = r"(?!validate$)[^/]+"


@blp.record_once
def _register_code_converter(state: BlueprintSetupState) -> None:
    state.app.url_map.converters["voucher_code"] = VoucherCodeConverter
    api.register_converter(VoucherCodeConverter, lambda _: {"type": "string", "not": {"enum": ["validate"]}})


# The hot routes' limits, each route's in one Redis call (lixi/hotlimits.py says why not
# Flask-Limiter). Guessing codes: failed look-ups (404) count per client across validate and redeem.
_FAILED_CODES = HotLimit("RATE_LIMIT_FAILED_CODES", "failed-codes", by_client_ip, failures_only=True)
validate_limits = HotLimits(
    HotLimit("RATE_LIMIT_VALIDATE_PER_IP", "validate-ip", by_client_ip),
    HotLimit("RATE_LIMIT_VALIDATE_PER_KEY", "validate-key", by_api_key),
    _FAILED_CODES,
)
redeem_limits = HotLimits(
    HotLimit("RATE_LIMIT_REDEEM_PER_IP", "redeem-ip", by_client_ip),
    HotLimit("RATE_LIMIT_REDEEM_PER_KEY", "redeem-key", by_api_key),
    _FAILED_CODES,
)


@blp.route("/offers", methods=["POST"])
@idempotent
@blp.arguments(OfferInSchema)
@blp.response(201, OfferOutSchema)
@blp.doc(security=SECURITY)
def create_offer(data: dict):
    """Create an offer: what a voucher is worth, where and until when.

    `fixed_amount` takes `value` off a bill, `percent` takes `value`% (capped by `max_discount`),
    `free_item` is worth `value`, and a `gift_card` holds a balance of `value` spent over several
    redemptions. Vouchers expire `valid_days` after issue or at `valid_until` (not both, and not
    already past); an empty `merchant_ids` means every store of the brand, and each id must be one
    of its stores (422 otherwise).
    """
    return offers.create_offer(g.brand_id, data)


@blp.route("/offers/<int:offer_id>", methods=["GET"])
@blp.response(200, OfferOutSchema)
@blp.alt_response(404, schema=ErrorSchema, description="not_found: no such offer of this brand.")
@blp.doc(security=SECURITY)
def get_offer(offer_id: int):
    """One offer.

    The offer as created, with the stores it is valid at.
    """
    return offers.get_offer(g.brand_id, offer_id)


@blp.route("/vouchers", methods=["POST"])
@idempotent
@blp.arguments(IssueInSchema)
@blp.response(201, VoucherListSchema)
@blp.alt_response(404, schema=ErrorSchema, description="Unknown offer or member.")
@blp.doc(security=SECURITY)
def issue_vouchers(data: dict):
    """Issue 1 to 10,000 vouchers of an offer, optionally to a member.

    Each voucher has a short code to type and a signed token; its QR code opens the public voucher
    page (`url`). An unknown offer or member is not found; an archived offer is refused (422).
    """
    vouchers = service.issue_vouchers(
        g.brand_id, data["offer_id"], data["count"], data.get("member_external_id")
    )
    return {"vouchers": vouchers}


@blp.route("/vouchers/<voucher_code:code>", methods=["GET"])
@blp.response(200, VoucherOutSchema)
@blp.alt_response(404, schema=ErrorSchema, description="Unknown, forged or another brand's code.")
@blp.doc(security=SECURITY)
def get_voucher(code: str):
    """A voucher by its short code or token.

    Its status now (active, redeemed, voided, expired), value and balance, and its links.
    Unknown, forged and other brands' codes get the same 404.
    """
    return service.find_voucher(g.brand_id, code)


@blp.route("/vouchers/<voucher_code:code>/void", methods=["POST"])
@idempotent
@blp.arguments(VoidInSchema, required=False)
@blp.response(200, VoucherOutSchema)
@blp.alt_response(404, schema=ErrorSchema, description="Unknown, forged or another brand's code.")
@blp.alt_response(409, schema=ErrorSchema, description="already_voided, already_redeemed")
@blp.doc(security=SECURITY)
def void_voucher(data: dict, code: str):
    """Cancel an unused voucher for good.

    A voided voucher can no longer be validated or redeemed; the optional `reason` goes to the
    audit trail.
    """
    return service.void_voucher(g.brand_id, code, data.get("reason"))


@blp.route("/vouchers/validate", methods=["POST"])
@hot_route(validate_limits)
@blp.arguments(CodeInSchema)
@blp.response(200, ValidationOutSchema)
@blp.alt_response(404, schema=ErrorSchema, description="Unknown, forged or another brand's code.")
@blp.alt_response(
    409, schema=ErrorSchema, description="already_redeemed, voided, expired, not_valid_here, min_bill_not_met"
)
@blp.alt_response(429, schema=ErrorSchema, description="rate_limited")
@blp.alt_response(503, schema=ErrorSchema, description="unavailable (rate-limit store down: fail closed)")
@blp.doc(security=SECURITY)
def validate_voucher(data: dict):
    """Check that a code can be used now, here, for this bill, without using it.

    `code` is the short code as typed, the signed token or the voucher URL a QR code holds.
    Answers what redeeming would take off `bill_amount` at `merchant_id`, or why it cannot be used.
    What a voucher needs depends on it (422 naming the field): `bill_amount` for percent vouchers
    and vouchers with a minimum bill, a `merchant_id` of the brand. Failed look-ups count towards a
    per-client limit on guessing codes.
    """
    check = redemptions.validate_voucher(
        g.brand_id, data["code"], data.get("merchant_id"), data.get("bill_amount")
    )
    return {"valid": True, "voucher": check.voucher, "amount": check.amount}


@blp.route("/redemptions", methods=["POST"])
@hot_route(redeem_limits)
@idempotent
@blp.arguments(RedeemInSchema)
@blp.response(201, RedemptionOutSchema)
@blp.alt_response(404, schema=ErrorSchema, description="Unknown, forged or another brand's code.")
@blp.alt_response(409, schema=ErrorSchema, description="as validate, plus insufficient_balance")
@blp.alt_response(429, schema=ErrorSchema, description="rate_limited")
@blp.alt_response(503, schema=ErrorSchema, description="unavailable")
@blp.doc(security=SECURITY)
def redeem(data: dict):
    """Redeem a voucher at a merchant (a gift card: take `amount` from its balance).

    Exactly once, however many requests race for it. Percent vouchers need `bill_amount` to work
    out the discount (and vouchers with a minimum bill need it too), gift cards need `amount`, and
    `merchant_id` must be one of the brand's stores (422 naming the field). Send an Idempotency-Key
    to retry safely.
    """
    return redemptions.redeem_voucher(
        g.brand_id,
        data["code"],
        data["merchant_id"],
        amount=data.get("amount"),
        bill_amount=data.get("bill_amount"),
        idempotency_key=request.headers.get("Idempotency-Key"),
        actor=g.actor,
    )


@blp.route("/redemptions/<int:redemption_id>", methods=["GET"])
@blp.response(200, RedemptionOutSchema)
@blp.alt_response(404, schema=ErrorSchema, description="not_found: no such redemption of this brand.")
@blp.doc(security=SECURITY)
def get_redemption(redemption_id: int):
    """One redemption.

    What was taken off which bill, at which store, and whether it was voided.
    """
    return redemptions.get_redemption(g.brand_id, redemption_id)


@blp.route("/redemptions/<int:redemption_id>/void", methods=["POST"])
@idempotent
@blp.arguments(VoidInSchema, required=False)
@blp.response(200, RedemptionOutSchema)
@blp.alt_response(404, schema=ErrorSchema, description="not_found: no such redemption of this brand.")
@blp.alt_response(409, schema=ErrorSchema, description="void_window_closed, already_voided")
@blp.doc(security=SECURITY)
def void_redemption(data: dict, redemption_id: int):
    """Undo a mistaken redemption within the void window; the voucher or balance comes back.

    Allowed for VOID_WINDOW_SECONDS after the redemption (a day by default), once.
    """
    return redemptions.void_redemption(g.brand_id, redemption_id, data.get("reason"))
