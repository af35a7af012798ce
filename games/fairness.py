"""Provably fair draws: commit to a secret seed, derive each play from HMAC(seed, play), reveal later.

On activation the server draws a seed with `secrets` and shows only its SHA-256. Each play's
roll is HMAC-SHA256(seed, "<campaign>:<play>"), so the outcome is fixed by the seed and the
play's id, neither of which the player controls; the proof stores the candidates (prize ids
and weights that had stock, cap and budget left) and any prize that ran out at the last moment.
After the seed is revealed anyone can recompute every play; `check_campaign` does it for the
public fairness page.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import select

from games.draws import winning_entries
from games.models import Campaign, CampaignStatus, Play
from lixi.errors import NotFound
from lixi.extensions import db
from lixi.models import Brand


def new_seed() -> tuple[str, str]:
    """(seed, commitment): the seed stays secret until the campaign ends; the hash is shown at once."""
    seed = secrets.token_hex(32)
    return seed, commitment(seed)


def commitment(seed: str) -> str:
    """The SHA-256 of the seed, published on activation."""
    return hashlib.sha256(seed.encode("ascii")).hexdigest()


def roll(seed: str, campaign_id: int, play_id: int) -> str:
    """The play's random number, as hex (256 bits: the modulo bias below is about 2^-220)."""
    message = f"{campaign_id}:{play_id}".encode("ascii")
    return hmac.new(seed.encode("ascii"), message, hashlib.sha256).hexdigest()


def pick(roll_hex: str, candidates: Sequence[tuple[int, int]], skipped: Sequence[int] = ()) -> int | None:
    """The prize id the roll lands on among (prize_id, weight) candidates, skipping those that ran out."""
    remaining = [(prize_id, weight) for prize_id, weight in candidates if prize_id not in skipped]
    total = sum(weight for _, weight in remaining)
    if total <= 0:
        return None
    point = int(roll_hex, 16) % total
    for prize_id, weight in remaining:
        if point < weight:
            return prize_id
        point -= weight
    raise AssertionError("unreachable: point < total")


def verify(
    seed: str, seed_hash: str, campaign_id: int, play_id: int, proof: dict, prize_id: int | None
) -> bool:
    """Does the stored play follow from the revealed seed?"""
    if commitment(seed) != seed_hash:
        return False
    expected_roll = roll(seed, campaign_id, play_id)
    if proof.get("roll") != expected_roll:
        return False
    candidates = [(int(p), int(w)) for p, w in proof.get("candidates", [])]
    skipped = [int(p) for p in proof.get("skipped", [])]
    return pick(expected_roll, candidates, skipped) == prize_id


@dataclass(frozen=True)
class CampaignCheck:
    """The public check of a campaign's draws: before the end only the commitment is shown."""

    campaign: Campaign
    brand: Brand
    revealed: bool
    checked: int = 0
    failed: int = 0


def check_campaign(campaign_id: int) -> CampaignCheck:
    """Recompute every play of an ended campaign from its revealed seed; 404 before activation."""
    campaign = db.session.get(Campaign, campaign_id)
    if campaign is None or campaign.seed_hash is None:
        raise NotFound()
    revealed = campaign.status == CampaignStatus.ENDED
    checked = failed = 0
    if revealed:
        assert campaign.seed is not None
        plays = list(db.session.execute(select(Play).where(Play.campaign_id == campaign.id)).scalars())
        verdicts = (
            _verify_draw(campaign, plays) if campaign.draw_at is not None else _verify_plays(campaign, plays)
        )
        checked = sum(verdicts)
        failed = len(verdicts) - checked
    brand = db.session.get(Brand, campaign.brand_id)
    assert brand is not None
    return CampaignCheck(campaign, brand, revealed, checked, failed)


def _verify_plays(campaign: Campaign, plays: list[Play]) -> list[bool]:
    """Instant plays: each one's roll and prize follow from the seed and its stored proof."""
    assert campaign.seed is not None and campaign.seed_hash is not None
    return [
        verify(campaign.seed, campaign.seed_hash, campaign.id, play.id, play.proof, play.prize_id)
        for play in plays
    ]


def _verify_draw(campaign: Campaign, entries: list[Play]) -> list[bool]:
    """A scheduled draw: the whole ranking recomputed, and each entry's prize (or none) compared."""
    assert campaign.seed is not None
    expected = {entry.id: prize_id for entry, prize_id in winning_entries(campaign.seed, campaign, entries)}
    return [expected.get(entry.id) == entry.prize_id for entry in entries]
