"""A gift's claim link: /g/<token>, signed, and the gift it opens."""

from __future__ import annotations

from gifting.models import Gift
from lixi.extensions import db
from lixi.mail import public_url
from lixi.signing import BadData, sign, unsign

TOKEN_PURPOSE = "gift"  # noqa: S105 - a signing salt name, not a secret


def gift_token(gift_id: int) -> str:
    return sign(gift_id, TOKEN_PURPOSE)


def claim_url(gift: Gift) -> str:
    return public_url(f"/g/{gift_token(gift.id)}")


def find_gift_by_token(token: str) -> Gift | None:
    """The gift of a genuine claim link (any brand's), or None."""
    if not token or len(token) > 200:
        return None
    try:
        gift_id = unsign(token, TOKEN_PURPOSE)
    except (BadData, UnicodeError, ValueError, TypeError):
        return None
    if not isinstance(gift_id, int):
        return None
    return db.session.get(Gift, gift_id)
