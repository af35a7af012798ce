"""What gifting writes down: its audit actions and the outbox topics it publishes, named once here."""

from __future__ import annotations

from typing import Final

# Audit actions (lixi.audit.record_audit).
GIFT_CREATED: Final = "gift.created"
GIFT_RESENT: Final = "gift.resent"
ENVELOPE_CLAIMED: Final = "gift.envelope_claimed"
BATCH_CHECKED: Final = "gift_batch.checked"
BATCH_SENT: Final = "gift_batch.sent"
BATCH_STARTED: Final = "gift_batch.started"  # the admin pressed "Send": queued for the job
BATCH_FAILED: Final = "gift_batch.failed"

# Outbox topics (lixi.outbox.publish); each is also the audit action of its change.
GIFT_SENT: Final = "gift.sent"
GIFT_OPENED: Final = "gift.opened"
GIFT_CLAIMED: Final = "gift.claimed"
GIFT_EXPIRED: Final = "gift.expired"
GIFT_RETURNED: Final = "gift.returned"
GIFT_CANCELLED: Final = "gift.cancelled"
# A text for the brand's own SMS or Zalo provider: the gift's link, a reminder or a claim code.
GIFT_DELIVERY_REQUESTED: Final = "gift.delivery_requested"
TOPICS: Final = (
    GIFT_SENT,
    GIFT_OPENED,
    GIFT_CLAIMED,
    GIFT_EXPIRED,
    GIFT_RETURNED,
    GIFT_CANCELLED,
    GIFT_DELIVERY_REQUESTED,
)
