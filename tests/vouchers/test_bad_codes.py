"""Forged, tampered, truncated, expired and foreign codes: always a clear 4xx, never a 5xx."""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta
from urllib.parse import quote

import pytest
from itsdangerous import URLSafeSerializer
from sqlalchemy import update

from lixi.extensions import db
from tests.conftest import error_code, fresh_app
from vouchers.models import Voucher

UNLIMITED = "1000000 per minute"


@pytest.fixture
def app(migrated, redis_url):
    """The suite's app, with the failed-code limit lifted so one test may send many bad codes."""
    with fresh_app(migrated, redis_url, RATE_LIMIT_FAILED_CODES=UNLIMITED) as app:
        yield app


@pytest.fixture
def good(merchant, offer, issue) -> dict:
    return issue(offer["id"])[0]


def _flip(text: str, index: int) -> str:
    ch = text[index]
    return text[:index] + ("A" if ch != "A" else "B") + text[index + 1 :]


def _bad_tokens(token: str, code: str) -> dict[str, str]:
    payload, signature = token.split(".")
    forged = {
        "payload bit flip start": _flip(token, 0),
        "payload bit flip middle": _flip(token, len(payload) // 2),
        "signature flip start": _flip(token, len(payload) + 1),
        "signature flip end": _flip(token, len(token) - 1),
        "truncated by one": token[:-1],
        "truncated half": token[: len(token) // 2],
        "payload only": payload,
        "payload and dot": payload + ".",
        "signature only": "." + signature,
        "extra char": token + "x",
        "two dots": token + ".x",
        "swapped parts": f"{signature}.{payload}",
        "wrong salt": URLSafeSerializer("test-key-new", salt="lixi.member-link").dumps(code),
        "no salt": URLSafeSerializer("test-key-new").dumps(code),
        "retired key": URLSafeSerializer("retired-key", salt="lixi.voucher").dumps(code),
        "other payload same sig": base64.urlsafe_b64encode(b'"0000000000000Z"').decode().rstrip("=")
        + "."
        + signature,
        "payload not a string": URLSafeSerializer("test-key-new", salt="lixi.voucher").dumps({"code": code}),
        "payload a number": URLSafeSerializer("test-key-new", salt="lixi.voucher").dumps(12345),
        "url with forged token": f"http://localhost/v/{_flip(token, 3)}",
        "url without token": "http://localhost/v/",
    }
    return forged


BAD_CODES = {
    "empty": "",
    "spaces": "   ",
    "tab newline": "\t\n",
    "short code wrong check": None,  # filled from the good code
    "short code one typo": None,
    "short code too short": "ABCD-EFGH",
    "short code too long": "ABCD-EFGH-JKMN-PQRS",
    "letter U": "UUUU-UUUU-UUUU-UU",
    "all zeros": "0000-0000-0000-00",
    "sql": "' OR 1=1 --",
    "sql union": "x' UNION SELECT code FROM vouchers --",
    "html": "<script>alert(1)</script>",
    "emoji": "🧧🧧🧧🧧🧧🧧🧧🧧🧧🧧🧧🧧🧧🧧",
    "vietnamese": "Lì xì năm mới",
    "rtl": "\u202eABCD-EFGH-JKMN-PQ",
    "nul bytes": "ABCD\x00EFGH\x00JKMN",
    "huge": "A" * 100_000,
    "long dotted": "a." * 500,
    "percent escapes": "%00%2e%2e%2f",
    "path traversal": "../../etc/passwd",
    "only dots": "....",
    "unicode digits": "١٢٣٤٥٦٧٨٩٠١٢٣٤",
}


def _cases(good: dict) -> dict[str, str]:
    code = good["code"]
    cases = {**_bad_tokens(good["token"], code), **BAD_CODES}
    wrong_check = code[:-1] + ("0" if code[-1] != "0" else "1")
    cases["short code wrong check"] = wrong_check
    cases["short code one typo"] = _flip(code, 5)
    return cases


def _assert_clean_refusal(response, allowed=(404, 413, 422), name: str = "") -> str:
    assert response.status_code in allowed, (name, response.status_code, response.data[:200])
    code = error_code(response)
    assert code
    return code


def test_forty_bad_codes_get_4xx_on_every_endpoint(client, api, brand, good, merchant):
    cases = _cases(good)
    assert len(cases) >= 40
    not_found_bodies = set()
    for name, presented in cases.items():
        for response in (
            api.post("/vouchers/validate", {"code": presented}),
            api.post("/redemptions", {"code": presented, "merchant_id": merchant["id"]}),
        ):
            code = _assert_clean_refusal(response)
            if response.status_code == 404:
                assert code == "not_found", name
                not_found_bodies.add(response.data)
        if presented.strip("/. ") and len(presented) < 4000 and "\x00" not in presented:
            response = client.get("/api/v1/vouchers/" + quote(presented, safe=""), headers=brand.headers)
            assert 400 <= response.status_code < 500, (name, response.status_code)
    # One generic answer: nothing tells a forged token from an unknown code.
    assert len(not_found_bodies) == 1
    # And the good voucher is still there and unused.
    assert api.post("/vouchers/validate", {"code": good["code"]}).status_code == 200


def test_non_string_codes_are_422(api, merchant):
    for presented in (None, 123, ["a"], {"code": "x"}, True):
        response = api.post("/vouchers/validate", {"code": presented})
        assert _assert_clean_refusal(response, (422,)) == "invalid_request"


def test_rotated_keys_still_verify_old_tokens_but_retired_ones_do_not(app, api, good):
    old = URLSafeSerializer("test-key-old", salt="lixi.voucher").dumps(good["code"])
    assert old != good["token"]
    assert api.post("/vouchers/validate", {"code": old}).status_code == 200
    retired = URLSafeSerializer("test-key-retired", salt="lixi.voucher").dumps(good["code"])
    assert api.post("/vouchers/validate", {"code": retired}).status_code == 404


def test_tokens_are_signed_with_the_newest_key(good):
    newest = URLSafeSerializer("test-key-new", salt="lixi.voucher").dumps(good["code"])
    assert good["token"] == newest


def test_expired_and_voided_codes_are_409(app, api, merchant, offer, issue):
    expired, voided = issue(offer["id"], 2)
    db.session.execute(
        update(Voucher)
        .where(Voucher.code == expired["code"])
        .values(expires_at=datetime.now(UTC) - timedelta(minutes=1))
    )
    db.session.commit()
    api.post(f"/vouchers/{voided['code']}/void", {"reason": "test"})
    for voucher, code in ((expired, "expired"), (voided, "voided")):
        for presented in (voucher["code"], voucher["token"], voucher["url"]):
            response = api.post("/redemptions", {"code": presented, "merchant_id": merchant["id"]})
            assert response.status_code == 409 and error_code(response) == code


def test_another_brands_code_looks_exactly_like_an_unknown_one(api, make_brand, good):
    other = make_brand("Other")
    unknown = api.post("/vouchers/validate", {"code": "0000-0000-0000-00"}, who=other)
    for presented in (good["code"], good["token"], good["url"]):
        response = api.post("/vouchers/validate", {"code": presented}, who=other)
        assert response.status_code == 404 and response.data == unknown.data


def test_every_single_character_edit_of_a_token_is_rejected(app, good):
    from vouchers.service import code_from_token

    token = good["token"]
    assert code_from_token(token) == good["code"]
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    for index, original in enumerate(token):
        if original == ".":
            continue
        for replacement in alphabet:
            if replacement != original:
                edited = token[:index] + replacement + token[index + 1 :]
                assert code_from_token(edited) is None, (index, replacement)
