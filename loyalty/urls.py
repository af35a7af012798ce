"""The member's page link for messages: a fresh signed member link to /me (loyalty's member home)."""

from __future__ import annotations

from flask import current_app, has_request_context

from lixi.member_links import member_token
from lixi.models import Member
from vouchers.schemas import base_url

MEMBER_PAGE = "/me"


def member_page_url(member: Member) -> str | None:
    """The member's own page, signed for them; None when no base URL is known (a job run outside a
    request without PUBLIC_BASE_URL), so a message goes without the link rather than with a wrong one."""
    if not has_request_context() and not current_app.config["PUBLIC_BASE_URL"]:
        return None
    return f"{base_url()}{MEMBER_PAGE}?t={member_token(member.brand_id, member.id, None)}"
