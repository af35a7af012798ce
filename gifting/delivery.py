"""Telling the recipient: the gift's mail (HTML and text, the card, the claim link) through the mail
outbox, or for a phone the outbox event gift.delivery_requested that the brand's SMS or Zalo
provider sends; each attempt recorded. Called inside the change's transaction."""

from __future__ import annotations

from flask import render_template
from flask_babel import force_locale
from flask_babel import gettext as _

from gifting import events
from gifting.models import Gift, GiftDelivery
from lixi.extensions import db
from lixi.formatting import local_datetime, money
from lixi.mail import public_url, queue_mail
from lixi.models import Brand
from lixi.outbox import publish
from vouchers.models import Voucher
from vouchers.service import voucher_token

MAIL_KIND = "gift"  # mail_messages.kind


def card_url(design: str) -> str:
    """The card's picture, absolute, for the mail: the PNG (Gmail and Outlook show no SVG)."""
    return public_url(f"/static/gifting/cards/{design}.png")


def sender_display(gift: Gift, brand: Brand) -> str:
    return gift.sender_name or brand.name


def deliver(gift: Gift, brand: Brand, kind: str, link: str) -> None:
    """Send the gift's link (kind gift | resend | reminder) to every address it has; with none, the
    link is the delivery (the sender shares it)."""
    with force_locale(gift.language):
        context = _context(gift, brand, kind, link)
        if gift.recipient_email:
            subject = _subject(kind, context)
            text = render_template("gifting/mail/gift.txt", subject=subject, **context)
            html = render_template("gifting/mail/gift.html", subject=subject, **context)
            mail_id = queue_mail(brand.id, gift.recipient_email, subject, text, html, MAIL_KIND)
            _record(gift, kind, "email", gift.recipient_email, mail_id)
        if gift.recipient_phone:
            text = _phone_text(kind, context)
            payload = {"kind": kind, "phone": gift.recipient_phone, "text": text, "link": link}
            publish(brand.id, events.GIFT_DELIVERY_REQUESTED, _phone_event(gift, payload))
            _record(gift, kind, "phone", gift.recipient_phone, None)
    if not gift.recipient_email and not gift.recipient_phone and kind == "gift":
        _record(gift, kind, "link", None, None)


def send_code(gift: Gift, brand: Brand, contact: str, code: str, minutes: int) -> None:
    """The one-time code of a claim, to the email or phone it proves."""
    with force_locale(gift.language):
        context = {"gift": gift, "brand": brand, "code": code, "minutes": minutes}
        if "@" in contact:
            subject = _("%(code)s is your code to open the gift", code=code)
            text = render_template("gifting/mail/code.txt", subject=subject, **context)
            html = render_template("gifting/mail/code.html", subject=subject, **context)
            mail_id = queue_mail(brand.id, contact, subject, text, html, MAIL_KIND)
            _record(gift, "code", "email", contact, mail_id)
            return
        text = _(
            "%(code)s is your code to open the gift from %(sender)s. It is valid for %(minutes)s minutes.",
            code=code,
            sender=sender_display(gift, brand),
            minutes=minutes,
        )
    payload = {"kind": "code", "phone": contact, "text": text, "link": None}
    publish(brand.id, events.GIFT_DELIVERY_REQUESTED, _phone_event(gift, payload))
    _record(gift, "code", "phone", contact, None)


def send_voucher(
    gift: Gift, brand: Brand, addresses: list[str], voucher: Voucher, amount: int | None
) -> None:
    """After a claim, the voucher's own page (its QR) to the proven addresses, so the recipient finds
    it again on any device: the claim page shows it only to the device that claimed."""
    link = public_url(f"/v/{voucher_token(voucher.code)}")
    with force_locale(gift.language):
        value = (
            money(amount, brand.currency)
            if amount
            else (money(gift.value, brand.currency) if gift.value else gift.offer.name)
        )
        context = {
            "gift": gift,
            "brand": brand,
            "sender": sender_display(gift, brand),
            "value_text": value,
            "voucher_link": link,
            "valid_until": local_datetime(voucher.expires_at, brand.timezone) if voucher.expires_at else "",
        }
        subject = _("Your gift from %(sender)s: %(value)s", sender=context["sender"], value=value)
        text = _(
            "Your gift from %(sender)s (%(value)s): show its QR at the till: %(link)s",
            sender=context["sender"],
            value=value,
            link=link,
        )
        for address in addresses:
            if "@" in address:
                body = render_template("gifting/mail/voucher.txt", subject=subject, **context)
                html = render_template("gifting/mail/voucher.html", subject=subject, **context)
                mail_id = queue_mail(brand.id, address, subject, body, html, MAIL_KIND)
                _record(gift, "voucher", "email", address, mail_id)
            else:
                payload = {"kind": "voucher", "phone": address, "text": text, "link": link}
                publish(brand.id, events.GIFT_DELIVERY_REQUESTED, _phone_event(gift, payload))
                _record(gift, "voucher", "phone", address, None)


def _context(gift: Gift, brand: Brand, kind: str, link: str) -> dict:
    return {
        "gift": gift,
        "brand": brand,
        "kind": kind,
        "claim_url": link,
        "card_url": card_url(gift.design),
        "sender": sender_display(gift, brand),
        "value_text": money(gift.value, brand.currency) if gift.value else gift.offer.name,
        "expires_text": local_datetime(gift.expires_at, brand.timezone) if gift.expires_at else "",
    }


def _subject(kind: str, context: dict) -> str:
    if kind == "reminder":
        return _(
            "Your gift from %(sender)s is waiting: claim it by %(date)s",
            sender=context["sender"],
            date=context["expires_text"],
        )
    return _("%(sender)s sent you a gift", sender=context["sender"])


def _phone_text(kind: str, context: dict) -> str:
    if kind == "reminder":
        return _(
            "Your gift from %(sender)s is waiting until %(date)s: %(link)s",
            sender=context["sender"],
            date=context["expires_text"],
            link=context["claim_url"],
        )
    return _(
        "%(sender)s sent you a gift (%(value)s): %(link)s",
        sender=context["sender"],
        value=context["value_text"],
        link=context["claim_url"],
    )


def _phone_event(gift: Gift, payload: dict) -> dict:
    return {"gift_id": gift.id, "language": gift.language, **payload}


def _record(gift: Gift, kind: str, channel: str, to: str | None, mail_id: int | None) -> None:
    db.session.add(GiftDelivery(gift_id=gift.id, kind=kind, channel=channel, to_address=to, mail_id=mail_id))
