"""schemathesis hooks for the live fuzz run (tests/test_openapi.py): test data shaped like a real
client's, and the contract's refusals that JSON Schema cannot state."""

from __future__ import annotations

import json
import uuid
from typing import Any

import schemathesis
from schemathesis.openapi.checks import RejectedPositiveData

from lixi.openapi import MAX_IDEMPOTENCY_KEY_LENGTH

# A valid-by-schema request may still be refused with a 422 on what a schema cannot say: stored
# state (ids that are not the brand's, an archived offer, what a voucher of a given kind needs),
# the clock (a date already past) or two fields compared. Each is named here by operation, field
# and the start of its message, so any other 422 on a valid request still fails the run.
BEYOND_THE_SCHEMA = {
    ("create_offer", "valid_until", "valid_until is already in the past"),
    ("create_offer", "merchant_ids", "Unknown merchants"),
    ("create_staff", "merchant_ids", "Unknown merchants"),
    ("create_campaign", "ends_at", "ends_at must come after starts_at"),
    ("create_campaign", "prizes", "Unknown offers"),
    ("create_campaign", "max_amount", "max_amount must not be below min_amount"),
    ("create_campaign", "pacing", "Pacing draws a moment per prize unit"),  # the stocks' sum
    ("issue_vouchers", "offer_id", "This offer is archived"),
    ("validate_voucher", "merchant_id", "No such merchant"),
    ("validate_voucher", "bill_amount", "Percent vouchers need bill_amount"),
    ("validate_voucher", "bill_amount", "This voucher has a minimum bill"),
    ("redeem", "merchant_id", "No such merchant"),
    ("redeem", "bill_amount", "Percent vouchers need bill_amount"),
    ("redeem", "bill_amount", "This voucher has a minimum bill"),
    ("redeem", "amount", "Gift cards need the amount"),
    ("upsert_member", "referred_by", "No member has this referral code"),
    ("upsert_member", "referred_by", "Only a new member can join with a referral code"),
    ("upsert_member", "referred_by", "A member cannot refer themselves"),
    ("upsert_member", "referred_by", "This referral code has been used as often as allowed"),
    ("put_programme", "tiers", "Tier names must differ"),
    ("put_programme", "tiers", "Tiers must have different min_points"),
    ("put_programme", "tier_multipliers", "No such tier"),
    ("put_programme", "max_amount", "max_amount must not be below min_amount"),
    ("create_reward", "ends_at", "ends_at must come after starts_at"),
    ("create_reward", "offer_id", "This offer is archived"),
    ("create_reward", "min_tier", "No such tier in the programme"),
    # Addresses and numbers are checked by email-validator and phonenumbers, not a pattern.
    ("send_gift", "recipient.email", "This is not an email address"),
    ("send_gift", "recipient.phone", "This is not a phone number"),
    ("resend_gift", "email", "This is not an email address"),
    ("resend_gift", "phone", "This is not a phone number"),
    ("send_gift", "offer_id", "This offer is archived"),
    # What the offer (or the member's voucher) is decides what may be split or given as an amount.
    ("send_gift", "amount", "Only a gift-card offer can be given"),
    ("send_gift", "split", "Only a gift-card offer can be given"),
    ("send_gift", "split", "Only a gift card can be split"),
    ("send_gift", "split.total", "Say the total to split"),
    ("send_gift", "split.total", "The total cannot give every envelope"),
    ("send_gift", "split.total", "A member's gift card is split whole"),
    # The lunar calendar decides which days a month has; "ahead" is counted from now.
    ("send_gift", "send_on_lunar", "That lunar month has no such day"),
    ("send_gift", "send_on_lunar", "That month is not a leap month"),
    ("send_gift", "send_on_lunar", "A gift can be scheduled up to"),
    ("send_gift", "send_at", "A gift can be scheduled up to"),
    ("send_gift", "send_on_lunar", "That lunar date has passed"),
    ("send_gift", "send_at", "The voucher expires before the gift would be sent"),
    ("send_gift", "send_on_lunar", "The voucher expires before the gift would be sent"),
}


def _refused_fields(content: bytes) -> list[tuple[str, str]]:
    try:
        error = json.loads(content)["error"]
    except (ValueError, KeyError, TypeError):
        return []
    if error.get("code") != "invalid_request":
        return []
    refused: list[tuple[str, str]] = []
    # Nested fields (prizes.0.label) are named by their own name: {"prizes": {"0": {"label": […]}}}.
    stack: list[tuple[str, Any]] = list(((error.get("details") or {}).get("fields") or {}).items())
    while stack:
        name, messages = stack.pop()
        if isinstance(messages, dict):
            stack.extend((name if key.isdigit() else key, value) for key, value in messages.items())
        else:
            refused.extend((name, message) for message in messages if isinstance(message, str))
    return refused


@schemathesis.hook
def filter_failure(context: Any, failure: Any, case: Any, response: Any) -> bool:
    """Keep every failure but a 422 on a valid request whose every reason is in BEYOND_THE_SCHEMA."""
    if not isinstance(failure, RejectedPositiveData) or response.status_code != 422:
        return True
    operation = case.operation.definition.raw.get("operationId")
    refused = _refused_fields(response.content)
    beyond = all(
        any(
            op == operation and field == name and message.startswith(start)
            for op, field, start in BEYOND_THE_SCHEMA
        )
        for name, message in refused
    )
    return not (refused and beyond)


@schemathesis.hook
def before_call(context: Any, case: Any, kwargs: dict[str, Any]) -> None:
    """Each generated request is a change of its own, so a valid Idempotency-Key gets a unique
    suffix: otherwise two bodies generated with the key "0" are a key reused with another body,
    which the contract refuses (422 idempotency_key_reused, as the IETF Idempotency-Key draft asks)
    and schemathesis, which sees requests one at a time, would call a valid request refused.
    Invalid keys (blank, too long) are sent as generated."""
    key = (case.headers or {}).get("Idempotency-Key")
    if isinstance(key, str) and key.strip() and len(key) <= MAX_IDEMPOTENCY_KEY_LENGTH:
        suffix = "-" + uuid.uuid4().hex
        case.headers["Idempotency-Key"] = key[: MAX_IDEMPOTENCY_KEY_LENGTH - len(suffix)] + suffix
