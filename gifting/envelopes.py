"""Splitting a lì xì into envelopes: equal shares, or random ones above a floor that sum exactly
to the total, drawn with `secrets` on the server."""

from __future__ import annotations

import secrets

from gifting.models import SplitMode

ROUND_UNIT = 1000  # VND amounts people give are whole thousands: keep to them when the total allows


def split_amounts(total: int, count: int, mode: str, floor: int) -> list[int]:
    """`count` amounts of at least `floor` that sum to `total` (ValueError when they cannot)."""
    if count < 1 or floor < 1 or floor * count > total:
        raise ValueError("The total cannot give every envelope the minimum.")
    unit = ROUND_UNIT if total % ROUND_UNIT == 0 and floor % ROUND_UNIT == 0 else 1
    units, floor_units = total // unit, floor // unit
    if mode == SplitMode.EQUAL:
        share, extra = divmod(units, count)
        amounts = [share + (1 if i < extra else 0) for i in range(count)]
    else:
        amounts = _random_units(units - floor_units * count, count)
        amounts = [floor_units + a for a in amounts]
        # The positions are the order envelopes are claimed in: shuffle so no place is better.
        amounts = [amounts.pop(secrets.randbelow(len(amounts))) for _ in range(count)]
    return [a * unit for a in amounts]


def _random_units(spare: int, count: int) -> list[int]:
    """Share `spare` units among `count` envelopes as WeChat's red packets do ("twice the mean"):
    each draw is uniform up to twice what is left per envelope, so no envelope can take almost
    everything and the last ones are not starved."""
    shares = []
    for left in range(count, 1, -1):
        most = 2 * spare // left
        share = secrets.randbelow(most + 1) if most > 0 else 0
        shares.append(share)
        spare -= share
    shares.append(spare)
    return shares
