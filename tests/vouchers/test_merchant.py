"""The merchant page's server side: staff accounts, log-in, check, redeem, void, scoping, limits."""

from __future__ import annotations

import pytest

from lixi.models import AuditEvent
from tests.conftest import error_code, fresh_app
from tests.vouchers.merchant_helpers import PASSWORD, Cashier, form_token, log_in, make_staff


@pytest.fixture
def app(migrated, redis_url, request):
    """The app, with settings overridden by a test's indirect parameter."""
    with fresh_app(migrated, redis_url, **getattr(request, "param", {})) as app:
        yield app


@pytest.fixture
def cashier(app, api, merchant) -> Cashier:
    make_staff(api, "thu.ngan@cafe.vn", [merchant["id"]])
    return Cashier(app.test_client(), "thu.ngan@cafe.vn")


# --- staff accounts ---------------------------------------------------------------------------


def test_a_brand_creates_and_lists_its_staff(api, merchant, make_brand):
    created = make_staff(api, "An@Cafe.vn", [merchant["id"]])
    assert created["email"] == "an@cafe.vn" and created["role"] == "merchant_staff"
    assert created["merchant_ids"] == [merchant["id"]] and "password" not in created
    listed = api.get("/staff").get_json()["staff"]
    assert [s["email"] for s in listed] == ["an@cafe.vn"]

    again = api.post(
        "/staff", {"email": "an@cafe.vn", "password": PASSWORD, "merchant_ids": [merchant["id"]]}
    )
    assert again.status_code == 409 and error_code(again) == "email_taken"
    short = api.post("/staff", {"email": "b@cafe.vn", "password": "short", "merchant_ids": [merchant["id"]]})
    assert short.status_code == 422 and "password" in short.get_json()["error"]["details"]["fields"]
    no_store = api.post("/staff", {"email": "c@cafe.vn", "password": PASSWORD, "merchant_ids": []})
    assert no_store.status_code == 422
    other = make_brand("Other")
    foreign = api.post(
        "/staff", {"email": "d@cafe.vn", "password": PASSWORD, "merchant_ids": [merchant["id"]]}, who=other
    )
    assert foreign.status_code == 422  # another brand's store
    assert api.get("/staff", who=other).get_json()["staff"] == []


# --- log-in -------------------------------------------------------------------------------------


def test_pages_need_a_log_in(client):
    page = client.get("/merchant")
    assert page.status_code == 302 and "/merchant/login" in page.headers["Location"]
    call = client.post("/merchant/api/check", json={"code": "X"})  # no session: no CSRF token either
    assert call.status_code == 400 and error_code(call) == "csrf_failed"
    with client.session_transaction() as session:
        session["csrf_token"] = "planted"  # noqa: S105
    call = client.post("/merchant/api/check", json={"code": "X"}, headers={"X-CSRFToken": "planted"})
    assert call.status_code in (400, 401)


def test_a_wrong_password_is_refused_in_words(app, api, merchant):
    make_staff(api, "an@cafe.vn", [merchant["id"]])
    client = app.test_client()
    wrong = log_in(client, "merchant", "an@cafe.vn", "not the password")
    assert wrong.status_code == 401
    assert 'data-testid="login-error"' in wrong.get_data(as_text=True)
    assert client.get("/merchant").status_code == 302  # still logged out
    unknown = log_in(client, "merchant", "nobody@cafe.vn")
    assert unknown.status_code == 401  # the same answer as a wrong password
    right = log_in(client, "merchant", "AN@cafe.vn")
    assert right.status_code == 302 and right.headers["Location"].endswith("/merchant")


def test_log_in_without_the_csrf_token_is_refused(app, api, merchant):
    make_staff(api, "an@cafe.vn", [merchant["id"]])
    client = app.test_client()
    client.get("/merchant/login")
    response = client.post("/merchant/login", data={"email": "an@cafe.vn", "password": PASSWORD})
    assert response.status_code == 400
    assert client.get("/merchant").status_code == 302


def test_repeated_failures_lock_the_account_even_for_the_right_password(app, api, merchant):
    make_staff(api, "an@cafe.vn", [merchant["id"]])
    for _ in range(5):  # RATE_LIMIT_LOGIN_PER_ACCOUNT: 5 failures per 15 minutes
        assert log_in(app.test_client(), "merchant", "an@cafe.vn", "guess").status_code == 401
    locked = log_in(app.test_client(), "merchant", "an@cafe.vn")
    assert locked.status_code == 429 and int(locked.headers["Retry-After"]) > 0
    make_staff(api, "binh@cafe.vn", [merchant["id"]])
    other = log_in(app.test_client(), "merchant", "binh@cafe.vn")
    assert other.status_code == 302  # other accounts are not locked


@pytest.mark.parametrize("app", [{"RATE_LIMIT_LOGIN_PER_IP": "3 per 15 minutes"}], indirect=True)
def test_failures_from_one_address_are_limited_across_accounts(app, api, merchant):
    for n in range(3):
        assert log_in(app.test_client(), "merchant", f"guess{n}@cafe.vn", "guess").status_code == 401
    assert log_in(app.test_client(), "merchant", "guess9@cafe.vn", "guess").status_code == 429


def test_a_disabled_account_cannot_log_in(app, api, merchant):
    from lixi.extensions import db
    from lixi.models import StaffUser
    from lixi.timeutil import utcnow

    make_staff(api, "an@cafe.vn", [merchant["id"]])
    cashier = Cashier(app.test_client(), "an@cafe.vn")
    db.session.execute(db.update(StaffUser).values(disabled_at=utcnow()))
    db.session.commit()
    assert cashier.client.get("/merchant").status_code == 302  # the open session ends too
    assert log_in(app.test_client(), "merchant", "an@cafe.vn").status_code == 401


# --- check and redeem -------------------------------------------------------------------------


def test_manual_entry_checks_then_redeems_once(cashier, offer, issue, api, merchant):
    voucher = issue(offer["id"])[0]
    typed = voucher["code"][:4] + "-" + voucher["code"][4:8].lower() + " " + voucher["code"][8:]
    checked = cashier.check(typed)
    assert checked.status_code == 200
    body = checked.get_json()
    assert body["valid"] is True and body["amount"] == 50000
    assert "50.000" in body["html"] and 'data-testid="redeem"' in body["html"]
    assert merchant["name"] in body["message"]

    redeemed = cashier.redeem(typed, key="tap-1")
    assert redeemed.status_code == 201
    assert redeemed.get_json()["redemption"]["amount"] == 50000
    assert api.get(f"/vouchers/{voucher['code']}").get_json()["status"] == "redeemed"

    again = cashier.check(voucher["url"])  # what the camera reads: the voucher's URL
    verdict = again.get_json()
    assert verdict["valid"] is False and verdict["reason"] == "already_redeemed"
    assert merchant["name"] in verdict["message"]
    assert 'data-valid="false"' in verdict["html"] and 'data-testid="redeem"' not in verdict["html"]
    assert cashier.redeem(voucher["code"], key="tap-2").status_code == 409

    today = cashier.client.get("/merchant/today").get_data(as_text=True)
    assert voucher["code"][-4:] in today and "thu.ngan" in today


def test_the_scanner_gets_the_voucher_and_redemption_it_shows(cashier, make_offer, issue, api):
    card = make_offer(name="Thẻ quà 100k", kind="gift_card", value=100000, valid_days=30)
    api.post("/members", {"external_id": "m-1", "name": "An"})
    voucher = issue(card["id"], member_external_id="m-1")[0]
    checked = cashier.check(voucher["code"]).get_json()["voucher"]
    assert checked == {
        "code": voucher["code"],
        "kind": "gift_card",
        "offer": "Thẻ quà 100k",
        "value": 100000,
        "balance": 100000,
        "expires_at": voucher["expires_at"],
        "customer": "An",
    }
    redeemed = cashier.redeem(voucher["code"], key="tap-1", amount=30000).get_json()["redemption"]
    assert redeemed == {"id": redeemed["id"], "amount": 30000, "voucher_status": "issued", "balance": 70000}
    anonymous = issue(make_offer()["id"])[0]
    assert cashier.check(anonymous["code"]).get_json()["voucher"]["customer"] is None


def test_the_verdict_speaks_the_cashiers_language(cashier, offer, issue):
    voucher = issue(offer["id"])[0]
    english = cashier.client.post(
        "/merchant/api/check?lang=en", json={"code": voucher["code"]}, headers={"X-CSRFToken": cashier.token}
    )
    assert english.get_json()["message"].startswith("Valid at")
    cashier.redeem(voucher["code"])
    vietnamese = cashier.client.post(
        "/merchant/api/check?lang=vi", json={"code": voucher["code"]}, headers={"X-CSRFToken": cashier.token}
    )
    assert vietnamese.get_json()["message"].startswith("Đã dùng tại")


def test_json_calls_need_the_pages_csrf_token(cashier, offer, issue):
    voucher = issue(offer["id"])[0]
    response = cashier.client.post("/merchant/api/redeem", json={"code": voucher["code"]})
    assert response.status_code == 400


def test_gift_card_takes_part_of_the_balance(cashier, make_offer, issue):
    card = make_offer(name="Thẻ quà 500k", kind="gift_card", value=500000)
    code = issue(card["id"])[0]["code"]
    verdict = cashier.check(code).get_json()
    assert verdict["valid"] and verdict["voucher"]["balance"] == 500000 and 'name="amount"' in verdict["html"]

    first = cashier.redeem(code, key="gift-1", amount=200000)
    assert first.status_code == 201 and first.get_json()["redemption"]["balance"] == 300000
    assert "300.000" in first.get_json()["html"]
    too_much = cashier.redeem(code, key="gift-2", amount=400000)
    assert too_much.status_code == 409 and too_much.get_json()["reason"] == "insufficient_balance"
    assert "300.000" in too_much.get_json()["message"]
    missing = cashier.redeem(code, key="gift-3")
    assert missing.status_code == 422 and "amount" in missing.get_json()["error"]["details"]["fields"]
    rest = cashier.redeem(code, key="gift-4", amount=300000)
    assert rest.status_code == 201 and rest.get_json()["redemption"]["voucher_status"] == "redeemed"


def test_a_minimum_bill_is_asked_and_enforced(cashier, make_offer, issue):
    offer = make_offer(name="Giảm 50k cho hóa đơn 200k", min_bill=200000)
    code = issue(offer["id"])[0]["code"]
    assert 'name="bill_amount"' in cashier.check(code).get_json()["html"]
    assert cashier.redeem(code, key="b-1").status_code == 422
    low = cashier.redeem(code, key="b-2", bill_amount=150000)
    assert low.status_code == 409 and low.get_json()["reason"] == "min_bill_not_met"
    assert "200.000" in low.get_json()["message"]
    assert cashier.redeem(code, key="b-3", bill_amount=250000).status_code == 201


def test_the_same_idempotency_key_replays_the_first_redemption(cashier, offer, issue):
    code = issue(offer["id"])[0]["code"]
    first = cashier.redeem(code, key="double-tap")
    second = cashier.redeem(code, key="double-tap")
    assert first.status_code == second.status_code == 201
    assert second.headers.get("Idempotent-Replayed") == "true"
    assert first.get_json()["redemption"]["id"] == second.get_json()["redemption"]["id"]


# --- void ---------------------------------------------------------------------------------------


def test_void_within_the_window_gives_the_voucher_back_and_is_audited(cashier, offer, issue, app):
    code = issue(offer["id"])[0]["code"]
    redemption_id = cashier.redeem(code).get_json()["redemption"]["id"]
    assert cashier.void(redemption_id, "x").status_code == 302  # a reason is required (3+ characters)
    assert cashier.check(code).get_json()["valid"] is False

    response = cashier.void(redemption_id, "Nhầm mã khách")
    assert response.status_code == 302
    assert cashier.check(code).get_json()["valid"] is True
    today = cashier.client.get("/merchant/today").get_data(as_text=True)
    assert 'data-testid="voided"' in today and "Nhầm mã khách" in today
    from lixi.extensions import db

    event = db.session.execute(
        db.select(AuditEvent).where(AuditEvent.action == "redemption.voided")
    ).scalar_one()
    assert event.actor.startswith("staff:") and event.data["reason"] == "Nhầm mã khách"


@pytest.mark.parametrize("app", [{"VOID_WINDOW_SECONDS": 0}], indirect=True)
def test_void_after_the_window_is_refused(cashier, offer, issue):
    code = issue(offer["id"])[0]["code"]
    redemption_id = cashier.redeem(code).get_json()["redemption"]["id"]
    today = cashier.client.get("/merchant/today").get_data(as_text=True)
    assert f'data-redemption-id="{redemption_id}"' in today and "/void" not in today  # no button
    page = cashier.void(redemption_id, "Too late")
    assert page.status_code == 302
    assert "Too late" not in cashier.client.get("/merchant/today").get_data(as_text=True)
    assert cashier.check(code).get_json()["reason"] == "already_redeemed"


# --- scoping ------------------------------------------------------------------------------------


def test_another_brands_voucher_is_not_found_like_a_forged_code(cashier, make_brand, app):
    other = make_brand("Other brand")
    client = app.test_client()
    headers = other.headers
    offer_id = client.post(
        "/api/v1/offers", json={"name": "x", "kind": "free_item", "value": 1}, headers=headers
    )
    foreign = client.post(
        "/api/v1/vouchers", json={"offer_id": offer_id.get_json()["id"]}, headers=headers
    ).get_json()["vouchers"][0]
    theirs = cashier.check(foreign["url"])
    forged = cashier.check(foreign["url"][:-3] + "AAA")
    assert theirs.status_code == forged.status_code == 404
    assert theirs.get_json() == forged.get_json()
    assert cashier.redeem(foreign["code"]).status_code == 404


def test_staff_act_only_at_their_stores(app, api, make_offer, issue):
    first = api.post("/merchants", {"name": "Quận 1"}).get_json()
    second = api.post("/merchants", {"name": "Quận 3"}).get_json()
    only_second = make_offer(name="Chỉ Quận 3", merchant_ids=[second["id"]])
    code = issue(only_second["id"])[0]["code"]
    make_staff(api, "q1@cafe.vn", [first["id"]])
    make_staff(api, "q3@cafe.vn", [second["id"]])
    at_first = Cashier(app.test_client(), "q1@cafe.vn")
    verdict = at_first.check(code).get_json()
    assert verdict["reason"] == "not_valid_here" and verdict["message"] in (
        "Not valid at this store.",
        "Không dùng được tại cửa hàng này.",
    )
    assert at_first.redeem(code).status_code == 409
    chosen = at_first.client.post(
        "/merchant/store", data={"merchant_id": second["id"], "csrf_token": at_first.token}
    )
    assert chosen.status_code == 404  # not their store

    at_second = Cashier(app.test_client(), "q3@cafe.vn")
    redemption_id = at_second.redeem(code).get_json()["redemption"]["id"]
    at_first.void(redemption_id, "not mine")
    assert at_second.check(code).get_json()["reason"] == "already_redeemed"  # still redeemed


def test_staff_of_two_stores_choose_one(app, api, offer):
    first = api.post("/merchants", {"name": "Quận 1"}).get_json()
    second = api.post("/merchants", {"name": "Quận 3"}).get_json()
    make_staff(api, "both@cafe.vn", [first["id"], second["id"]])
    client = app.test_client()
    log_in(client, "merchant", "both@cafe.vn")
    picker = client.get("/merchant").get_data(as_text=True)
    assert "Quận 1" in picker and "Quận 3" in picker and 'id="counter"' not in picker
    token = form_token(picker)
    client.post("/merchant/store", data={"merchant_id": second["id"], "csrf_token": token})
    page = client.get("/merchant").get_data(as_text=True)
    assert 'data-testid="store">Quận 3<' in page


# --- guessing -----------------------------------------------------------------------------------


def test_guessing_codes_by_hand_hits_the_limit(cashier, offer, issue):
    real = issue(offer["id"])[0]["code"]
    for n in range(10):  # RATE_LIMIT_FAILED_SCANS_PER_STAFF: 10 unknown codes per 5 minutes
        assert cashier.check(f"AAAA-BBBB-CCCC-{n:02d}").status_code == 404
    refused = cashier.check(real)
    assert refused.status_code == 429 and error_code(refused) == "rate_limited"


@pytest.mark.parametrize("app", [{"RATE_LIMIT_FAILED_SCANS_PER_STORE": "4 per 5 minutes"}], indirect=True)
def test_failed_scans_also_count_per_store(app, api, merchant):
    make_staff(api, "a@cafe.vn", [merchant["id"]])
    make_staff(api, "b@cafe.vn", [merchant["id"]])
    first, second = Cashier(app.test_client(), "a@cafe.vn"), Cashier(app.test_client(), "b@cafe.vn")
    for n in range(2):
        assert first.check(f"AAAA-BBBB-CCCC-{n:02d}").status_code == 404
        assert second.check(f"AAAA-BBBB-DDDD-{n:02d}").status_code == 404
    assert first.check("AAAA-BBBB-CCCC-99").status_code == 429
