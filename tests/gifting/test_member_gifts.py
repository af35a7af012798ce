"""The member's side of gifting: "Tặng bạn" beside each usable voucher of the wallet, sending from
it (the voucher is held, the wallet says it was sent), a date or a lunar date, the gifts sent and
received, refusals in words (never a 500), and forged or foreign links refused."""

from __future__ import annotations

import html as html_lib
import re
from datetime import UTC, datetime
from urllib.parse import parse_qs, urlsplit

import pytest
from sqlalchemy import select

from gifting import claims
from gifting.links import gift_token
from gifting.lunar import solar_date
from gifting.models import Gift
from gifting.queries import get_gift
from lixi.extensions import db
from lixi.models import AuditEvent
from tests.browser import assert_accessible, chromium, log_in_with_form, watch
from tests.gifting.test_states import code_in, mails_to
from tests.live import running_lixi
from tests.vouchers.merchant_helpers import PASSWORD, form_token
from vouchers.models import Voucher

PHONE = {"width": 390, "height": 844}


def fresh() -> None:
    db.session.commit()
    db.session.expire_all()


@pytest.fixture
def wallet_of(api, issue, offer):
    """wallet_of(external_id, **member fields) -> (member link token, the member's new voucher code)."""

    def make(external_id: str, **fields: object) -> tuple[str, str]:
        response = api.post("/members", {"external_id": external_id, **fields})
        assert response.status_code in (200, 201), response.get_json()
        link = api.post(f"/members/{external_id}/links", {})
        assert link.status_code == 201, link.get_json()
        token = parse_qs(urlsplit(link.get_json()["wallet_url"]).query)["t"][0]
        code = issue(offer["id"], member_external_id=external_id)[0]["code"]
        return token, code

    return make


def page(client, path: str, **query: str):
    response = client.get(path, query_string=query)
    return response, response.get_data(as_text=True)


def send_from_form(client, token: str, code: str, lang: str = "vi", **fields: str):
    """Open "Tặng bạn" for the voucher and post its form (the CSRF token it served included)."""
    response, html = page(client, "/me/gifts/new", t=token, code=code, lang=lang)
    assert response.status_code == 200, html
    data = {"csrf_token": form_token(html), "t": token, "code": code, "design": "tet", **fields}
    return client.post("/me/gifts/new", data=data, query_string={"lang": lang})


def a_29_day_lunar_month(year: int) -> int:
    """A month of that lunar year without a 30th (the calendar alternates 29- and 30-day months)."""
    for month in range(1, 13):
        try:
            solar_date(year, month, 30)
        except ValueError:
            return month
    raise AssertionError("no 29-day month")


def held_by(code_or_id: str | int) -> str | None:
    fresh()
    column = Voucher.id if isinstance(code_or_id, int) else Voucher.code
    return db.session.execute(select(Voucher.held_by).where(column == code_or_id)).scalar_one()


def test_the_wallet_offers_tang_ban_beside_a_usable_voucher_only(
    client, wallet_of, issue, offer, merchant, api
):
    token, code = wallet_of("m-1", name="An")
    used = issue(offer["id"], member_external_id="m-1")[0]["code"]
    assert api.post("/redemptions", {"code": used, "merchant_id": merchant["id"]}).status_code == 201
    for path in ("/wallet", "/me"):
        response, html = page(client, path, t=token)
        assert response.status_code == 200
        actions = re.findall(r'data-testid="voucher-action" href="([^"]+)">([^<]+)<', html)
        assert len(actions) == 1, actions  # the used voucher has none
        href, label = actions[0]
        assert label == "Tặng bạn"
        query = parse_qs(urlsplit(html_lib.unescape(href)).query)
        assert query["code"] == [code] and query["t"] == [token]
        assert f'href="/me/gifts?t={token}" data-testid="my-gifts"' in html
    form_page = client.get(html_lib.unescape(href)).get_data(as_text=True)
    assert re.search(r'data-testid="voucher">.*50\.000', form_page, re.S)  # what is given, and its worth
    _, english = page(client, "/wallet", t=token, lang="en")
    assert "Give to a friend" in english


def test_sending_from_the_wallet_holds_the_voucher_and_the_wallet_says_so(client, wallet_of, brand):
    token, code = wallet_of("m-1", name="An")
    sent = send_from_form(
        client,
        token,
        code,
        recipient_name="Bình",
        recipient_email="binh@example.com",
        message="Chúc mừng năm mới!",
    )
    assert sent.status_code == 303
    gift_id = int(re.search(r"/me/gifts/(\d+)", sent.location).group(1))
    fresh()
    gift = get_gift(brand.id, gift_id)
    assert (gift.status, gift.recipient_email, gift.design, gift.message) == (
        "sent",
        "binh@example.com",
        "tet",
        "Chúc mừng năm mới!",
    )
    assert gift.sender.external_id == "m-1" and gift.sender_name == "An"
    assert held_by(code) == f"gift:{gift_id}"

    response, html = page(client, urlsplit(sent.location).path, t=token)
    assert response.status_code == 200 and response.headers["Cache-Control"] == "no-store"
    assert "/g/" in html and 'data-testid="claim-url"' in html
    assert "facebook.com/sharer" in html

    _, wallet = page(client, "/wallet", t=token)
    assert 'data-testid="held"' in wallet and 'data-testid="voucher-action"' not in wallet
    # A second gift of the same voucher is refused in words.
    again, refusal = page(client, "/me/gifts/new", t=token, code=code, lang="en")
    assert again.status_code == 409 and "already sent this voucher" in refusal


def test_the_member_sees_gifts_sent_and_received_in_words(client, wallet_of, brand):
    a_token, a_code = wallet_of("m-a", name="An")
    b_token, _ = wallet_of("m-b", name="Bình", email="binh@example.com")
    sent = send_from_form(client, a_token, a_code, recipient_email="binh@example.com", recipient_name="Bình")
    gift_id = int(re.search(r"/me/gifts/(\d+)", sent.location).group(1))
    _, listed = page(client, "/me/gifts", t=a_token)
    assert (
        f'data-gift="{gift_id}" data-status="sent"' in listed
        and "Sent, not opened yet" in page(client, "/me/gifts", t=a_token, lang="en")[1]
    )
    assert f'id="claim-url-{gift_id}"' in listed and "/g/" in listed  # to share again from the list
    _, nothing = page(client, "/me/gifts", t=b_token)
    assert f'data-gift="{gift_id}"' not in nothing

    # Bình claims it with the code mailed to the address, so it lands in their wallet as theirs.
    gift = claims.open_gift(gift_token(gift_id))
    claims.request_claim_code(gift)
    fresh()
    mail = mails_to("binh@example.com")[-1]
    claims.claim_gift(get_gift(brand.id, gift_id), code_in(mail.text_body))

    _, received = page(client, "/me/gifts", t=b_token, lang="en")
    assert f'data-gift="{gift_id}" data-status="claimed"' in received and "From An" in received
    _, sender_view = page(client, "/me/gifts", t=a_token, lang="en")
    assert f'data-gift="{gift_id}" data-status="claimed"' in sender_view and "Claimed" in sender_view
    assert f'id="claim-url-{gift_id}"' not in sender_view  # nothing left to share
    # The gift's page is the sender's: the recipient (or anyone else) gets a 404.
    assert page(client, f"/me/gifts/{gift_id}", t=b_token)[0].status_code == 404


def test_the_sender_takes_an_unclaimed_gift_back_into_the_wallet(client, wallet_of, brand):
    token, code = wallet_of("m-1")
    other_token, _ = wallet_of("m-2")
    sent = send_from_form(client, token, code, recipient_email="lan@example.com")
    gift_id = int(re.search(r"/me/gifts/(\d+)", sent.location).group(1))
    _, gift_page = page(client, f"/me/gifts/{gift_id}", t=token)
    csrf = form_token(gift_page)
    unconfirmed = client.post(f"/me/gifts/{gift_id}/cancel", data={"t": token, "csrf_token": csrf})
    assert unconfirmed.status_code == 422
    assert (
        client.post(
            f"/me/gifts/{gift_id}/cancel", data={"t": other_token, "csrf_token": csrf, "confirm": "yes"}
        ).status_code
        == 404
    )  # only the sender
    fresh()
    assert get_gift(brand.id, gift_id).status == "sent"

    done = client.post(f"/me/gifts/{gift_id}/cancel", data={"t": token, "csrf_token": csrf, "confirm": "yes"})
    assert done.status_code == 303
    fresh()
    gift = get_gift(brand.id, gift_id)
    voucher = db.session.get(Voucher, gift.voucher_id)
    assert gift.status == "cancelled" and voucher.held_by is None and voucher.code != code
    actors = db.session.execute(
        select(AuditEvent.actor).where(
            AuditEvent.action == "gift.cancelled", AuditEvent.subject_id == str(gift_id)
        )
    ).scalars()
    assert list(actors) == [f"member:{gift.sender_member_id}"]
    _, wallet = page(client, "/wallet", t=token)
    assert voucher.code in wallet and 'data-testid="held"' not in wallet
    _, closed = page(client, f"/me/gifts/{gift_id}", t=token, lang="en")
    assert "You took this gift back" in closed and 'data-testid="take-back"' not in closed
    again = client.post(
        f"/me/gifts/{gift_id}/cancel",
        data={"t": token, "csrf_token": csrf, "confirm": "yes"},
        query_string={"lang": "en"},
    )
    assert again.status_code == 409 and "no longer open" in again.get_data(as_text=True)


def test_an_envelope_of_a_lixi_shows_as_received_with_its_amount(client, wallet_of, api, make_offer, brand):
    token, _ = wallet_of("m-1", email="an@example.com")
    card = make_offer(name="Lì xì", kind="gift_card", value=100_000)
    body = {"offer_id": card["id"], "split": {"count": 2, "total": 60_000}, "recipient": {}}
    made = api.post("/gifts", body)
    assert made.status_code == 201, made.get_json()
    gift = claims.open_gift(gift_token(made.get_json()["id"]))
    claims.request_claim_code(gift, "an@example.com")
    fresh()
    mail = mails_to("an@example.com")[-1]
    code = code_in(mail.text_body)
    envelope = claims.claim_envelope(get_gift(brand.id, gift.id), "an@example.com", code, "An")
    _, html = page(client, "/me/gifts", t=token, lang="en")
    received = html.split('data-testid="gifts-received"')[1]
    assert f'data-gift="{gift.id}"' in received and "You opened an envelope" in received
    assert f"{envelope.amount:,}" in received.replace(".", ",")


def test_a_gift_card_goes_to_a_group_as_lixi_envelopes(client, api, issue, make_offer, brand, wallet_of):
    token, plain = wallet_of("m-1")
    _, form = page(client, "/me/gifts/new", t=token, code=plain)
    assert 'name="split"' not in form  # only a gift card splits
    card = make_offer(name="Thẻ quà", kind="gift_card", value=100_000)
    code = issue(card["id"], member_external_id="m-1")[0]["code"]
    small = issue(make_offer(name="Thẻ 5k", kind="gift_card", value=5_000)["id"], member_external_id="m-1")[0]
    refused = send_from_form(client, token, small["code"], lang="en", split="1", split_count="6")
    assert refused.status_code == 422 and "5 at most" in refused.get_data(as_text=True)
    one = send_from_form(client, token, code, lang="en", split="1", split_count="1")
    assert one.status_code == 422 and 'data-testid="error-split"' in one.get_data(as_text=True)
    assert held_by(code) is None

    sent = send_from_form(client, token, code, split="1", split_count="4", split_mode="random")
    assert sent.status_code == 303, sent.get_data(as_text=True)
    fresh()
    gift = db.session.execute(select(Gift)).scalar_one()
    assert (gift.split_count, gift.split_mode, gift.value) == (4, "random", 100_000)
    assert sum(envelope.amount for envelope in gift.envelopes) == 100_000
    assert held_by(code) == f"gift:{gift.id}"
    _, html = page(client, f"/me/gifts/{gift.id}", t=token, lang="en")
    assert "A lì xì in 4 envelopes" in html and 'data-testid="claim-url"' in html


def test_a_lunar_date_schedules_the_gift_for_mung_1_tet(client, wallet_of, brand, clock):
    clock.now = datetime(2029, 12, 1, tzinfo=UTC)
    token, code = wallet_of("m-1")
    _, form = page(client, "/me/gifts/new", t=token, code=code)
    assert 'name="lunar_year" inputmode="numeric" size="5" value="2030"' in form  # the next Tết
    sent = send_from_form(
        client,
        token,
        code,
        when="lunar",
        lunar_year="2030",
        lunar_month="1",
        lunar_day="1",
        lunar_time="08:00",
    )
    assert sent.status_code == 303, sent.get_data(as_text=True)
    fresh()
    gift = db.session.execute(select(Gift)).scalar_one()
    # Tết 2030 is 2 February in Vietnam (3 in China); 08:00 at UTC+7 is 01:00 UTC.
    assert gift.status == "scheduled"
    assert gift.send_at == datetime(2030, 2, 2, 1, 0, tzinfo=UTC)
    _, html = page(client, f"/me/gifts/{gift.id}", t=token, lang="en")
    assert "Your gift is scheduled" in html and 'data-testid="claim-url"' not in html


@pytest.mark.parametrize(
    ("fields", "field", "words"),
    [
        ({"recipient_email": "not-an-email"}, "recipient_email", None),
        ({"recipient_phone": "12"}, "recipient_phone", None),
        ({"message": "x" * 501}, "message", "At most 500 characters."),
        ({"when": "date", "send_at": "2020-01-01T08:00"}, "send_at", "Choose a moment in the future."),
        (
            {
                "when": "lunar",
                "lunar_year": "2030",
                "lunar_month": str(a_29_day_lunar_month(2030)),
                "lunar_day": "30",
            },
            "lunar",
            "The lunar calendar has no such day.",
        ),
        ({"claim_days": "0"}, "claim_days", "Between 1 and 365 days."),
        ({"when": "lunar", "lunar_year": "2032", "lunar_month": "1", "lunar_day": "1"}, "lunar", "400 days"),
        (
            {"when": "lunar", "lunar_year": "2029", "lunar_month": "1", "lunar_day": "1"},
            "lunar",
            "in the future",
        ),
        ({"when": "lunar", "lunar_year": "năm Tuất", "lunar_month": "1", "lunar_day": "1"}, "lunar", None),
    ],
)
def test_a_refused_form_says_why_beside_the_field_and_sends_nothing(
    client, wallet_of, clock, fields, field, words
):
    token, code = wallet_of("m-1")
    response = send_from_form(client, token, code, lang="en", **fields)
    html = response.get_data(as_text=True)
    assert response.status_code == 422, html
    assert f'data-testid="error-{field}"' in html
    if words:
        assert words in html
    assert held_by(code) is None
    assert db.session.execute(select(Gift.id)).first() is None


def test_vouchers_that_cannot_be_given_are_refused_in_words(client, wallet_of, api, merchant, issue, offer):
    token, code = wallet_of("m-1")
    _, other_code = wallet_of("m-2")
    not_mine, html = page(client, "/me/gifts/new", t=token, code=other_code, lang="en")
    assert not_mine.status_code == 404 and "This voucher is not in your wallet." in html
    unknown, html = page(client, "/me/gifts/new", t=token, code="NOPE", lang="en")
    assert unknown.status_code == 404 and "not in your wallet" in html
    assert api.post("/redemptions", {"code": code, "merchant_id": merchant["id"]}).status_code == 201
    used, html = page(client, "/me/gifts/new", t=token, code=code, lang="en")
    assert used.status_code == 409 and "already been used" in html
    # Posting the form anyway (with a token from a form of a voucher that can be given) is refused too.
    spare = issue(offer["id"], member_external_id="m-1")[0]["code"]
    _, spare_form = page(client, "/me/gifts/new", t=token, code=spare)
    posted = client.post(
        "/me/gifts/new",
        data={"t": token, "code": code, "csrf_token": form_token(spare_form)},
        query_string={"lang": "en"},
    )
    assert posted.status_code == 409 and "already been used" in posted.get_data(as_text=True)
    assert db.session.execute(select(Gift.id)).first() is None


def test_a_member_sends_at_most_the_limit_and_refused_forms_do_not_count(
    app, client, wallet_of, issue, offer
):
    app.config["GIFT_MEMBER_SEND_LIMIT"] = "2 per hour"
    token, first = wallet_of("m-1")
    second, third = (issue(offer["id"], member_external_id="m-1")[0]["code"] for _ in range(2))
    assert send_from_form(client, token, first, claim_days="0").status_code == 422  # not counted
    assert send_from_form(client, token, first).status_code == 303
    assert send_from_form(client, token, second).status_code == 303
    assert send_from_form(client, token, third).status_code == 429
    assert held_by(third) is None


def test_forged_links_and_missing_csrf_are_refused(client, wallet_of):
    token, code = wallet_of("m-1")
    forged = token[:-2] + ("aa" if not token.endswith("aa") else "bb")
    for path in ("/me/gifts", "/me/gifts/new"):
        assert client.get(path, query_string={"t": forged, "code": code}).status_code == 404
    assert client.get("/me/gifts").status_code == 404
    no_csrf = client.post(
        "/me/gifts/new", data={"t": token, "code": code, "recipient_email": "a@example.com"}
    )
    assert no_csrf.status_code == 400
    assert held_by(code) is None


# --- in a browser: the wallet's "Tặng bạn" on a phone, then the gift in the dashboard ----------


@pytest.mark.slow
@pytest.mark.live
def test_a_member_gives_a_voucher_from_the_wallet_on_a_phone(tmp_path, redis_url, migrated):
    admin = {"email": "gifts@live.vn", "password": PASSWORD, "role": "brand_admin", "merchant_ids": []}
    with running_lixi(tmp_path, redis_url) as live:
        assert live.post("/staff", admin).status_code == 201
        assert live.post("/members", {"external_id": "w-1", "name": "Mai"}).status_code == 201
        offer = live.post("/offers", {"name": "Trà sữa", "kind": "fixed_amount", "value": 45000}).json()
        live.post("/vouchers", {"offer_id": offer["id"], "member_external_id": "w-1"})
        wallet = live.post("/members/w-1/links", {}).json()["wallet_url"]
        with chromium() as browser, browser.new_context(viewport=PHONE, locale="vi-VN") as context:
            page = context.new_page()
            watched = watch(page)
            page.goto(wallet)
            page.get_by_role("link", name="Tặng bạn").click()
            page.wait_for_url("**/me/gifts/new?**")
            assert page.evaluate("() => document.documentElement.scrollWidth") <= PHONE["width"]
            assert_accessible(page, "the gift form")
            page.fill("#recipient_name", "Lan")
            page.fill("#recipient_email", "lan@example.com")
            page.fill("#message", "Chúc mừng sinh nhật!")
            page.locator("label.design-choice", has_text="Sinh nhật").click()
            page.get_by_role("button", name="Gửi quà").click()
            page.wait_for_url(re.compile(r".*/me/gifts/\d+\?.*"))
            assert "/g/" in page.locator("[data-testid=claim-url]").input_value()
            page.get_by_role("button", name="Chép liên kết").wait_for()  # shown by the script
            assert_accessible(page, "the sent gift")
            page.goto(wallet)
            assert page.locator("[data-testid=held]").inner_text() == "Đã gửi tặng"
            page.locator("[data-testid=my-gifts]").click()
            page.wait_for_url("**/me/gifts?**")
            page.locator("details.gift-share summary").click()
            assert "/g/" in page.locator("details.gift-share [data-testid=claim-url]").input_value()
            assert_accessible(page, "the member's gifts")
            page.goto(wallet)
            assert page.get_by_role("link", name="Tặng bạn").count() == 0

            page.goto(f"{live.server.url}/dashboard/login")
            log_in_with_form(page, live.brand_slug, admin["email"], PASSWORD, "Đăng nhập", "**/dashboard")
            page.goto(f"{live.server.url}/dashboard/gifts")
            assert page.locator("[data-testid=step-sent]").inner_text() == "1"
            page.wait_for_function("() => window.Chart && Chart.getChart('chart-gift-funnel')")
            assert_accessible(page, "the dashboard's gifts")
            page.locator("[data-testid=gifts] a").first.click()
            assert page.locator("[data-testid=recipient-email]").inner_text() == "lan@example.com"
            assert_accessible(page, "a gift in the dashboard")
            watched.check()
