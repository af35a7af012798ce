"""Scheduled lucky draws: plays are entries until `draw_at`; then the winners are drawn once.

Entries are ranked by HMAC-SHA256(seed, "<campaign>:draw:<entry>") (the same committed seed as
instant plays), lowest first; prizes go in their order, one per winner, each member winning at
most once, until each prize's stock is given. After the campaign ends anyone can recompute the
ranking from the revealed seed.
"""

from __future__ import annotations

import hashlib
import hmac

from sqlalchemy import select, update

from games.events import DRAW_RUN
from games.models import Campaign, Play
from lixi import timeutil
from lixi.audit import record_audit
from lixi.database import write_transaction
from lixi.extensions import db
from lixi.models import Brand
from vouchers.models import Offer
from vouchers.service import insert_vouchers


def entry_rank(seed: str, campaign_id: int, entry_id: int) -> str:
    """The entry's place in the draw, as hex: lower wins first."""
    message = f"{campaign_id}:draw:{entry_id}".encode("ascii")
    return hmac.new(seed.encode("ascii"), message, hashlib.sha256).hexdigest()


def winning_entries(seed: str, campaign: Campaign, entries: list[Play]) -> list[tuple[Play, int]]:
    """(entry, prize id) pairs: the ranking applied to the prizes' stock, one win per member."""
    slots = [
        prize for prize in campaign.prizes if prize.offer_id is not None for _ in range(prize.stock or 0)
    ]
    ranked = sorted(entries, key=lambda entry: entry_rank(seed, campaign.id, entry.id))
    winners: list[tuple[Play, int]] = []
    seen_members: set[int] = set()
    for entry in ranked:
        if len(winners) == len(slots):
            break
        if entry.member_id in seen_members:
            continue
        seen_members.add(entry.member_id)
        winners.append((entry, slots[len(winners)].id))
    return winners


def run_draw(campaign_id: int) -> list[tuple[Play, int]]:
    """Draw a due scheduled campaign exactly once (a conditional UPDATE claims it); [] if not due or done."""
    now = timeutil.utcnow()
    with write_transaction() as session:
        claimed = session.execute(
            update(Campaign)
            .where(
                Campaign.id == campaign_id,
                Campaign.draw_at.is_not(None),
                Campaign.draw_at <= now,
                Campaign.drawn_at.is_(None),
                Campaign.seed.is_not(None),
            )
            .values(drawn_at=now)
            .execution_options(synchronize_session=False)
        )
        if claimed.rowcount != 1:
            return []
        campaign = session.get(Campaign, campaign_id)
        assert campaign is not None and campaign.seed is not None
        brand = session.get(Brand, campaign.brand_id)
        entries = list(session.execute(select(Play).where(Play.campaign_id == campaign.id)).scalars())
        winners = winning_entries(campaign.seed, campaign, entries)
        prizes = {prize.id: prize for prize in campaign.prizes}
        for entry, prize_id in winners:
            offer = session.get(Offer, prizes[prize_id].offer_id)
            voucher = insert_vouchers(brand, offer, 1, entry.member_id, source="draw")[0]
            entry.prize_id, entry.voucher_id = prize_id, voucher.id
            entry.proof = {**entry.proof, "rank": entry_rank(campaign.seed, campaign.id, entry.id)}
        record_audit(
            campaign.brand_id,
            DRAW_RUN,
            "campaign",
            campaign.id,
            {"entries": len(entries), "winners": len(winners)},
        )
    return winners


def due_draws() -> list[int]:
    """Ids of the scheduled campaigns whose draw time has come and that are not drawn yet."""
    now = timeutil.utcnow()
    return list(
        db.session.execute(
            select(Campaign.id).where(
                Campaign.draw_at <= now, Campaign.drawn_at.is_(None), Campaign.seed.is_not(None)
            )
        ).scalars()
    )
