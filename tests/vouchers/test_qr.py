"""QR codes scan (by a real decoder) to the voucher URL, whose token then validates."""

from __future__ import annotations

import io
import xml.etree.ElementTree as ET
from urllib.parse import urlsplit

import redis
import zxingcpp
from PIL import Image


def _decode(png: bytes) -> str:
    results = zxingcpp.read_barcodes(Image.open(io.BytesIO(png)))
    assert len(results) == 1
    assert results[0].format == zxingcpp.BarcodeFormat.QRCode
    return results[0].text


def test_png_qr_decodes_to_the_voucher_url_and_its_token_validates(client, api, merchant, offer, issue):
    voucher = issue(offer["id"])[0]
    response = client.get(urlsplit(voucher["qr_png_url"]).path)
    assert response.status_code == 200 and response.mimetype == "image/png"
    assert "max-age" in response.headers["Cache-Control"]
    scanned = _decode(response.data)
    assert scanned == voucher["url"]
    token = urlsplit(scanned).path.rsplit("/", 1)[1]
    assert token == voucher["token"]
    validated = api.post("/vouchers/validate", {"code": token, "merchant_id": merchant["id"]})
    assert validated.status_code == 200 and validated.get_json()["voucher"]["code"] == voucher["code"]
    # A merchant scanner may also send the whole scanned URL.
    assert api.post("/vouchers/validate", {"code": scanned}).status_code == 200


def test_svg_qr_is_valid_svg(client, offer, issue):
    voucher = issue(offer["id"])[0]
    response = client.get(urlsplit(voucher["qr_svg_url"]).path)
    assert response.status_code == 200 and response.mimetype == "image/svg+xml"
    root = ET.fromstring(response.data)
    assert root.tag.endswith("svg")


def test_public_base_url_goes_into_the_qr(app, client, offer, issue):
    app.config["PUBLIC_BASE_URL"] = "https://vouchers.example.vn"
    voucher = issue(offer["id"])[0]
    assert voucher["url"].startswith("https://vouchers.example.vn/v/")
    png = client.get(urlsplit(voucher["qr_png_url"]).path).data
    assert _decode(png) == voucher["url"]


def test_qr_is_rendered_once_then_served_from_the_cache(app, client, offer, issue, redis_url):
    voucher = issue(offer["id"])[0]
    cache = redis.Redis.from_url(redis_url)
    assert not cache.keys("lixi:qr:*")  # never rendered at issue time
    first = client.get(urlsplit(voucher["qr_png_url"]).path).data
    keys = cache.keys("lixi:qr:png:*")
    assert len(keys) == 1 and cache.get(keys[0]) == first
    cache.set(keys[0], b"cached-bytes")
    assert client.get(urlsplit(voucher["qr_png_url"]).path).data == b"cached-bytes"


def test_tampered_token_gets_no_qr(client, offer, issue):
    voucher = issue(offer["id"])[0]
    token = voucher["token"]
    forged = token[:-3] + ("AAA" if not token.endswith("AAA") else "BBB")
    assert client.get(f"/v/{forged}/qr.png").status_code == 404
    assert client.get(f"/v/{forged}/qr.svg").status_code == 404
    assert client.get(f"/v/{forged}").status_code == 404
