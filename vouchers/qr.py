"""QR codes of voucher URLs, rendered on demand (never at issue time) and cached in Redis."""

from __future__ import annotations

import io
import logging

import qrcode
import qrcode.image.svg
from flask import current_app
from qrcode.constants import ERROR_CORRECT_M
from redis.exceptions import RedisError

from lixi.redis_client import redis_client

log = logging.getLogger(__name__)


def _qr(data: str) -> qrcode.QRCode:
    qr = qrcode.QRCode(error_correction=ERROR_CORRECT_M, box_size=8, border=4)
    qr.add_data(data)
    qr.make(fit=True)
    return qr


def render_png(data: str) -> bytes:
    buffer = io.BytesIO()
    _qr(data).make_image().save(buffer, format="PNG")
    return buffer.getvalue()


def render_svg(data: str) -> bytes:
    buffer = io.BytesIO()
    _qr(data).make_image(image_factory=qrcode.image.svg.SvgPathImage).save(buffer)
    return buffer.getvalue()


RENDERERS = {"png": render_png, "svg": render_svg}


def cached_qr(data: str, fmt: str) -> bytes:
    """The QR image of `data`; Redis is only a cache, so its absence just costs a render."""
    key = f"lixi:qr:{fmt}:{data}"
    client = redis_client.client
    try:
        hit = client.get(key) if client else None
    except RedisError as error:
        log.warning("QR cache unavailable: %s", error)
        hit, client = None, None
    if hit:
        return hit
    image = RENDERERS[fmt](data)
    if client is not None:
        try:
            client.set(key, image, ex=current_app.config["QR_CACHE_SECONDS"])
        except RedisError as error:
            log.warning("QR cache unavailable: %s", error)
    return image
