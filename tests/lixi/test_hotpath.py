"""The hot routes' generated parsing and dumping (lixi/hotpath.py) agree with marshmallow's own."""

from __future__ import annotations

import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from marshmallow import Schema, ValidationError, fields

from games import plays
from games.schemas import PlayInSchema, PlayOutSchema
from lixi.hotpath import FastIn, Unsupported, compile_dump, input_struct
from vouchers import redemptions
from vouchers.schemas import CodeInSchema, RedeemInSchema, RedemptionOutSchema, ValidationOutSchema

HOT_INPUTS = [CodeInSchema(), RedeemInSchema(), PlayInSchema()]

_values = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.sampled_from([0, 1, 10**15, 10**15 + 1, 2**31, 2**63, -1]),
    st.floats(allow_nan=False),
    st.text(max_size=30),
    st.lists(st.sampled_from(["\x00", "a", " ", "é", "\ud800", "\\", '"', "/v/"]), max_size=6).map("".join),
    st.sampled_from(["", " ", "x" * 100, "x" * 101, "x" * 2048, "x" * 2049, "SAMPLE-0001"]),
    st.lists(st.integers(), max_size=2),
    st.dictionaries(st.text(max_size=3), st.integers(), max_size=2),
)


def _bodies(schema: Schema) -> st.SearchStrategy[dict]:
    names = [*schema.fields, "extra", "Code"]
    return st.dictionaries(st.sampled_from(names), _values, max_size=5)


def _marshmallow(schema: Schema, raw: bytes) -> dict | str:
    try:
        return schema.load(json.loads(raw))
    except ValidationError:
        return "refused"


@pytest.mark.parametrize("schema", HOT_INPUTS, ids=lambda s: type(s).__name__)
@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data(), ascii_only=st.booleans())
def test_the_fast_decoder_accepts_only_what_marshmallow_accepts_and_gives_the_same(schema, data, ascii_only):
    body = data.draw(_bodies(schema))
    raw = json.dumps(body, ensure_ascii=ascii_only).encode("utf-8", "surrogatepass")
    fast = FastIn(schema).decode(raw)
    if fast is not None:  # None: left to marshmallow, which then answers as it always did
        assert _marshmallow(schema, raw) == fast


@pytest.mark.parametrize(
    ("schema", "body"),
    [
        (CodeInSchema(), {"code": "ABCD-EFGH-JKLM"}),
        (CodeInSchema(), {"code": "https://x/v/abc.def", "merchant_id": 3, "bill_amount": None}),
        (RedeemInSchema(), {"code": "ABCD", "merchant_id": 1, "amount": 5000, "bill_amount": 90000}),
        (PlayInSchema(), {"member_external_id": "m-1"}),
    ],
)
def test_ordinary_bodies_take_the_fast_path(schema, body):
    assert FastIn(schema).decode(json.dumps(body).encode()) == schema.load(body)


@pytest.mark.parametrize(
    "body",
    [
        b'{"code": "A\\u0000B"}',
        b'{"code": ""}',
        b'{"code": "A", "merchant_id": true}',
        b'{"code": "A", "merchant_id": 0}',
        b'{"code": "A", "merchant_id": 1.0}',
        b'{"code": "A", "surprise": 1}',
        b'{"code": "\\ud800"}',
        b'["code"]',
        b"",
    ],
)
def test_unusual_bodies_are_left_to_marshmallow(body):
    assert FastIn(CodeInSchema()).decode(body) is None


def test_what_the_generator_cannot_state_is_refused_at_start_up():
    class Listed(Schema):
        ids = fields.List(fields.Integer())

    class Lenient(Schema):
        count = fields.Integer()  # not strict: "3" would load as 3

    for schema in (Listed(), Lenient()):
        with pytest.raises(Unsupported):
            input_struct(schema)
    with pytest.raises(Unsupported):
        compile_dump(Listed(only=("ids",)))


def _same_dump(schema: Schema, obj: object) -> dict:
    fast = compile_dump(schema)(obj)
    assert fast == schema.dump(obj)
    return fast


def test_compiled_dumps_equal_marshmallow_dumps(app, api, brand, merchant, make_offer, issue, make_campaign):
    api.post("/members", {"external_id": "m-1"})
    gift_card = make_offer(kind="gift_card", value=100000)
    card = issue(gift_card["id"], member_external_id="m-1")[0]
    voucher = issue(make_offer()["id"])[0]
    with app.test_request_context():
        check = redemptions.validate_voucher(brand.id, voucher["code"], merchant["id"], None)
        dumped = _same_dump(
            ValidationOutSchema(), {"valid": True, "voucher": check.voucher, "amount": check.amount}
        )
        assert dumped["voucher"]["code"] == voucher["code"] and dumped["amount"] == voucher["value"]
        redeemed = redemptions.redeem_voucher(brand.id, card["code"], merchant["id"], amount=30000)
        dumped = _same_dump(RedemptionOutSchema(), redeemed)
        assert dumped["voucher"]["balance"] == 70000 and dumped["voucher"]["member_external_id"] == "m-1"

    offer = make_offer()
    winning = make_campaign(offer["id"])
    losing = make_campaign(prizes=[{"label": "Nothing", "weight": 1}])
    for campaign in (winning, losing):
        api.post("/members/m-1/plays", {"campaign_id": campaign["id"], "plays": 1})
    with app.test_request_context():
        won = plays.play(brand.id, winning["id"], "m-1")
        assert _same_dump(PlayOutSchema(), won)["voucher"]["kind"] == "fixed_amount"
        lost = plays.play(brand.id, losing["id"], "m-1")
        assert _same_dump(PlayOutSchema(), lost)["voucher"] is None


def test_a_hot_body_that_is_not_utf8_is_a_400_not_a_crash(client, brand):
    body = b'{"code": "\xed\xa0\x80"}'  # a surrogate encoded as bytes: not UTF-8
    headers = {**brand.headers, "Content-Type": "application/json"}
    response = client.post("/api/v1/vouchers/validate", data=body, headers=headers)
    assert response.status_code == 400 and response.get_json()["error"]["code"] == "invalid_request"
