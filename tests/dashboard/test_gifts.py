"""The dashboard's gift pages: the list (filter by status, search by recipient, pages), the funnel's
figures against gifts in known states, a gift's page, resend to a corrected email (a delivery
recorded), cancel, each audited as the staff member; another brand's gift is a 404."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from sqlalchemy import select

from gifting import claims, reports
from gifting.expiry import expire_gifts
from gifting.links import gift_token
from gifting.models import Gift, GiftBatch, GiftDelivery
from gifting.queries import get_gift
from lixi.extensions import db
from lixi.models import AuditEvent, StaffUser
from lixi.staff import create_staff
from tests.gifting.test_states import code_in, mails_to
from tests.vouchers.merchant_helpers import PASSWORD, logged_in, page_token
from vouchers.models import Voucher

ADMIN = "admin@gifts.vn"


@pytest.fixture
def admin(app, brand):
    """A logged-in brand admin of `brand` (a test client) and the page's CSRF token."""
    create_staff(brand.id, ADMIN, PASSWORD, "brand_admin", "Admin", [])
    client = logged_in(app, "dashboard", ADMIN)
    return client, page_token(client.get("/dashboard").get_data(as_text=True))


def fresh() -> None:
    """See what the services and pages wrote (end this test's read snapshot)."""
    db.session.commit()
    db.session.expire_all()


def send(api, offer_id: int, who=None, **body) -> dict:
    body = {"offer_id": offer_id, "recipient": {"name": "Lan"}, **body}
    response = api.post("/gifts", body, **({"who": who} if who else {}))
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def open_and_claim(gift_id: int, claim: bool = True) -> Voucher | None:
    """Open a link gift's claim page (and claim it): no code, it has no email or phone."""
    gift = claims.open_gift(gift_token(gift_id))
    return claims.claim_gift(gift) if claim else None


def _audits(brand_id: int, action: str) -> list[AuditEvent]:
    fresh()
    query = select(AuditEvent).where(AuditEvent.brand_id == brand_id, AuditEvent.action == action)
    return list(db.session.execute(query).scalars())


def _staff_actor(brand_id: int) -> str:
    staff_id = db.session.execute(
        select(StaffUser.id).where(StaffUser.brand_id == brand_id, StaffUser.email == ADMIN)
    ).scalar_one()
    return f"staff:{staff_id}"


def _cell(html: str, testid: str) -> str:
    match = re.search(rf'data-testid="{testid}">([^<]*)<', html)
    assert match, f"no {testid} in the page"
    return match.group(1).strip()


@pytest.fixture
def known_states(api, brand, clock, offer, merchant):
    """Seven 50,000 ₫ gifts, one in each place of the funnel: used, claimed, opened, sent,
    scheduled, cancelled, returned (expired unclaimed)."""
    used = send(api, offer["id"])
    voucher = open_and_claim(used["id"])
    redeemed = api.post("/redemptions", {"code": voucher.code, "merchant_id": merchant["id"]})
    assert redeemed.status_code == 201, redeemed.get_json()
    claimed = send(api, offer["id"])
    open_and_claim(claimed["id"])
    opened = send(api, offer["id"])
    open_and_claim(opened["id"], claim=False)
    sent = send(api, offer["id"], recipient={"name": "Bình", "email": "binh@example.com"})
    later = (clock.now + timedelta(days=5)).isoformat()
    scheduled = send(api, offer["id"], send_at=later)
    cancelled = send(api, offer["id"])
    assert api.post(f"/gifts/{cancelled['id']}/cancel", {}).status_code == 200
    returned = send(api, offer["id"], claim_days=1)
    clock.advance(days=3)
    # Only `returned` is due: the others either have 30 days or are closed already.
    assert expire_gifts() == 1
    fresh()
    return {
        "used": used["id"],
        "claimed": claimed["id"],
        "opened": opened["id"],
        "sent": sent["id"],
        "scheduled": scheduled["id"],
        "cancelled": cancelled["id"],
        "returned": returned["id"],
    }


# --- the funnel --------------------------------------------------------------------------------


def test_the_funnel_counts_each_step_and_the_value_that_moved(brand, known_states):
    funnel = reports.gift_funnel(brand.id)
    # sent: all but the scheduled one (the cancelled and returned ones were sent first).
    assert (funnel.sent, funnel.opened, funnel.claimed, funnel.used) == (6, 3, 2, 1)
    assert [step.rate for step in funnel.steps] == [None, 0.5, 2 / 3, 0.5]
    assert funnel.by_status == {
        "scheduled": 1,
        "sent": 1,
        "opened": 1,
        "claimed": 2,
        "expired": 0,
        "returned": 1,
        "cancelled": 1,
    }
    assert funnel.total == 7
    assert (funnel.value_sent, funnel.value_claimed, funnel.value_returned) == (300_000, 100_000, 50_000)


def test_a_voided_redemption_is_not_a_use_and_since_leaves_older_gifts_out(
    api, brand, clock, offer, merchant
):
    gift = send(api, offer["id"])
    voucher = open_and_claim(gift["id"])
    redemption = api.post("/redemptions", {"code": voucher.code, "merchant_id": merchant["id"]}).get_json()
    fresh()
    assert reports.gift_funnel(brand.id).used == 1
    assert api.post(f"/redemptions/{redemption['id']}/void", {"reason": "mistake"}).status_code == 200
    fresh()
    assert reports.gift_funnel(brand.id).used == 0
    assert reports.gift_funnel(brand.id).claimed == 1
    clock.advance(days=1)
    assert reports.gift_funnel(brand.id, since=clock.now).sent == 0
    assert reports.gift_funnel(brand.id, since=clock.now - timedelta(days=2)).sent == 1


def test_a_lixi_counts_claimed_at_its_first_envelope_and_returns_the_rest(api, brand, clock, make_offer):
    card = make_offer(name="Thẻ quà", kind="gift_card", value=100_000)
    split = {"count": 3, "total": 90_000, "mode": "equal"}
    gift = send(api, card["id"], split=split, claim_days=1)
    row = get_gift(brand.id, gift["id"])
    claims.open_gift(gift_token(row.id))
    claims.request_claim_code(row, "an@example.com")
    fresh()
    assert reports.gift_funnel(brand.id).claimed == 0
    # The code went by mail: read it from the mail the service wrote.
    mail = mails_to("an@example.com")[-1]
    code = code_in(mail.text_body)
    claims.claim_envelope(get_gift(brand.id, row.id), "an@example.com", code, "An")
    fresh()
    funnel = reports.gift_funnel(brand.id)
    assert (funnel.claimed, funnel.value_claimed, funnel.value_sent) == (1, 30_000, 90_000)
    assert funnel.value_returned == 0
    # Unclaimed at its deadline: what is left (two envelopes) is what went back.
    clock.advance(days=3)
    assert expire_gifts() == 1
    fresh()
    funnel = reports.gift_funnel(brand.id)
    assert (funnel.claimed, funnel.value_claimed, funnel.value_returned) == (1, 30_000, 60_000)
    assert funnel.by_status["returned"] == 1


# --- the pages ---------------------------------------------------------------------------------


def test_the_list_shows_states_filters_by_status_and_searches_by_recipient(admin, brand, known_states):
    client, _token = admin
    html = client.get("/dashboard/gifts").get_data(as_text=True)
    assert all(f'data-gift="{gift_id}"' in html for gift_id in known_states.values())
    assert _cell(html, "step-sent") == "6" and _cell(html, "step-used") == "1"
    assert _cell(html, "status-returned") == "1" and _cell(html, "status-total") == "7"
    assert 'id="chart-gift-funnel"' in html  # the chart, beside the table that says the same
    # The funnel of gifts made from a day on (the brand's local day): none after they were made.
    later = client.get("/dashboard/gifts?since=2030-01-02").get_data(as_text=True)
    assert _cell(later, "step-sent") == "0" and _cell(later, "status-total") == "0"
    assert (
        _cell(client.get("/dashboard/gifts?since=2029-12-31").get_data(as_text=True), "status-total") == "7"
    )

    assert reports.used_gifts(brand.id, list(known_states.values())) == {known_states["used"]}
    assert html.count('data-testid="used"') == 1
    claimed = client.get("/dashboard/gifts?status=claimed").get_data(as_text=True)
    assert f'data-gift="{known_states["claimed"]}"' in claimed
    assert f'data-gift="{known_states["used"]}"' in claimed
    assert f'data-gift="{known_states["opened"]}"' not in claimed

    found = client.get("/dashboard/gifts?q=BINH@example").get_data(as_text=True)
    assert f'data-gift="{known_states["sent"]}"' in found
    assert f'data-gift="{known_states["opened"]}"' not in found
    nothing = client.get("/dashboard/gifts?q=nobody%25").get_data(as_text=True)
    assert "data-gift=" not in nothing


def test_a_phone_is_found_as_people_type_it_and_the_list_pages(api, admin, brand, offer):
    client, _token = admin
    by_phone = send(api, offer["id"], recipient={"phone": "0901 234 567"})
    others = [send(api, offer["id"])["id"] for _ in range(3)]
    html = client.get("/dashboard/gifts?q=0901234567").get_data(as_text=True)
    assert f'data-gift="{by_phone["id"]}"' in html and f'data-gift="{others[0]}"' not in html
    page = reports.search_gifts(brand.id, limit=2)
    assert [gift.id for gift in page.gifts] == [others[2], others[1]]
    rest = reports.search_gifts(brand.id, before_id=page.next_before, limit=2)
    assert [gift.id for gift in rest.gifts] == [others[0], by_phone["id"]] and rest.next_before is None
    older = client.get(f"/dashboard/gifts?before={others[1]}").get_data(as_text=True)
    assert f'data-gift="{others[2]}"' not in older and f'data-gift="{others[0]}"' in older


def test_a_gifts_page_shows_its_deliveries_and_trail(admin, brand, known_states):
    client, _token = admin
    page = client.get(f"/dashboard/gifts/{known_states['sent']}")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "binh@example.com" in html
    assert 'data-kind="gift"' in html  # the first delivery, by email
    assert "gift.created" in html and "gift.sent" in html
    assert 'data-testid="resend"' in html and 'data-testid="cancel"' in html
    # A closed gift offers neither.
    closed = client.get(f"/dashboard/gifts/{known_states['claimed']}").get_data(as_text=True)
    assert 'data-testid="resend"' not in closed and "gift.claimed" in closed
    assert "held by the gift" in client.get(f"/dashboard/gifts/{known_states['sent']}?lang=en").get_data(
        as_text=True
    )
    used = client.get(f"/dashboard/gifts/{known_states['used']}").get_data(as_text=True)
    assert 'data-testid="used"' in used and 'data-testid="used"' not in closed


def test_resend_to_a_corrected_email_records_a_delivery_audited_as_the_staff(admin, api, brand, offer):
    client, token = admin
    gift = send(api, offer["id"], recipient={"name": "Chi", "email": "chi@exmaple.com"})
    response = client.post(
        f"/dashboard/gifts/{gift['id']}/resend", data={"email": "chi@example.com", "csrf_token": token}
    )
    assert response.status_code == 302
    fresh()
    assert get_gift(brand.id, gift["id"]).recipient_email == "chi@example.com"
    deliveries = db.session.execute(
        select(GiftDelivery.kind, GiftDelivery.to_address).where(GiftDelivery.gift_id == gift["id"])
    ).all()
    assert ("resend", "chi@example.com") in deliveries
    resent = _audits(brand.id, "gift.resent")
    assert [event.actor for event in resent] == [_staff_actor(brand.id)]
    assert "chi@example.com" in client.get(response.location).get_data(as_text=True)


def test_resend_refuses_a_bad_email_beside_the_field_and_a_claimed_gift(admin, api, brand, offer):
    client, token = admin
    gift = send(api, offer["id"], recipient={"email": "dung@example.com"})
    bad = client.post(
        f"/dashboard/gifts/{gift['id']}/resend", data={"email": "not-an-email", "csrf_token": token}
    )
    assert bad.status_code == 422
    assert 'class="field-error"' in bad.get_data(as_text=True)
    assert _audits(brand.id, "gift.resent") == []
    link_gift = send(api, offer["id"])
    open_and_claim(link_gift["id"])
    refused = client.post(f"/dashboard/gifts/{link_gift['id']}/resend", data={"csrf_token": token})
    assert refused.status_code == 302
    assert "alert-error" in client.get(refused.location).get_data(as_text=True)
    assert _audits(brand.id, "gift.resent") == []
    no_token = client.post(f"/dashboard/gifts/{gift['id']}/resend", data={"email": "x@example.com"})
    assert no_token.status_code == 400  # CSRF


def test_cancel_needs_the_confirmation_and_voids_a_brands_gift_audited(admin, api, brand, offer):
    client, token = admin
    gift = send(api, offer["id"])
    unconfirmed = client.post(f"/dashboard/gifts/{gift['id']}/cancel", data={"csrf_token": token})
    assert unconfirmed.status_code == 422
    fresh()
    assert get_gift(brand.id, gift["id"]).status == "sent"
    done = client.post(f"/dashboard/gifts/{gift['id']}/cancel", data={"confirm": "yes", "csrf_token": token})
    assert done.status_code == 302
    fresh()
    row = get_gift(brand.id, gift["id"])
    assert row.status == "cancelled"
    assert db.session.get(Voucher, row.voucher_id).status == "voided"
    assert [event.actor for event in _audits(brand.id, "gift.cancelled")] == [_staff_actor(brand.id)]
    again = client.post(f"/dashboard/gifts/{gift['id']}/cancel", data={"confirm": "yes", "csrf_token": token})
    assert again.status_code == 302 and "alert-error" in client.get(again.location).get_data(as_text=True)


def test_another_brands_gift_is_a_404_on_every_page(admin, api, make_brand, make_offer, brand):
    client, token = admin
    other = make_brand("Trà Sữa")
    other_offer = api.post("/offers", {"name": "20k", "kind": "fixed_amount", "value": 20000}, who=other)
    theirs = send(api, other_offer.get_json()["id"], who=other)
    assert client.get(f"/dashboard/gifts/{theirs['id']}").status_code == 404
    assert (
        client.post(f"/dashboard/gifts/{theirs['id']}/resend", data={"csrf_token": token}).status_code == 404
    )
    cancel = client.post(
        f"/dashboard/gifts/{theirs['id']}/cancel", data={"confirm": "yes", "csrf_token": token}
    )
    assert cancel.status_code == 404
    fresh()
    assert db.session.get(Gift, theirs["id"]).status == "sent"
    assert f'data-gift="{theirs["id"]}"' not in client.get("/dashboard/gifts").get_data(as_text=True)
    assert reports.gift_funnel(brand.id).total == 0


def test_a_gift_from_a_file_links_to_its_batch(admin, api, brand, offer):
    client, _token = admin
    gift = send(api, offer["id"])
    batch = GiftBatch(brand_id=brand.id, filename="tet.csv", created_by="staff:1")
    db.session.add(batch)
    db.session.flush()
    db.session.get(Gift, gift["id"]).batch_id = batch.id
    fresh()
    html = client.get(f"/dashboard/gifts/{gift['id']}").get_data(as_text=True)
    assert f'href="/dashboard/gifts/batches/{batch.id}"' in html


def test_a_gift_claimed_without_a_recorded_opening_still_counts_as_opened(api, brand, offer):
    gift = send(api, offer["id"])
    claims.claim_gift(get_gift(brand.id, gift["id"]))  # the service, not the page: no opened_at
    fresh()
    assert get_gift(brand.id, gift["id"]).opened_at is None
    funnel = reports.gift_funnel(brand.id)
    assert (funnel.sent, funnel.opened, funnel.claimed) == (1, 1, 1)
