"""Security headers: every response is nosniff and unframeable; pages carry a CSP they can keep."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

from lixi.config import ROOT
from lixi.security import CONTENT_SECURITY_POLICY


def _policy(response) -> dict[str, list[str]]:
    directives = [d.strip().split() for d in response.headers["Content-Security-Policy"].split(";")]
    return {d[0]: d[1:] for d in directives if d}


def test_pages_send_the_security_headers(client, issue, offer):
    voucher = issue(offer["id"])[0]
    for path in (urlsplit(voucher["url"]).path, "/merchant/login", "/dashboard/login", "/nowhere"):
        response = client.get(path)
        assert response.status_code in (200, 404), path
        assert response.headers["X-Frame-Options"] == "DENY"
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        assert response.headers["Referrer-Policy"] == "same-origin"
        policy = _policy(response)
        assert policy["frame-ancestors"] == ["'none'"]
        assert "'unsafe-inline'" not in policy["script-src"] and "'unsafe-eval'" not in policy["script-src"]
        assert policy["object-src"] == ["'none'"]


def test_json_and_images_get_nosniff_but_no_page_policy(client, api, issue, offer):
    voucher = issue(offer["id"])[0]
    response = api.get(f"/vouchers/{voucher['code']}")
    assert response.status_code == 200
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert "Content-Security-Policy" not in response.headers
    qr = client.get(urlsplit(voucher["qr_svg_url"]).path)
    assert qr.status_code == 200
    assert qr.headers["X-Content-Type-Options"] == "nosniff"
    assert "Content-Security-Policy" not in qr.headers


def test_the_policy_allows_no_inline_script_so_templates_have_none():
    """The CSP forbids inline scripts and on…= handlers: a template that adds one breaks its page."""
    assert "'unsafe-inline'" not in CONTENT_SECURITY_POLICY.split("script-src", 1)[1].split(";", 1)[0]
    offenders = []
    for template in sorted((ROOT / "templates").rglob("*.html")):
        html = template.read_text()
        for tag in re.findall(r"<script\b[^>]*>", html):
            if "src=" not in tag and 'type="application/json"' not in tag:
                offenders.append(f"{template.name}: {tag}")
        offenders += [f"{template.name}: {m}" for m in re.findall(r"\son[a-z]+\s*=", html)]
        offenders += [f"{template.name}: {m}" for m in re.findall(r"\sstyle\s*=", html)]
        offenders += [f"{template.name}: {m}" for m in re.findall(r"javascript:", html)]
    assert offenders == []


def test_every_page_links_a_favicon_that_is_served(client):
    page = client.get("/merchant/login").get_data(as_text=True)
    href = re.search(r'<link rel="icon" href="([^"]+)"', page)
    assert href, "no favicon link: browsers then ask /favicon.ico and get a 404 on every page"
    icon = client.get(href.group(1))
    assert icon.status_code == 200 and icon.mimetype == "image/svg+xml"
