"""What games write down: its audit actions and the outbox topics it publishes, named once here."""

from __future__ import annotations

from typing import Final

# Audit actions (lixi.audit.record_audit), one per state change.
CAMPAIGN_CREATED: Final = "campaign.created"
CAMPAIGN_ACTIVATED: Final = "campaign.activated"
CAMPAIGN_PAUSED: Final = "campaign.paused"
CAMPAIGN_ENDED: Final = "campaign.ended"
PLAYS_GRANTED: Final = "plays.granted"
EVENT_RECORDED: Final = "event.recorded"
PLAY_MADE: Final = "play.made"
ENTRY_MADE: Final = "entry.made"
DRAW_RUN: Final = "draw.run"

# Outbox topics (lixi.outbox.publish): a won prize that issued a voucher.
PRIZE_WON: Final = "prize.won"
TOPICS: Final = (PRIZE_WON,)
