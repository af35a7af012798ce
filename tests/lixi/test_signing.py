"""Signed tokens: a salt per purpose, rotation by a list of keys, and an age limit when asked."""

import time

import pytest
from itsdangerous import BadData, SignatureExpired

from lixi.signing import sign, unsign


def test_a_token_only_opens_for_its_own_purpose(app):
    token = sign("ABC", "voucher")
    assert unsign(token, "voucher") == "ABC"
    with pytest.raises(BadData):
        unsign(token, "member-link")


def test_newest_key_signs_and_older_keys_still_verify(app):
    token = sign({"m": 1}, "member-link")
    app.config["SECRET_KEYS"] = ["brand-new-key", *app.config["SECRET_KEYS"]]
    assert unsign(token, "member-link") == {"m": 1}
    assert sign({"m": 1}, "member-link") != token
    app.config["SECRET_KEYS"] = ["brand-new-key"]
    with pytest.raises(BadData):
        unsign(token, "member-link")


def test_timed_tokens_expire(app):
    token = sign("x", "member-link", timed=True)
    assert unsign(token, "member-link", max_age=60) == "x"
    time.sleep(1.1)
    with pytest.raises(SignatureExpired):
        unsign(token, "member-link", max_age=0)
