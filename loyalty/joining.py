"""A member joining (the kernel's member hook): the referral they came with, and the welcome mail."""

from __future__ import annotations

from typing import Any

from lixi.models import Member
from loyalty import messages, referrals
from loyalty.programme import find_programme
from loyalty.urls import member_page_url


def on_member_upsert(member: Member, created: bool, fields: dict[str, Any]) -> None:
    referrals.tie_referral(member, created, fields)
    if created and find_programme(member.brand_id) is not None:
        messages.welcome(member, member_page_url(member) or "")
