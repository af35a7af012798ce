"""The draw follows the configured odds, and every outcome can be recomputed from the revealed seed."""

from __future__ import annotations

import pathlib
import re
from collections import Counter

import pytest
from scipy.stats import chisquare

from games.fairness import commitment, new_seed, pick, roll, verify
from tests.conftest import POSTGRES

WEIGHTS = [(1, 1), (2, 4), (3, 15), (4, 80)]  # (prize id, weight): 1 %, 4 %, 15 %, 80 %


def _draws(seed: str, n: int) -> Counter:
    return Counter(pick(roll(seed, 7, play_id), WEIGHTS) for play_id in range(1, n + 1))


def test_100000_draws_fit_the_weights():
    total = sum(w for _, w in WEIGHTS)
    failures = 0
    for _ in range(2):  # fail only if two independent seeds both fail
        seed, _ = new_seed()
        counts = _draws(seed, 100_000)
        observed = [counts[prize_id] for prize_id, _ in WEIGHTS]
        expected = [100_000 * w / total for _, w in WEIGHTS]
        if chisquare(observed, expected).pvalue <= 0.01:
            failures += 1
    assert failures < 2


def test_a_prize_that_ran_out_falls_to_the_next_outcome():
    seed, _ = new_seed()
    for play_id in range(1, 200):
        first = pick(roll(seed, 1, play_id), WEIGHTS)
        fallback = pick(roll(seed, 1, play_id), WEIGHTS, skipped=[first])
        assert fallback is not None and fallback != first
    assert pick(roll(seed, 1, 1), WEIGHTS, skipped=[1, 2, 3, 4]) is None


def test_verify_detects_a_changed_outcome_or_seed():
    seed, seed_hash = new_seed()
    assert commitment(seed) == seed_hash and len(seed_hash) == 64
    the_roll = roll(seed, 3, 42)
    proof = {"roll": the_roll, "candidates": WEIGHTS, "skipped": []}
    outcome = pick(the_roll, WEIGHTS)
    assert verify(seed, seed_hash, 3, 42, proof, outcome)
    assert not verify(seed, seed_hash, 3, 42, proof, next(p for p, _ in WEIGHTS if p != outcome))
    assert not verify(seed, seed_hash, 3, 43, proof, outcome)
    other_seed, _ = new_seed()
    assert not verify(other_seed, seed_hash, 3, 42, proof, outcome)


def test_no_module_random_decides_anything():
    root = pathlib.Path(__file__).resolve().parents[2]
    for package in ("games", "vouchers", "lixi"):
        for source in (root / package).rglob("*.py"):
            assert not re.search(r"^\s*(import random|from random import)", source.read_text(), re.M), source


# (label, weight): 1 %, 4 %, 15 %, 80 %; no offers, so a play costs one write transaction and no voucher.
SERVICE_PRIZES = [("Grand", 1), ("Big", 4), ("Small", 15), ("Nothing", 80)]
SERVICE_DRAWS = 100_000


def _service_counts(api, brand_id: int) -> list[int]:
    """Play SERVICE_DRAWS times through the play service (the database, the seed, the draw, the proof)."""
    from games import earning, plays

    prizes = [{"label": label, "weight": weight} for label, weight in SERVICE_PRIZES]
    campaign = api.post("/campaigns", {"name": "Odds", "game": "spin_wheel", "prizes": prizes}).get_json()
    assert api.post(f"/campaigns/{campaign['id']}/activate").status_code == 200
    api.post("/members", {"external_id": "fair"})
    # The API grants at most 1,000 at a time; the service has no such cap.
    assert earning.grant_plays(brand_id, "fair", campaign["id"], SERVICE_DRAWS) == SERVICE_DRAWS
    counts = Counter(plays.play(brand_id, campaign["id"], "fair").prize.label for _ in range(SERVICE_DRAWS))
    assert sum(counts.values()) == SERVICE_DRAWS
    return [counts[label] for label, _ in SERVICE_PRIZES]


@pytest.mark.slow
@pytest.mark.skipif(POSTGRES, reason="the draw is the same on both databases; once is enough for the time")
def test_100000_plays_through_the_service_fit_the_weights(api, brand):
    total = sum(weight for _, weight in SERVICE_PRIZES)
    expected = [SERVICE_DRAWS * weight / total for _, weight in SERVICE_PRIZES]
    p_values = []
    for _ in range(2):  # fail only if two independent runs (two campaigns, two seeds) both fail
        p_values.append(chisquare(_service_counts(api, brand.id), expected).pvalue)
        if p_values[-1] > 0.01:
            break
    assert p_values[-1] > 0.01, p_values
