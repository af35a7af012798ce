"""Logging staff in through the real form (CSRF token and all), with the test client or requests."""

from __future__ import annotations

import re

PASSWORD = "correct horse battery"  # noqa: S105 - a test account's password

_FORM_TOKEN = re.compile(r'name="csrf_token" type="hidden" value="([^"]+)"|name="csrf_token" value="([^"]+)"')
_META_TOKEN = re.compile(r'<meta name="csrf-token" content="([^"]+)"')


def form_token(html: str) -> str:
    match = _FORM_TOKEN.search(html)
    assert match, "no CSRF token in the form"
    return match.group(1) or match.group(2)


def page_token(html: str) -> str:
    match = _META_TOKEN.search(html)
    assert match, "no CSRF token in the page"
    return match.group(1)
