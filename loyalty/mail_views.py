"""The member's unsubscribe page, /u/<token>: the signed link in every member mail (RFC 8058)."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, render_template, request
from flask_babel import refresh

from lixi.extensions import csrf, db
from lixi.mail import ONE_CLICK, member_of_unsubscribe_token, unsubscribe
from lixi.models import Brand, Member

bp = Blueprint("loyalty_mail", __name__)
bp.before_request(refresh)  # the locale is cached on the app context; each page picks its own


@bp.get("/u/<token>")
def unsubscribe_page(token: str) -> Any:
    """Ask before unsubscribing: a link scanner that follows the link must not unsubscribe anyone."""
    member = member_of_unsubscribe_token(token)
    return _page(member, done=False)


@bp.post("/u/<token>")
@csrf.exempt
def unsubscribe_post(token: str) -> Any:
    """Unsubscribe: the page's button (with its CSRF token), or a mail client's one-click POST.

    RFC 8058's one-click POST comes from the mail provider with only `List-Unsubscribe=One-Click`
    and no cookie, so it cannot carry a CSRF token; the signed token in the URL is what it proves.
    Any other POST must carry the page's CSRF token.
    """
    member = member_of_unsubscribe_token(token)
    if request.form.get("List-Unsubscribe") != ONE_CLICK.partition("=")[2]:
        csrf.protect()
    unsubscribe(member)
    return _page(member, done=True)


def _page(member: Member, done: bool) -> str:
    brand = db.session.get(Brand, member.brand_id)
    return render_template("loyalty/unsubscribe.html", brand=brand, member=member, done=done)
