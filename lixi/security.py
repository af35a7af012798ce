"""Security headers on every response, and a Content-Security-Policy that the pages keep to."""

from __future__ import annotations

from flask import Flask, Response, current_app

# The pages run no inline script and no inline event handler (static/js/lixi.js wires
# confirmations and auto-submitting selects from data- attributes), so script-src needs neither
# a nonce nor 'unsafe-inline'. 'wasm-unsafe-eval' lets the merchant page's barcode ponyfill
# compile its vendored zxing_reader.wasm; nothing else is evaluated. Styles come from our one
# stylesheet: the wheel and Chart.js set styles through the CSSOM (element.style), which CSP
# allows, and no template has a style attribute, so style-src needs no 'unsafe-inline' either.
# QR codes are same-origin images; the camera is a MediaStream (srcObject), not a URL.
CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self' 'wasm-unsafe-eval'",
        "style-src 'self'",
        "img-src 'self' data: blob:",
        "media-src 'self' blob: mediastream:",
        "connect-src 'self'",
        "font-src 'self'",
        "object-src 'none'",
        "base-uri 'self'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ]
)

# We write these few headers ourselves rather than use flask-talisman: talisman also forces
# HTTPS redirects, HSTS and the session cookie's flags, which are the proxy's and our config's
# jobs here (TLS ends at the load balancer; SESSION_COOKIE_SECURE follows PUBLIC_BASE_URL), and
# its per-request nonce is not needed by pages with no inline script.
HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    # same-origin, not no-referrer: Flask-WTF checks the Referer of forms posted over HTTPS, and
    # member links carry a signed token in the query string that must not leak to other sites.
    "Referrer-Policy": "same-origin",
    "Permissions-Policy": "camera=(self), microphone=(), geolocation=(), payment=()",
}


def add_security_headers(response: Response) -> Response:
    """Every response gets the plain headers; HTML pages also get the Content-Security-Policy."""
    for name, value in HEADERS.items():
        response.headers.setdefault(name, value)
    # JSON, CSV and images are not documents a browser runs scripts in; an SVG QR code loaded by
    # <img> does not need a policy either.
    if response.mimetype == "text/html":
        response.headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
    return response


def cookies_secure() -> bool:
    """Cookies we set ourselves (the game page's device cookie) are Secure when the site is HTTPS."""
    return str(current_app.config.get("PUBLIC_BASE_URL", "")).startswith("https://")


def register_security_headers(app: Flask) -> None:
    app.after_request(add_security_headers)
