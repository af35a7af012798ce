"""The public voucher page: what the customer shows at the till, and where the voucher can be used."""

from __future__ import annotations

import re
from urllib.parse import urlsplit


def _stores_on(page: str) -> list[str]:
    listed = re.search(r'<ul class="merchants">(.*?)</ul>', page, re.S)
    assert listed is not None
    return re.findall(r"<li>(.*?)</li>", listed.group(1))


def test_the_page_lists_the_offers_own_stores(client, api, make_offer, issue):
    first = api.post("/merchants", {"name": "Quận 1", "address": "1 Lê Lợi"}).get_json()
    api.post("/merchants", {"name": "Quận 3"})
    offer = make_offer(merchant_ids=[first["id"]])
    voucher = issue(offer["id"])[0]
    response = client.get(urlsplit(voucher["url"]).path)
    assert response.status_code == 200 and response.headers["Cache-Control"] == "no-store"
    page = response.get_data(as_text=True)
    assert _stores_on(page) == ["Quận 1 — 1 Lê Lợi"]
    assert 'data-testid="status"' in page and "/qr.svg" in page  # issued: the QR is shown


def test_an_offer_without_stores_lists_the_brands_open_stores(app, client, api, offer, issue, brand):
    api.post("/merchants", {"name": "Quận 1"})
    closed = api.post("/merchants", {"name": "Đã đóng"}).get_json()
    from lixi.merchants import archive_merchant

    with app.test_request_context():
        archive_merchant(brand.id, closed["id"])
    voucher = issue(offer["id"])[0]
    page = client.get(urlsplit(voucher["url"]).path).get_data(as_text=True)
    assert _stores_on(page) == ["Quận 1"]


def test_a_forged_token_is_not_found(client, offer, issue):
    token = issue(offer["id"])[0]["token"]
    assert client.get(f"/v/{token[:-2]}xx").status_code == 404
    assert client.get("/v/not-a-token").status_code == 404
