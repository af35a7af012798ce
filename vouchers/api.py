"""JSON API of offers, vouchers and redemptions (API.md)."""

from __future__ import annotations

from flask import g, request

from lixi.blueprints import SECURITY, api_blueprint
from lixi.extensions import limiter
from lixi.idempotency import idempotent
from lixi.ratelimit import (
    api_key_identity,
    client_ip,
    configured_limit,
    is_code_lookup_failure,
    shared_limit_from,
)
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


# Guessing codes: failed look-ups (404) count per client across validate and redeem.
failed_code_limit = shared_limit_from(
    "RATE_LIMIT_FAILED_CODES", "failed-codes", client_ip, deduct_when=is_code_lookup_failure
)


@blp.route("/offers", methods=["POST"])
@idempotent
@blp.arguments(OfferInSchema)
@blp.response(201, OfferOutSchema)
@blp.doc(security=SECURITY)
def create_offer(data: dict):
    """Create an offer: what a voucher is worth, where and until when."""
    return offers.create_offer(g.brand_id, data)


@blp.route("/offers/<int:offer_id>", methods=["GET"])
@blp.response(200, OfferOutSchema)
@blp.doc(security=SECURITY)
def get_offer(offer_id: int):
    """One offer."""
    return offers.get_offer(g.brand_id, offer_id)


@blp.route("/vouchers", methods=["POST"])
@idempotent
@blp.arguments(IssueInSchema)
@blp.response(201, VoucherListSchema)
@blp.alt_response(404, schema=ErrorSchema, description="Unknown offer or member.")
@blp.doc(security=SECURITY)
def issue_vouchers(data: dict):
    """Issue 1 to 10,000 vouchers of an offer, optionally to a member."""
    vouchers = service.issue_vouchers(
        g.brand_id, data["offer_id"], data["count"], data.get("member_external_id")
    )
    return {"vouchers": vouchers}


@blp.route("/vouchers/<string:code>", methods=["GET"])
@blp.response(200, VoucherOutSchema)
@blp.alt_response(404, schema=ErrorSchema, description="Unknown, forged or another brand's code.")
@blp.doc(security=SECURITY)
def get_voucher(code: str):
    """A voucher by its short code or token."""
    return service.find_voucher(g.brand_id, code)


@blp.route("/vouchers/<string:code>/void", methods=["POST"])
@idempotent
@blp.arguments(VoidInSchema)
@blp.response(200, VoucherOutSchema)
@blp.alt_response(409, schema=ErrorSchema, description="already_voided, already_redeemed")
@blp.doc(security=SECURITY)
def void_voucher(data: dict, code: str):
    """Cancel an unused voucher for good."""
    return service.void_voucher(g.brand_id, code, data.get("reason"))


@blp.route("/vouchers/validate", methods=["POST"])
@limiter.limit(configured_limit("RATE_LIMIT_VALIDATE_PER_IP"), key_func=client_ip)
@limiter.limit(configured_limit("RATE_LIMIT_VALIDATE_PER_KEY"), key_func=api_key_identity)
@failed_code_limit
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
    """Check that a code can be used now, here, for this bill, without using it."""
    check = redemptions.validate_voucher(
        g.brand_id, data["code"], data.get("merchant_id"), data.get("bill_amount")
    )
    return {"valid": True, "voucher": check.voucher, "amount": check.amount}


@blp.route("/redemptions", methods=["POST"])
@limiter.limit(configured_limit("RATE_LIMIT_REDEEM_PER_IP"), key_func=client_ip)
@limiter.limit(configured_limit("RATE_LIMIT_REDEEM_PER_KEY"), key_func=api_key_identity)
@failed_code_limit
@idempotent
@blp.arguments(RedeemInSchema)
@blp.response(201, RedemptionOutSchema)
@blp.alt_response(404, schema=ErrorSchema, description="Unknown, forged or another brand's code.")
@blp.alt_response(409, schema=ErrorSchema, description="as validate, plus insufficient_balance")
@blp.alt_response(429, schema=ErrorSchema, description="rate_limited")
@blp.alt_response(503, schema=ErrorSchema, description="unavailable")
@blp.doc(security=SECURITY)
def redeem(data: dict):
    """Redeem a voucher at a merchant (a gift card: take `amount` from its balance)."""
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
@blp.doc(security=SECURITY)
def get_redemption(redemption_id: int):
    """One redemption."""
    return redemptions.get_redemption(g.brand_id, redemption_id)


@blp.route("/redemptions/<int:redemption_id>/void", methods=["POST"])
@idempotent
@blp.arguments(VoidInSchema)
@blp.response(200, RedemptionOutSchema)
@blp.alt_response(409, schema=ErrorSchema, description="void_window_closed, already_voided")
@blp.doc(security=SECURITY)
def void_redemption(data: dict, redemption_id: int):
    """Undo a mistaken redemption within the void window; the voucher or balance comes back."""
    return redemptions.void_redemption(g.brand_id, redemption_id, data.get("reason"))
