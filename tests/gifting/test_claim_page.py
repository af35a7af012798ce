"""The claim page /g/<token> through the test client: each state of a gift, the one-time code (a
wrong code says how many tries are left, five lock it, an old one has expired), the QR shown only
on the device that claimed, a lì xì's board, forged links, CSRF, the per-client limit, and the
gift's language; the gift and code mails rendered from the page's templates."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit

import pytest
from flask.testing import FlaskClient
from sqlalchemy import func, select

from gifting.events import GIFT_DELIVERY_REQUESTED
from gifting.models import GiftClaimCode
from gifting.views import CLAIMED_COOKIE
from lixi.extensions import db
from lixi.models import MailMessage, OutboxMessage
from tests.vouchers.merchant_helpers import form_token

CODE = re.compile(r"\b(\d{6})\b")
QR = re.compile(r'src="[^"]*/v/([^"/]+)/qr\.svg"')


@pytest.fixture
def tet_gift(send_gift, gift_offer):
    """A 500,000 ₫ gift card from Minh to Lan's email, on the Tết card, in Vietnamese."""

    def make(**body: object) -> dict:
        fields = {
            "offer_id": gift_offer["id"],
            "sender": {"name": "Minh"},
            "recipient": {"name": "Lan", "email": "lan@example.vn"},
            "message": "Chúc mừng năm mới!\nAn khang thịnh vượng",
            "design": "tet",
            **body,
        }
        return send_gift(**fields)

    return make


def path(gift: dict) -> str:
    return urlsplit(gift["claim_url"]).path


def page(client: FlaskClient, gift: dict, **options) -> str:
    response = client.get(path(gift), **options)
    assert response.status_code == 200, response.status_code
    assert response.headers["Cache-Control"] == "no-store"
    return response.get_data(as_text=True)


def csrf(client: FlaskClient, gift: dict) -> str:
    """The client's CSRF token, from the gift's page when it has a form (a claimed or closed gift's
    has none: then from the staff log-in form, the same session's token)."""
    html = client.get(path(gift)).get_data(as_text=True)
    if 'name="csrf_token"' not in html:
        html = client.get("/merchant/login").get_data(as_text=True)
    return form_token(html)


def post(client: FlaskClient, gift: dict, action: str, **form: str):
    """POST a form of the page as a browser would: with the CSRF token of its session."""
    return client.post(f"{path(gift)}/{action}", data={"csrf_token": csrf(client, gift), **form})


def text(response) -> str:
    return response.get_data(as_text=True)


def last_code(to: str) -> str:
    """The code in the newest mail to `to` (the mail outbox row: no worker needed), or for a phone
    (E.164) in the newest gift.delivery_requested event to it (the brand's SMS provider sends it)."""
    db.session.commit()  # a fresh read
    if "@" not in to:
        texts = [
            payload["text"]
            for payload in db.session.execute(
                select(OutboxMessage.payload)
                .where(OutboxMessage.topic == GIFT_DELIVERY_REQUESTED)
                .order_by(OutboxMessage.id.desc())
            ).scalars()
            if payload["kind"] == "code" and payload["phone"] == to
        ]
        assert texts, f"no code sent to {to}"
        return CODE.search(texts[0]).group(1)
    mails = mails_to(to)
    assert mails, f"no mail to {to}"
    return CODE.search(mails[-1].text_body).group(1)


def mails_to(to: str) -> list[MailMessage]:
    db.session.commit()  # a fresh read
    query = select(MailMessage).where(MailMessage.to_address == to).order_by(MailMessage.id)
    return list(db.session.execute(query).scalars())


def status(api, gift: dict) -> str:
    return api.get(f"/gifts/{gift['id']}").get_json()["status"]


def wrong(code: str) -> str:
    return f"{(int(code) + 1) % 1_000_000:06d}"


def test_the_envelope_opens_on_the_card_and_the_message_in_the_gifts_language(client, api, tet_gift):
    gift = tet_gift()
    assert status(api, gift) == "sent"
    html = page(client, gift, headers={"Accept-Language": "en"})  # the gift's language wins
    assert 'lang="vi"' in html and "Quà tặng từ Minh" in html and "Gửi Lan" in html
    assert '<details class="gift-envelope is-sealed" data-gift-envelope >' in html  # closed until tapped
    assert "Mở bao lì xì" in html and "/static/gifting/cards/tet.svg" in html
    assert "Chúc mừng năm mới!\nAn khang thịnh vượng" in html
    assert "500.000\xa0₫" in html and "Nhận quà trước" in html
    assert "Gửi mã cho tôi" in html  # an emailed gift is claimed with a code
    assert 'src="/static/js/gifting.js"' in html and " style=" not in html  # the CSP: no inline style
    assert status(api, gift) == "opened"  # the first look marks it opened

    english = page(client, gift, query_string={"lang": "en"})
    assert 'lang="en"' in english and "A gift from Minh" in english and "Open the envelope" in english
    assert "₫500,000" in english


def test_a_gift_in_english_reads_english_and_switches_to_vietnamese(client, tet_gift):
    gift = tet_gift(recipient={"name": "Kim", "email": "kim@example.com", "language": "en"})
    html = page(client, gift, headers={"Accept-Language": "vi"})
    assert 'lang="en"' in html and "A gift from Minh" in html and "For Kim" in html
    sent = post(client, gift, "code")
    assert sent.status_code == 200
    assert "We sent a code to k***@example.com. It works for 10 minutes." in text(sent)
    refused = post(client, gift, "claim", code=wrong(last_code("kim@example.com")))
    assert refused.status_code == 422 and "That code is not right: 4 tries left." in text(refused)
    assert "Quà tặng từ Minh" in page(client, gift, query_string={"lang": "vi"})


def test_a_wrong_code_says_the_tries_left_and_the_right_one_claims_with_the_qr_for_this_device_only(
    app, client, api, tet_gift
):
    gift = tet_gift()
    page(client, gift)
    sent = post(client, gift, "code")
    assert sent.status_code == 200
    assert "Chúng tôi đã gửi mã đến l***@example.vn" in text(sent)
    assert 'data-testid="code-input"' in text(sent)
    code = last_code("lan@example.vn")

    refused = post(client, gift, "claim", code=wrong(code))
    assert refused.status_code == 422
    assert "Mã không đúng: còn 4 lần thử." in text(refused)
    assert status(api, gift) == "opened"
    missing = post(client, gift, "claim", code="")
    assert missing.status_code == 422 and "Nhập mã 6 chữ số" in text(missing)

    claimed = post(client, gift, "claim", code=code)
    assert claimed.status_code == 303 and claimed.headers["Location"].endswith(path(gift))
    assert CLAIMED_COOKIE in claimed.headers["Set-Cookie"] and "Path=/g/" in claimed.headers["Set-Cookie"]
    assert status(api, gift) == "claimed"

    mine = page(client, gift)  # the reload after the redirect
    assert 'data-testid="claimed"' in mine and "Món quà là của bạn!" in mine
    voucher_token = QR.search(mine).group(1)
    voucher = client.get(f"/v/{voucher_token}")
    assert voucher.status_code == 200 and "Sẵn sàng sử dụng" in text(voucher)
    assert client.get(f"/v/{voucher_token}/qr.svg").status_code == 200

    other = app.test_client()  # another phone opening the same link
    elsewhere = page(other, gift)
    assert "Món quà này đã được nhận." in elsewhere and "qr.svg" not in elsewhere
    again = post(other, gift, "claim", code=code)
    assert again.status_code == 409 and "qr.svg" not in text(again)

    # A cookie that is not ours (edited) shows nothing either.
    forged = app.test_client()
    forged.set_cookie(CLAIMED_COOKIE, client.get_cookie(CLAIMED_COOKIE, path="/g/").value + "x", path="/g/")
    assert "qr.svg" not in page(forged, gift)


def test_five_wrong_codes_lock_it_until_a_new_code_is_sent(client, api, tet_gift):
    gift = tet_gift()
    post(client, gift, "code")
    code = last_code("lan@example.vn")
    for left in (4, 3, 2, 1):
        refused = post(client, gift, "claim", code=wrong(code))
        assert refused.status_code == 422 and f"còn {left} lần thử" in text(refused)
    locked = post(client, gift, "claim", code=wrong(code))
    assert locked.status_code == 409
    assert "Nhập sai quá nhiều lần" in text(locked)
    assert 'data-testid="code-input"' not in text(locked) and 'data-testid="resend-code"' in text(locked)
    still = post(client, gift, "claim", code=code)  # even the right code, once locked
    assert still.status_code == 409 and "Nhập sai quá nhiều lần" in text(still)
    assert status(api, gift) == "opened"

    assert post(client, gift, "code").status_code == 200  # a new code starts over
    fresh = last_code("lan@example.vn")
    assert post(client, gift, "claim", code=fresh).status_code == 303
    assert status(api, gift) == "claimed"


def test_an_expired_code_is_refused_in_words(client, clock, api, tet_gift):
    clock.now = datetime.now(UTC).replace(microsecond=0)
    gift = tet_gift()
    post(client, gift, "code")
    code = last_code("lan@example.vn")
    clock.advance(minutes=11)
    expired = post(client, gift, "claim", code=code)
    assert expired.status_code == 422 and "Mã này đã hết hạn. Hãy yêu cầu mã mới." in text(expired)
    assert status(api, gift) == "opened"


def test_a_gift_without_an_address_is_claimed_with_one_button(client, api, tet_gift):
    gift = tet_gift(recipient={"name": "Lan"})
    html = page(client, gift)
    assert 'data-testid="claim-button"' in html and "Gửi mã cho tôi" not in html
    claimed = post(client, gift, "claim")
    assert claimed.status_code == 303
    assert QR.search(page(client, gift))
    assert status(api, gift) == "claimed"


def test_a_scheduled_gift_says_when_it_arrives_and_cannot_be_claimed_yet(client, api, tet_gift):
    arrives = datetime.now(UTC).replace(microsecond=0) + timedelta(days=100)
    gift = tet_gift(recipient={"name": "Lan"}, send_at=arrives.isoformat())
    html = page(client, gift)
    assert "Món quà này sẽ đến vào" in html and str(arrives.year) in html
    assert "claim-button" not in html and "gift-envelope" not in html
    refused = post(client, gift, "claim")
    assert refused.status_code == 409 and "Món quà này chưa đến." in text(refused)
    assert status(api, gift) == "scheduled"


def test_a_cancelled_or_expired_gift_is_no_longer_available(client, clock, api, tet_gift):
    clock.now = datetime.now(UTC).replace(microsecond=0)
    cancelled = tet_gift()
    assert api.post(f"/gifts/{cancelled['id']}/cancel", {}).status_code == 200
    html = page(client, cancelled)
    assert "Món quà này không còn nữa." in html and "Người gửi đã huỷ món quà." in html
    assert "gift-envelope" not in html
    assert post(client, cancelled, "claim", code="123456").status_code == 409

    late = tet_gift(claim_days=1)
    clock.advance(days=2)
    html = page(client, late)
    assert "Món quà không được nhận kịp thời hạn." in html and "gift-envelope" not in html  # before the sweep
    refused = post(client, late, "code")
    assert refused.status_code == 409 and "Món quà này không còn nữa." in text(refused)


def test_forged_and_tampered_links_are_a_404_page(client, tet_gift):
    gift = tet_gift()
    token = path(gift).rsplit("/", 1)[1]
    tampered = token[:-1] + ("A" if token[-1] != "A" else "B")
    for bad in ("not-a-token", tampered, "x" * 300):
        response = client.get(f"/g/{bad}")
        assert response.status_code == 404 and response.mimetype == "text/html"
        assert "Chúng tôi không tìm thấy" in text(response)
    form = form_token(page(client, gift))
    for action in ("code", "claim"):
        response = client.post(f"/g/{tampered}/{action}", data={"csrf_token": form, "code": "123456"})
        assert response.status_code == 404


def test_a_post_without_the_csrf_token_is_refused_and_sends_nothing(client, tet_gift):
    gift = tet_gift()
    page(client, gift)
    for action in ("code", "claim"):
        response = client.post(f"{path(gift)}/{action}", data={"code": "123456"})
        assert response.status_code == 400 and response.mimetype == "text/html"
        assert "Trang này đã hết hạn" in text(response)
    db.session.commit()
    assert db.session.execute(select(func.count()).select_from(GiftClaimCode)).scalar() == 0
    assert post(client, gift, "code").status_code == 200  # with the token: sent
    assert db.session.execute(select(func.count()).select_from(GiftClaimCode)).scalar() == 1


def test_the_page_posts_are_limited_per_client_with_a_429_page(app, client, tet_gift):
    app.config["GIFT_CLAIM_LIMIT"] = "3 per hour"
    first, second = tet_gift(), tet_gift(recipient={"email": "an@example.vn"})
    assert post(client, first, "code").status_code == 200
    assert post(client, first, "claim", code="000000").status_code in (409, 422)
    assert post(client, second, "code").status_code == 200  # another gift: the same client's limit
    limited = post(client, second, "claim", code="000000")
    assert limited.status_code == 429 and limited.mimetype == "text/html"
    assert "Retry-After" in limited.headers
    assert 'data-testid="too-many"' in text(limited)
    assert client.get(path(first)).status_code == 200  # reading the page is not limited


def lixi_claim(client: FlaskClient, gift: dict, name: str, contact: str, sent_to: str | None = None):
    """One person opens an envelope: name and address, the code sent there (`sent_to`: the
    address as stored, when typed otherwise), the claim."""
    sent = post(client, gift, "code", name=name, contact=contact)
    assert sent.status_code == 200, text(sent)
    return post(client, gift, "claim", name=name, contact=contact, code=last_code(sent_to or contact))


def test_a_lixi_board_shows_who_opened_which_envelope_and_how_much(app, client, api, tet_gift):
    gift = tet_gift(recipient={}, sender={"name": "Bà Ngoại"}, split={"count": 3, "total": 30000})
    html = page(client, gift)
    assert "Lì xì từ Bà Ngoại" in html and "Còn 3 trên 3 bao lì xì" in html
    assert html.count("chưa mở") == 3 and 'data-testid="contact-input"' in html

    bad = post(client, gift, "code", name="An", contact="not an address")
    assert bad.status_code == 422 and "Nhập một địa chỉ email hoặc số điện thoại hợp lệ." in text(bad)

    claimed = lixi_claim(client, gift, "An", "an@example.vn")
    assert claimed.status_code == 303
    mine = page(client, gift)
    assert "Bạn nhận được 10.000\xa0₫!" in mine and QR.search(mine)
    assert (
        "Còn 2 trên 3 bao lì xì" in mine and "An" in mine and 'class="lixi-envelope is-open is-mine"' in mine
    )

    again = post(client, gift, "code", name="An", contact="an@example.vn")  # the same person
    assert again.status_code == 409
    assert "Bạn đã mở một bao lì xì của món quà này rồi." in text(again)

    cousin = app.test_client()
    assert lixi_claim(cousin, gift, "Bình", "0903 123 456", "+84903123456").status_code == 303
    assert lixi_claim(app.test_client(), gift, "", "chi@example.vn").status_code == 303
    board = page(app.test_client(), gift)  # someone who opened none
    assert "Tất cả bao lì xì đã được mở." in board and "Còn 0 trên 3 bao lì xì" in board
    assert "Bình" in board and "Một người bạn" in board and board.count("10.000\xa0₫") >= 3
    assert "May mắn nhất" in board and "qr.svg" not in board
    assert status(api, gift) == "claimed"
    late = post(app.test_client(), gift, "code", name="Dũng", contact="dung@example.vn")
    assert late.status_code == 409 and "Tất cả bao lì xì đã được mở." in text(late)


def test_the_gift_and_code_mails_carry_the_card_the_link_and_the_code(app, client, tet_gift):
    app.config["PUBLIC_BASE_URL"] = "https://lixi.example.vn"
    gift = tet_gift()
    (mail,) = mails_to("lan@example.vn")
    assert 'src="https://lixi.example.vn/static/gifting/cards/tet.png"' in mail.html_body  # not SVG
    assert f'href="{gift["claim_url"]}"' in mail.html_body and gift["claim_url"] in mail.text_body
    assert "Chào Lan," in mail.text_body and "Chúc mừng năm mới!" in mail.text_body
    assert "500.000\xa0₫" in mail.text_body and "Mở quà" in mail.html_body

    english = tet_gift(recipient={"name": "Kim", "email": "kim@example.com", "language": "en"})
    (mail,) = mails_to("kim@example.com")
    assert "Minh sent you a gift." in mail.text_body and "Open your gift" in mail.html_body
    assert english["claim_url"] in mail.text_body

    post(client, gift, "code")
    code = last_code("lan@example.vn")
    mail = mails_to("lan@example.vn")[-1]
    assert code in mail.html_body and "Mã dùng được một lần, trong 10 phút." in mail.text_body


def test_a_message_is_escaped_on_the_page_and_in_the_mail(client, tet_gift):
    gift = tet_gift(message="<script>alert(1)</script>", sender={"name": "<b>Minh</b>"})
    html = page(client, gift)
    assert "<script>alert(1)</script>" not in html and "&lt;script&gt;" in html
    assert "<b>Minh</b>" not in html
    mail = mails_to("lan@example.vn")[-1]
    assert "<script>" not in mail.html_body and "<b>Minh</b>" not in mail.html_body


def test_the_claim_is_remembered_for_this_gift_only(app, client, tet_gift):
    first, second = tet_gift(recipient={"name": "A"}), tet_gift(recipient={"name": "B"})
    assert post(client, first, "claim").status_code == 303
    assert QR.search(page(client, first))
    html = page(client, second)
    assert not QR.search(html) and 'data-testid="claim-button"' in html
    assert post(client, second, "claim").status_code == 303
    both = (QR.search(page(client, first)).group(1), QR.search(page(client, second)).group(1))
    assert both[0] != both[1]


def test_the_claim_deadline_is_shown_in_the_brands_time(client, clock, tet_gift):
    clock.now = datetime(2030, 1, 10, 3, 0, tzinfo=UTC)
    gift = tet_gift(claim_days=30)
    html = page(client, gift)
    deadline = clock.now + timedelta(days=30)
    assert str(deadline.year) in html.split('data-testid="claim-by"')[1][:80]


def test_a_chat_apps_link_preview_shows_the_card_without_opening_the_gift(client, api, tet_gift):
    gift = tet_gift()
    robot = client.get(path(gift), headers={"User-Agent": "facebookexternalhit/1.1"})
    html = text(robot)
    assert robot.status_code == 200 and 'property="og:title" content="Quà tặng từ Minh"' in html
    image = re.search(r'property="og:image" content="([^"]+)"', html).group(1)
    assert image.startswith("http") and image.endswith("/static/gifting/cards/tet.png")
    assert "Chúc mừng năm mới" not in html.split("</head>")[0]  # the message is not in the preview
    assert status(api, gift) == "sent"  # a robot is not the recipient
    picture = client.get(urlsplit(image).path)
    assert picture.status_code == 200 and picture.mimetype == "image/png"
    picture.close()
    page(client, gift, headers={"User-Agent": "Mozilla/5.0 (iPhone) Zalo iOS"})
    assert status(api, gift) == "opened"


@pytest.mark.parametrize("design", ["tet", "birthday", "thanks", "plain"])
def test_every_design_has_its_card_as_svg_for_pages_and_png_for_mail(client, design):
    svg = client.get(f"/static/gifting/cards/{design}.svg")
    assert svg.status_code == 200 and svg.mimetype == "image/svg+xml"
    assert b"http" not in svg.data.replace(b"http://www.w3.org/2000/svg", b"")  # no remote asset
    png = client.get(f"/static/gifting/cards/{design}.png")
    assert png.status_code == 200 and png.data.startswith(b"\x89PNG")
    svg.close()
    png.close()
