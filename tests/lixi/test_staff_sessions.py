"""Staff sessions end on the server: log-out, a new password and disabling refuse old cookies."""

from __future__ import annotations

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from lixi.extensions import db
from lixi.models import AuditEvent, StaffUser
from lixi.staff import create_staff
from tests.conftest import error_code
from tests.vouchers.merchant_helpers import PASSWORD, logged_in, page_token

ADMIN = "admin@cafe.vn"
CASHIER = "mai@cafe.vn"
NEW_PASSWORD = "a brand new password"  # noqa: S105 - a test account's password


def copy_of(client: FlaskClient, app: Flask) -> FlaskClient:
    """Another browser holding a saved copy of the client's session cookie."""
    cookie = client.get_cookie(app.config["SESSION_COOKIE_NAME"])
    assert cookie is not None
    other = app.test_client()
    other.set_cookie(cookie.key, cookie.value, domain=cookie.domain)
    return other


def accounts(app: Flask, brand_id: int, merchant_id: int) -> None:
    create_staff(brand_id, ADMIN, PASSWORD, "brand_admin", "Admin", [])
    create_staff(brand_id, CASHIER, PASSWORD, "merchant_staff", "Mai", [merchant_id])


def test_a_saved_dashboard_cookie_is_refused_after_log_out(app, brand, merchant):
    accounts(app, brand.id, merchant["id"])
    admin = logged_in(app, "dashboard", ADMIN)
    saved = copy_of(admin, app)
    assert saved.get("/dashboard").status_code == 200  # the copy works while the session lives

    token = page_token(admin.get("/dashboard").get_data(as_text=True))
    assert admin.post("/dashboard/logout", data={"csrf_token": token}).status_code == 302

    refused = saved.get("/dashboard")
    assert refused.status_code == 302 and "/dashboard/login" in refused.headers["Location"]
    assert admin.get("/dashboard").status_code == 302
    assert logged_in(app, "dashboard", ADMIN).get("/dashboard").status_code == 200  # a new log-in works
    actions = db.session.execute(select(AuditEvent.action).where(AuditEvent.action == "staff.logged_out"))
    assert list(actions.scalars()) == ["staff.logged_out"]


def test_a_saved_merchant_cookie_is_refused_after_log_out(app, brand, merchant):
    accounts(app, brand.id, merchant["id"])
    cashier = logged_in(app, "merchant", CASHIER)
    saved = copy_of(cashier, app)
    assert saved.get("/merchant").status_code == 200
    token = page_token(saved.get("/merchant").get_data(as_text=True))
    assert (
        saved.post("/merchant/api/check", json={"code": "X"}, headers={"X-CSRFToken": token}).status_code
        == 404
    )

    page = cashier.get("/merchant").get_data(as_text=True)
    assert cashier.post("/merchant/logout", data={"csrf_token": page_token(page)}).status_code == 302

    assert saved.get("/merchant").status_code == 302
    call = saved.post("/merchant/api/check", json={"code": "X"}, headers={"X-CSRFToken": token})
    assert call.status_code == 401 and error_code(call) == "unauthorized"


def test_log_out_ends_every_session_of_the_account(app, brand, merchant):
    """The chosen rule: log-out is "log out everywhere" (a session version per account)."""
    accounts(app, brand.id, merchant["id"])
    phone, tablet = logged_in(app, "merchant", CASHIER), logged_in(app, "merchant", CASHIER)
    admin = logged_in(app, "dashboard", ADMIN)
    assert tablet.get("/merchant").status_code == 200
    page = phone.get("/merchant").get_data(as_text=True)
    phone.post("/merchant/logout", data={"csrf_token": page_token(page)})
    assert tablet.get("/merchant").status_code == 302
    assert admin.get("/dashboard").status_code == 200  # another account's session is untouched


def test_an_admin_resetting_a_cashiers_password_ends_the_cashiers_sessions(app, brand, merchant):
    accounts(app, brand.id, merchant["id"])
    cashier = logged_in(app, "merchant", CASHIER)
    saved = copy_of(cashier, app)
    admin = logged_in(app, "dashboard", ADMIN)
    cashier_id = db.session.execute(select(StaffUser.id).where(StaffUser.email == CASHIER)).scalar_one()
    token = page_token(admin.get("/dashboard").get_data(as_text=True))
    form = {"csrf_token": token, "name": "Chị Mai", "merchant_ids": [str(merchant["id"])]}

    renamed = admin.post(f"/dashboard/staff/{cashier_id}", data=form)
    assert renamed.status_code == 302
    assert cashier.get("/merchant").status_code == 200  # an edit without a new password ends nothing

    reset = admin.post(f"/dashboard/staff/{cashier_id}", data={**form, "password": NEW_PASSWORD})
    assert reset.status_code == 302
    for browser in (cashier, saved):
        ended = browser.get("/merchant")
        assert ended.status_code == 302 and "/merchant/login" in ended.headers["Location"]
    assert admin.get("/dashboard").status_code == 200
    assert logged_in(app, "merchant", CASHIER, NEW_PASSWORD).get("/merchant").status_code == 200


def test_changing_ones_own_password_keeps_this_session_and_ends_the_others(app, brand, merchant):
    accounts(app, brand.id, merchant["id"])
    here, elsewhere = logged_in(app, "dashboard", ADMIN), logged_in(app, "dashboard", ADMIN)
    admin_id = db.session.execute(select(StaffUser.id).where(StaffUser.email == ADMIN)).scalar_one()
    token = page_token(here.get("/dashboard").get_data(as_text=True))
    changed = here.post(f"/dashboard/staff/{admin_id}", data={"csrf_token": token, "password": NEW_PASSWORD})
    assert changed.status_code == 302
    assert here.get("/dashboard").status_code == 200
    assert elsewhere.get("/dashboard").status_code == 302


def test_disabling_an_account_ends_its_sessions(app, brand, merchant):
    accounts(app, brand.id, merchant["id"])
    cashier = logged_in(app, "merchant", CASHIER)
    admin = logged_in(app, "dashboard", ADMIN)
    cashier_id = db.session.execute(select(StaffUser.id).where(StaffUser.email == CASHIER)).scalar_one()
    version = db.session.get(StaffUser, cashier_id).session_version
    assert cashier.get("/merchant").status_code == 200
    token = page_token(admin.get("/dashboard").get_data(as_text=True))
    assert admin.post(f"/dashboard/staff/{cashier_id}/disable", data={"csrf_token": token}).status_code == 302
    assert cashier.get("/merchant").status_code == 302
    assert db.session.get(StaffUser, cashier_id).session_version == version + 1


def test_a_session_is_only_as_good_as_its_version(app, brand, merchant):
    """The user loader: "<id>:<current version>" opens the page; an old version or a cookie from
    before versions existed (a bare id) does not."""
    accounts(app, brand.id, merchant["id"])
    user = db.session.execute(select(StaffUser).where(StaffUser.email == CASHIER)).scalar_one()
    for session_id, status in (
        (user.get_id(), 200),
        (f"{user.id}:{user.session_version - 1}", 302),
        (str(user.id), 302),
    ):
        client = app.test_client()
        with client.session_transaction() as session:
            session["_user_id"] = session_id
            session["_fresh"] = True
        assert client.get("/merchant").status_code == status, session_id
