"""Public voucher pages: /v/<token> and its QR images."""

from __future__ import annotations

from flask import Blueprint, Response, abort, render_template
from flask_babel import refresh

from vouchers.qr import cached_qr
from vouchers.schemas import voucher_url
from vouchers.service import code_from_token, find_public_voucher

bp = Blueprint("vouchers_pages", __name__)
# The locale is cached on the app context, which tests (and CLI-driven renders) share across requests.
bp.before_request(refresh)

QR_CACHE_CONTROL = "public, max-age=86400, immutable"


def _qr_response(token: str, fmt: str, mimetype: str) -> Response:
    # A genuine signature is enough: the image holds nothing the token does not.
    if code_from_token(token) is None:
        abort(404)
    url = voucher_url(token)
    response = Response(cached_qr(url, fmt), mimetype=mimetype)
    response.headers["Cache-Control"] = QR_CACHE_CONTROL
    return response


@bp.get("/v/<token>/qr.png")
def qr_png(token: str) -> Response:
    """The voucher's QR code as PNG."""
    return _qr_response(token, "png", "image/png")


@bp.get("/v/<token>/qr.svg")
def qr_svg(token: str) -> Response:
    """The voucher's QR code as SVG."""
    return _qr_response(token, "svg", "image/svg+xml")


@bp.get("/v/<token>")
def voucher_page(token: str) -> Response:
    """The public voucher page a customer shows at the till."""
    page = find_public_voucher(token)
    if page is None:
        abort(404)
    html = render_template(
        "vouchers/voucher.html",
        voucher=page.voucher,
        offer=page.voucher.offer,
        brand=page.brand,
        merchants=page.merchants,
        status=page.status,
        token=token,
    )
    response = Response(html, mimetype="text/html")
    response.headers["Cache-Control"] = "no-store"
    return response
