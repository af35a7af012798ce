"""Dashboard pages for the brand's mail: what was sent (or, in development, written to files) and
each mail's text and HTML parts."""

from __future__ import annotations

from typing import Any

from flask import Response, current_app, render_template, request

from dashboard.access import admin_blueprint, current_brand
from lixi.mail import MAIL_PAGE_SIZE, get_mail, list_mail
from lixi.schemas import parse_id

bp = admin_blueprint("dashboard_mail", __name__)

# A mail's HTML is the brand's content, not one of our pages: shown on its own, with no script, no
# form and nothing fetched from elsewhere (inline styles are how mail is styled).
MAIL_HTML_POLICY = "; ".join(
    ["sandbox", "default-src 'none'", "style-src 'unsafe-inline'", "img-src data:", "frame-ancestors 'none'"]
)


@bp.get("/mail")
def mail_page() -> Any:
    """The brand's mail, newest first: subject, recipient, kind, status and time."""
    brand = current_brand()
    mails = list_mail(brand.id, parse_id(request.args.get("before")))
    return render_template(
        "dashboard/mail.html",
        brand=brand,
        mails=mails,
        more=len(mails) >= MAIL_PAGE_SIZE,
        to_files=not current_app.config["SMTP_URL"],
    )


@bp.get("/mail/<int:mail_id>")
def mail_detail(mail_id: int) -> Any:
    """One mail: its headers, delivery attempts and text part, with a link to the HTML part."""
    brand = current_brand()
    return render_template("dashboard/mail_message.html", brand=brand, mail=get_mail(brand.id, mail_id))


@bp.get("/mail/<int:mail_id>/html")
def mail_html(mail_id: int) -> Response:
    """The mail's HTML part as the member sees it, under a policy that runs nothing."""
    mail = get_mail(current_brand().id, mail_id)
    response = Response(mail.html_body or "", mimetype="text/html")
    response.headers["Content-Security-Policy"] = MAIL_HTML_POLICY
    response.headers["Cache-Control"] = "no-store"
    return response
