"""Pages speak Vietnamese by default and English on request; money reads the local way."""

from __future__ import annotations

from urllib.parse import urlsplit


def _page(client, voucher, **kwargs):
    response = client.get(urlsplit(voucher["url"]).path, **kwargs)
    assert response.status_code == 200
    return response.get_data(as_text=True)


def test_voucher_page_in_vietnamese_by_default(client, api, merchant, make_offer, issue):
    offer = make_offer(min_bill=200000, valid_days=30, terms="Mỗi mã dùng một lần.")
    voucher = issue(offer["id"])[0]
    html = _page(client, voucher)
    assert 'lang="vi"' in html
    for text in ("Sẵn sàng sử dụng", "Hạn sử dụng", "Nơi áp dụng", "50.000\xa0₫", "200.000\xa0₫", "Quận 1"):
        assert text in html, text
    assert "Mỗi mã dùng một lần." in html
    assert f"/v/{voucher['token']}/qr.svg" in html
    assert voucher["code"][:4] + "-" in html


def test_expiry_reads_as_the_last_valid_local_day(client, api):
    offer = api.post(
        "/offers", {"name": "Tết", "kind": "fixed_amount", "value": 1, "valid_until": "2099-01-31"}
    ).get_json()
    voucher = api.post("/vouchers", {"offer_id": offer["id"]}).get_json()["vouchers"][0]
    assert "31 tháng 1, 2099" in _page(client, voucher)
    assert "January 31, 2099" in _page(client, voucher, query_string={"lang": "en"})


def test_voucher_page_in_english_on_request(client, offer, issue):
    voucher = issue(offer["id"])[0]
    html = _page(client, voucher, query_string={"lang": "en"})
    assert 'lang="en"' in html and "Ready to use" in html and "Valid until" in html
    assert "₫50,000" in html
    html = _page(client, voucher, headers={"Accept-Language": "en-US,en;q=0.9"})
    assert "Ready to use" in html


def test_the_language_choice_is_remembered(client, offer, issue):
    voucher = issue(offer["id"])[0]
    _page(client, voucher, query_string={"lang": "en"})
    assert "Ready to use" in _page(client, voucher)
    assert "Sẵn sàng sử dụng" in _page(client, voucher, query_string={"lang": "vi"})


def test_used_vouchers_show_no_qr(client, api, merchant, offer, issue):
    voucher = issue(offer["id"])[0]
    api.post("/redemptions", {"code": voucher["code"], "merchant_id": merchant["id"]})
    html = _page(client, voucher)
    assert "Đã sử dụng" in html and "qr.svg" not in html


def test_unknown_pages_are_friendly_html(client):
    response = client.get("/v/not-a-token", headers={"Accept-Language": "vi"})
    assert response.status_code == 404 and response.mimetype == "text/html"
    assert "Chúng tôi không tìm thấy" in response.get_data(as_text=True)


def test_a_path_no_route_matches_gets_the_friendly_404_with_language_links(client):
    response = client.get("/favicon.ico?x=1")
    html = response.get_data(as_text=True)
    assert response.status_code == 404 and response.mimetype == "text/html"
    assert 'href="/favicon.ico?x=1&amp;lang=en"' in html
