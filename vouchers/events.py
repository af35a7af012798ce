"""What vouchers write down: its audit actions and the outbox topics it publishes, named once here."""

from __future__ import annotations

from typing import Final

# Audit actions (lixi.audit.record_audit), one per state change.
OFFER_CREATED: Final = "offer.created"
OFFER_UPDATED: Final = "offer.updated"
OFFER_ARCHIVED: Final = "offer.archived"
VOUCHERS_ISSUED: Final = "vouchers.issued"  # one row per issuing call, for its whole batch
VOUCHER_REDEEMED: Final = "voucher.redeemed"
VOUCHER_VOIDED: Final = "voucher.voided"
REDEMPTION_VOIDED: Final = "redemption.voided"
BULK_REQUESTED: Final = "vouchers.bulk_requested"
BULK_ISSUED: Final = "vouchers.bulk_issued"
BULK_FAILED: Final = "vouchers.bulk_failed"

# Outbox topics (lixi.outbox.publish). They are the webhook contract (API.md), so they are named
# apart from the audit actions even where the words are the same.
TOPIC_VOUCHER_ISSUED: Final = "voucher.issued"
TOPIC_VOUCHER_REDEEMED: Final = "voucher.redeemed"
TOPIC_VOUCHER_VOIDED: Final = "voucher.voided"
TOPIC_REDEMPTION_VOIDED: Final = "redemption.voided"
TOPICS: Final = (TOPIC_VOUCHER_ISSUED, TOPIC_VOUCHER_REDEEMED, TOPIC_VOUCHER_VOIDED, TOPIC_REDEMPTION_VOIDED)
