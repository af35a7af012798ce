"""The audit log's details as words: `key: value` pairs in the page's language, not escaped JSON."""

from __future__ import annotations

from typing import Any

from flask_babel import lazy_gettext as _l

from lixi.formatting import number

# Labels of the keys the domains write (a search for `record_audit(` finds them); an unknown key
# shows as itself, so nothing is hidden.
LABELS = {
    "active": _l("offered"),
    "amount": _l("amount"),
    "balance": _l("balance"),
    "balance_after": _l("balance after"),
    "batch_id": _l("batch"),
    "campaign_id": _l("campaign"),
    "clawback": _l("clawed back"),
    "code": _l("code"),
    "count": _l("count"),
    "email": _l("email"),
    "entries": _l("entries"),
    "error": _l("error"),
    "fields": _l("fields changed"),
    "grants": _l("grants"),
    "kind": _l("kind"),
    "member": _l("member"),
    "member_id": _l("member"),
    "merchant_id": _l("store"),
    "merchant_ids": _l("stores"),
    "name": _l("name"),
    "offer_id": _l("offer"),
    "plays": _l("plays"),
    "points": _l("points"),
    "prefix": _l("key prefix"),
    "prize_id": _l("prize"),
    "reason": _l("reason"),
    "redemption_id": _l("redemption"),
    "referrer_external_id": _l("referrer"),
    "refund": _l("refund"),
    "role": _l("role"),
    "source": _l("source"),
    "status": _l("status"),
    "topics": _l("events"),
    "type": _l("type"),
    "url": _l("URL"),
    "voucher": _l("voucher"),
    "winners": _l("winners"),
}


def readable(value: Any) -> str:
    """One value as text: numbers in the locale's digits, lists joined, nested objects inline."""
    if value is None:
        return "—"
    if isinstance(value, bool):
        return str(_l("yes") if value else _l("no"))
    if isinstance(value, int | float):
        return number(value)
    if isinstance(value, list | tuple):
        return ", ".join(readable(item) for item in value) or "—"
    if isinstance(value, dict):
        return "; ".join(f"{label}: {text}" for label, text in describe(value))
    return str(value)


def describe(data: dict[str, Any] | None) -> list[tuple[str, str]]:
    """An audit row's data as (label, text) pairs, in the order it was written."""
    return [(str(LABELS.get(key, key)), _text(key, value)) for key, value in (data or {}).items()]


def _text(key: str, value: Any) -> str:
    # Ids are names, not quantities: 1234 stays 1234, not 1.234.
    if key.endswith(("_id", "_ids")) and not isinstance(value, dict):
        return ", ".join(map(str, value)) if isinstance(value, list) else str(value)
    return readable(value)
