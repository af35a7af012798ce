"""Contract tests of the voucher API: every endpoint, every voucher error code of API.md.

The kernel's part of the contract (API keys, idempotency, members, merchants, the error
envelope) is tested in tests/lixi/."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select, update

from lixi.extensions import db
from lixi.models import AuditEvent, OutboxMessage
from tests.conftest import POSTGRES, error_code, statements_sent
from vouchers.models import Redemption, Voucher

# ── offers ──────────────────────────────────────────────────────────────────────────────


def test_create_offer_of_each_kind(api, merchant):
    for body in [
        {"name": "50k", "kind": "fixed_amount", "value": 50000, "valid_days": 30},
        {"name": "20%", "kind": "percent", "value": 20, "max_discount": 100000, "min_bill": 200000},
        {"name": "Free tea", "kind": "free_item", "value": 25000, "merchant_ids": [merchant["id"]]},
        {"name": "Gift 500k", "kind": "gift_card", "value": 500000, "valid_until": "2099-12-31"},
    ]:
        response = api.post("/offers", body)
        assert response.status_code == 201, response.get_json()
        offer = response.get_json()
        assert offer["kind"] == body["kind"] and offer["value"] == body["value"]
        assert api.get(f"/offers/{offer['id']}").get_json() == offer


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"kind": "fixed_amount", "value": 1}, "name"),
        ({"name": "x", "kind": "cashback", "value": 1}, "kind"),
        ({"name": "x", "kind": "percent", "value": 150}, "value"),
        ({"name": "x", "kind": "fixed_amount", "value": "50000"}, "value"),
        ({"name": "x", "kind": "fixed_amount", "value": 1.5}, "value"),
        ({"name": "x", "kind": "fixed_amount", "value": -1}, "value"),
        (
            {"name": "x", "kind": "fixed_amount", "value": 1, "valid_days": 3, "valid_until": "2099-01-01"},
            "valid_until",
        ),
        ({"name": "x", "kind": "fixed_amount", "value": 1, "valid_until": "2001-01-01"}, "valid_until"),
        ({"name": "x", "kind": "fixed_amount", "value": 1, "valid_until": "soon"}, "valid_until"),
        ({"name": "x", "kind": "fixed_amount", "value": 1, "merchant_ids": [999999]}, "merchant_ids"),
        ({"name": "x", "kind": "fixed_amount", "value": 1, "max_discount": 5}, "max_discount"),
        ({"name": "x", "kind": "fixed_amount", "value": 1, "brand_id": 2}, "brand_id"),
    ],
)
def test_invalid_offers_get_422_with_field_details(api, body, field):
    response = api.post("/offers", body)
    assert response.status_code == 422
    assert error_code(response) == "invalid_request"
    assert field in response.get_json()["error"]["details"]["fields"]


def test_a_date_expiry_means_the_end_of_that_day_in_the_brand_time_zone(api):
    offer = api.post(
        "/offers", {"name": "Tết", "kind": "fixed_amount", "value": 1, "valid_until": "2099-01-31"}
    ).get_json()
    # Midnight after 31 Jan in Hồ Chí Minh City (UTC+7) is 17:00 UTC on the 31st.
    assert datetime.fromisoformat(offer["valid_until"]) == datetime(2099, 1, 31, 17, 0, tzinfo=UTC)


def test_valid_days_run_to_the_end_of_the_local_day(api, make_offer, issue):
    offer = make_offer(valid_days=7)
    voucher = issue(offer["id"])[0]
    expires = datetime.fromisoformat(voucher["expires_at"])
    local = expires.astimezone(ZoneInfo("Asia/Ho_Chi_Minh"))
    assert (local.hour, local.minute) == (0, 0)
    issued_local = datetime.fromisoformat(voucher["issued_at"]).astimezone(local.tzinfo).date()
    assert local.date() == issued_local + timedelta(days=8)


# ── issuing and reading ─────────────────────────────────────────────────────────────────


def test_issue_returns_vouchers_with_codes_tokens_and_qr_urls(client, api, offer, issue):
    member = api.post("/members", {"external_id": "m-1", "name": "An"}).get_json()
    vouchers = issue(offer["id"], 3, member_external_id=member["external_id"])
    assert len({v["code"] for v in vouchers}) == 3
    for voucher in vouchers:
        assert voucher["status"] == "issued" and voucher["kind"] == "fixed_amount"
        assert voucher["value"] == 50000 and voucher["balance"] is None
        assert voucher["member_external_id"] == "m-1"
        assert voucher["url"].endswith("/v/" + voucher["token"])
        assert voucher["qr_png_url"].endswith(f"/v/{voucher['token']}/qr.png")
        assert voucher["qr_svg_url"].endswith(f"/v/{voucher['token']}/qr.svg")
        assert api.get(f"/vouchers/{voucher['code']}").get_json() == voucher
        for url in (voucher["url"], voucher["qr_png_url"], voucher["qr_svg_url"]):
            assert client.get(url).status_code == 200, url
        assert api.get(f"/vouchers/{voucher['token']}").get_json()["code"] == voucher["code"]


def test_issue_many_in_one_call_writes_one_audit_event(app, api, offer, issue):
    vouchers = issue(offer["id"], 2500)
    assert len({v["code"] for v in vouchers}) == 2500
    events = db.session.execute(select(AuditEvent).where(AuditEvent.action == "vouchers.issued")).scalars()
    assert [e.data["count"] for e in events] == [2500]


@pytest.mark.parametrize("count", [0, 10001, -5, "many"])
def test_issue_count_out_of_range_is_422(api, offer, count):
    response = api.post("/vouchers", {"offer_id": offer["id"], "count": count})
    assert response.status_code == 422 and error_code(response) == "invalid_request"


def test_issue_for_unknown_offer_or_member_is_404(api, offer):
    assert error_code(api.post("/vouchers", {"offer_id": 987654})) == "not_found"
    response = api.post("/vouchers", {"offer_id": offer["id"], "member_external_id": "nobody"})
    assert response.status_code == 404 and error_code(response) == "not_found"


def test_gift_cards_start_with_their_value_as_balance(make_offer, issue):
    voucher = issue(make_offer(kind="gift_card", value=100000)["id"])[0]
    assert voucher["balance"] == 100000 and voucher["kind"] == "gift_card"


# ── tenancy ─────────────────────────────────────────────────────────────────────────────


def test_another_brands_objects_are_404_never_403(api, make_brand, merchant, offer, issue):
    other = make_brand("Other")
    voucher = issue(offer["id"])[0]
    redemption = api.post("/redemptions", {"code": voucher["code"], "merchant_id": merchant["id"]}).get_json()
    for path in [
        f"/offers/{offer['id']}",
        f"/merchants/{merchant['id']}",
        f"/vouchers/{voucher['code']}",
        f"/redemptions/{redemption['id']}",
    ]:
        response = api.get(path, who=other)
        assert response.status_code == 404 and error_code(response) == "not_found", path
    other_merchant = api.post("/merchants", {"name": "Theirs"}, who=other).get_json()
    fresh = issue(offer["id"])[0]
    for code in (fresh["code"], fresh["token"]):
        response = api.post("/vouchers/validate", {"code": code}, who=other)
        assert response.status_code == 404 and error_code(response) == "not_found"
        response = api.post("/redemptions", {"code": code, "merchant_id": other_merchant["id"]}, who=other)
        assert response.status_code == 404
    assert api.post(f"/redemptions/{redemption['id']}/void", {}, who=other).status_code == 404
    assert api.post("/vouchers", {"offer_id": offer["id"]}, who=other).status_code == 404


# ── validate ────────────────────────────────────────────────────────────────────────────


def test_validate_accepts_code_token_and_voucher_url(api, merchant, offer, issue):
    voucher = issue(offer["id"])[0]
    for presented in (voucher["code"], voucher["code"].lower(), voucher["token"], voucher["url"]):
        response = api.post("/vouchers/validate", {"code": presented, "merchant_id": merchant["id"]})
        assert response.status_code == 200, presented
        body = response.get_json()
        assert body["valid"] is True and body["voucher"]["code"] == voucher["code"]
        assert body["amount"] == 50000


def test_unknown_and_tampered_codes_get_one_generic_404(api, offer, issue):
    voucher = issue(offer["id"])[0]
    bodies = []
    token, code = voucher["token"], voucher["code"]
    other_check = "1" if code[-1] == "0" else "0"
    tampered_token = token[:-2] + ("AB" if token[-2:] != "AB" else "BA")
    for presented in ("0000000000000Z", tampered_token, code[:-1] + other_check):
        response = api.post("/vouchers/validate", {"code": presented})
        assert response.status_code == 404
        bodies.append(response.get_json())
    assert bodies[0] == bodies[1] == bodies[2]


def _expire(code: str) -> None:
    db.session.execute(
        update(Voucher)
        .where(Voucher.code == code)
        .values(expires_at=datetime.now(UTC) - timedelta(seconds=1))
    )
    db.session.commit()


def test_validate_conflicts(app, api, make_brand, merchant, make_offer, issue):
    other_store = api.post("/merchants", {"name": "Quận 3"}).get_json()
    only_here = make_offer(merchant_ids=[merchant["id"]], min_bill=100000)
    voucher = issue(only_here["id"])[0]

    response = api.post("/vouchers/validate", {"code": voucher["code"], "merchant_id": other_store["id"]})
    assert response.status_code == 409 and error_code(response) == "not_valid_here"
    response = api.post(
        "/vouchers/validate", {"code": voucher["code"], "merchant_id": merchant["id"], "bill_amount": 99999}
    )
    assert response.status_code == 409 and error_code(response) == "min_bill_not_met"
    assert response.get_json()["error"]["details"]["min_bill"] == 100000

    _expire(voucher["code"])
    response = api.post("/vouchers/validate", {"code": voucher["code"]})
    assert response.status_code == 409 and error_code(response) == "expired"
    assert api.get(f"/vouchers/{voucher['code']}").get_json()["status"] == "expired"

    plain = issue(make_offer()["id"], 2)
    api.post("/redemptions", {"code": plain[0]["code"], "merchant_id": merchant["id"]})
    response = api.post("/vouchers/validate", {"code": plain[0]["code"]})
    assert response.status_code == 409 and error_code(response) == "already_redeemed"
    details = response.get_json()["error"]["details"]
    assert details["merchant_name"] == "Quận 1" and details["redeemed_at"]

    assert api.post(f"/vouchers/{plain[1]['code']}/void", {"reason": "refund"}).status_code == 200
    response = api.post("/vouchers/validate", {"code": plain[1]["code"]})
    assert response.status_code == 409 and error_code(response) == "voided"


def test_validate_with_unknown_merchant_is_422(api, offer, issue):
    voucher = issue(offer["id"])[0]
    response = api.post("/vouchers/validate", {"code": voucher["code"], "merchant_id": 424242})
    assert response.status_code == 422 and "merchant_id" in response.get_json()["error"]["details"]["fields"]


def test_validate_does_not_change_anything(app, api, offer, issue):
    voucher = issue(offer["id"])[0]
    for _ in range(3):
        assert api.post("/vouchers/validate", {"code": voucher["code"]}).status_code == 200
    assert api.get(f"/vouchers/{voucher['code']}").get_json()["status"] == "issued"


# ── redeem ──────────────────────────────────────────────────────────────────────────────


def test_redeem_single_use_once(app, api, merchant, offer, issue):
    voucher = issue(offer["id"])[0]
    response = api.post(
        "/redemptions", {"code": voucher["code"], "merchant_id": merchant["id"], "bill_amount": 30000}
    )
    assert response.status_code == 201
    body = response.get_json()
    assert body["amount"] == 30000  # a 50k voucher on a 30k bill takes 30k
    assert body["merchant_id"] == merchant["id"] and body["voucher"]["status"] == "redeemed"
    assert body["created_at"] and body["voided_at"] is None
    assert api.get(f"/redemptions/{body['id']}").get_json() == body
    again = api.post("/redemptions", {"code": voucher["code"], "merchant_id": merchant["id"]})
    assert again.status_code == 409 and error_code(again) == "already_redeemed"
    actions = db.session.execute(select(AuditEvent.action)).scalars().all()
    assert actions.count("voucher.redeemed") == 1


def test_a_redemption_writes_its_row_audit_and_event_together(app, api, merchant, make_offer, issue):
    """The redemption, its audit row and its outbox event name each other and the balance left; on
    PostgreSQL they are one statement in autocommit (data-modifying CTEs), on SQLite one transaction."""
    card = issue(make_offer(kind="gift_card", value=100000)["id"])[0]
    with statements_sent() as seen:
        response = api.post(
            "/redemptions", {"code": card["code"], "merchant_id": merchant["id"], "amount": 30000}
        )
    assert response.status_code == 201, response.get_json()
    redemption = response.get_json()
    audit = db.session.execute(select(AuditEvent).where(AuditEvent.action == "voucher.redeemed")).scalar_one()
    assert audit.subject_id == card["code"] and audit.actor.startswith("api_key:")
    assert audit.data == {"redemption_id": redemption["id"], "merchant_id": merchant["id"], "amount": 30000}
    event = db.session.execute(
        select(OutboxMessage).where(OutboxMessage.topic == "voucher.redeemed")
    ).scalar_one()
    assert event.payload == {
        "code": card["code"],
        "redemption_id": redemption["id"],
        "merchant_id": merchant["id"],
        "amount": 30000,
        "balance": 70000,
        "redeemed_at": event.payload["redeemed_at"],
    }
    assert datetime.fromisoformat(event.payload["redeemed_at"]) == datetime.fromisoformat(
        redemption["created_at"]
    )
    assert redemption["voucher"]["balance"] == 70000
    writes = [s for s in seen if not s.lstrip().upper().startswith("SELECT")]
    if POSTGRES:
        assert len(writes) == 1 and writes[0].lstrip().startswith("WITH used AS"), writes
        assert len(seen) == 2, seen  # the read of the voucher, then the write
    else:
        assert len(writes) >= 4  # the UPDATE and three INSERTs in one transaction

    too_much = api.post(
        "/redemptions", {"code": card["code"], "merchant_id": merchant["id"], "amount": 70001}
    )
    assert too_much.status_code == 409 and error_code(too_much) == "insufficient_balance"
    assert db.session.scalar(select(func.count()).select_from(Redemption)) == 1  # a refusal writes nothing
    redeemed_events = select(func.count()).where(OutboxMessage.topic == "voucher.redeemed")
    assert db.session.scalar(redeemed_events) == 1


def test_percent_offer_takes_its_share_capped(api, merchant, make_offer, issue):
    offer = make_offer(kind="percent", value=20, max_discount=50000)
    small, big, unknown = issue(offer["id"], 3)
    r = api.post(
        "/redemptions", {"code": small["code"], "merchant_id": merchant["id"], "bill_amount": 100000}
    )
    assert r.get_json()["amount"] == 20000
    r = api.post("/redemptions", {"code": big["code"], "merchant_id": merchant["id"], "bill_amount": 1000000})
    assert r.get_json()["amount"] == 50000
    r = api.post("/redemptions", {"code": unknown["code"], "merchant_id": merchant["id"]})
    assert r.status_code == 422 and "bill_amount" in r.get_json()["error"]["details"]["fields"]


def test_min_bill_needs_a_bill_to_redeem(api, merchant, make_offer, issue):
    voucher = issue(make_offer(min_bill=200000)["id"])[0]
    r = api.post("/redemptions", {"code": voucher["code"], "merchant_id": merchant["id"]})
    assert r.status_code == 422
    r = api.post("/redemptions", {"code": voucher["code"], "merchant_id": merchant["id"], "bill_amount": 100})
    assert r.status_code == 409 and error_code(r) == "min_bill_not_met"
    r = api.post(
        "/redemptions", {"code": voucher["code"], "merchant_id": merchant["id"], "bill_amount": 200000}
    )
    assert r.status_code == 201


def test_gift_card_partial_redemptions_never_below_zero(api, merchant, make_offer, issue):
    card = issue(make_offer(kind="gift_card", value=100000)["id"])[0]
    redeem = lambda amount: api.post(  # noqa: E731
        "/redemptions", {"code": card["code"], "merchant_id": merchant["id"], "amount": amount}
    )
    assert redeem(None).status_code == 422
    first = redeem(60000)
    assert first.status_code == 201 and first.get_json()["voucher"]["balance"] == 40000
    too_much = redeem(40001)
    assert too_much.status_code == 409 and error_code(too_much) == "insufficient_balance"
    assert redeem(0).status_code == 422
    last = redeem(40000)
    assert last.status_code == 201
    assert last.get_json()["voucher"] == {**last.get_json()["voucher"], "balance": 0, "status": "redeemed"}
    empty = redeem(1)
    assert empty.status_code == 409 and error_code(empty) == "already_redeemed"


def test_redeem_requires_a_known_merchant(api, offer, issue):
    voucher = issue(offer["id"])[0]
    assert api.post("/redemptions", {"code": voucher["code"]}).status_code == 422
    assert api.post("/redemptions", {"code": voucher["code"], "merchant_id": 99999}).status_code == 422


def test_redeem_an_expired_voucher_is_409(app, api, merchant, offer, issue):
    voucher = issue(offer["id"])[0]
    _expire(voucher["code"])
    r = api.post("/redemptions", {"code": voucher["code"], "merchant_id": merchant["id"]})
    assert r.status_code == 409 and error_code(r) == "expired"


# ── void ────────────────────────────────────────────────────────────────────────────────


def test_void_restores_a_single_use_voucher(app, api, merchant, offer, issue):
    voucher = issue(offer["id"])[0]
    redemption = api.post("/redemptions", {"code": voucher["code"], "merchant_id": merchant["id"]}).get_json()
    r = api.post(f"/redemptions/{redemption['id']}/void", {"reason": "wrong customer"})
    assert r.status_code == 200
    body = r.get_json()
    assert body["voided_at"] and body["void_reason"] == "wrong customer"
    assert body["voucher"]["status"] == "issued"
    again = api.post(f"/redemptions/{redemption['id']}/void", {})
    assert again.status_code == 409 and error_code(again) == "already_voided"
    assert (
        api.post("/redemptions", {"code": voucher["code"], "merchant_id": merchant["id"]}).status_code == 201
    )
    actions = db.session.execute(select(AuditEvent.action)).scalars().all()
    assert actions.count("redemption.voided") == 1


def test_void_restores_a_gift_card_balance(api, merchant, make_offer, issue):
    card = issue(make_offer(kind="gift_card", value=100000)["id"])[0]
    body = {"code": card["code"], "merchant_id": merchant["id"], "amount": 100000}
    redemption = api.post("/redemptions", body).get_json()
    assert redemption["voucher"]["status"] == "redeemed"
    voided = api.post(f"/redemptions/{redemption['id']}/void", {}).get_json()
    assert voided["voucher"]["balance"] == 100000 and voided["voucher"]["status"] == "issued"


def test_void_window_closes(app, api, merchant, offer, issue):
    voucher = issue(offer["id"])[0]
    redemption = api.post("/redemptions", {"code": voucher["code"], "merchant_id": merchant["id"]}).get_json()
    window = app.config["VOID_WINDOW_SECONDS"]
    db.session.execute(
        update(Redemption)
        .where(Redemption.id == redemption["id"])
        .values(created_at=datetime.now(UTC) - timedelta(seconds=window + 1))
    )
    db.session.commit()
    r = api.post(f"/redemptions/{redemption['id']}/void", {})
    assert r.status_code == 409 and error_code(r) == "void_window_closed"


def test_void_unknown_redemption_is_404(api):
    assert api.post("/redemptions/424242/void", {}).status_code == 404


def test_void_voucher_twice(api, offer, issue):
    voucher = issue(offer["id"])[0]
    assert api.post(f"/vouchers/{voucher['code']}/void", {}).get_json()["status"] == "voided"
    r = api.post(f"/vouchers/{voucher['code']}/void", {})
    assert r.status_code == 409 and error_code(r) == "already_voided"


# ── dates ───────────────────────────────────────────────────────────────────────────────


def test_dates_are_iso_8601_with_offset(api, make_offer, issue):
    voucher = issue(make_offer(valid_days=1)["id"])[0]
    for field in ("issued_at", "expires_at"):
        assert datetime.fromisoformat(voucher[field]).utcoffset() is not None
