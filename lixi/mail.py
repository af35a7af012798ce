"""Mail: an outbox of mails written in the transaction of the change they tell of, sent after commit
by the job worker (SMTP, or .eml files in development) and retried with back-off; members' mail
in the brand's language with a signed one-click unsubscribe link (RFC 8058).

Domains call `queue_member_mail` (or `queue_mail` for someone who is not a member) inside their
write transaction: the row exists if and only if the change committed. After the commit a job
sends it (`send_mail`); if that nudge is lost (Redis down) the worker's sweep (`sweep_mail`)
finds the mails still pending. A send is claimed first (a conditional UPDATE that counts the
attempt and leases the row), so a mail queued twice is still sent once.
"""

from __future__ import annotations

import logging
import os
import smtplib
import ssl
from datetime import datetime, timedelta
from email.errors import MessageError
from email.message import EmailMessage
from email.utils import format_datetime, parseaddr
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from flask import current_app, has_request_context, render_template, request
from flask_babel import force_locale
from redis.exceptions import RedisError
from sqlalchemy import insert, select, update

from lixi.audit import record_audit
from lixi.database import write_transaction
from lixi.errors import NotFound
from lixi.extensions import db
from lixi.jobs import backoff_seconds, claim_try, enqueue, enqueue_at, try_is_due
from lixi.models import Brand, MailMessage, Member
from lixi.outbox import call_after_commit
from lixi.signing import BadData, sign, unsign
from lixi.timeutil import utcnow

log = logging.getLogger(__name__)

PENDING, SENT, FAILED, CANCELLED = "pending", "sent", "failed", "cancelled"  # a mail's status
UNSUBSCRIBE_PURPOSE = "unsubscribe"
MEMBER_UNSUBSCRIBED = "member.unsubscribed"  # audit action
ONE_CLICK = "List-Unsubscribe=One-Click"  # the body mail clients POST (RFC 8058)
ERROR_LENGTH = 500  # mail_messages.last_error is a String(500)
SUBJECT_LENGTH = 300
MAIL_PAGE_SIZE = 100
SWEEP_BATCH = 500

_MAILS = MailMessage.__table__
_INSERT = insert(_MAILS).returning(_MAILS.c.id)


# --- Queueing -----------------------------------------------------------------------------------


def queue_mail(
    brand_id: int,
    to: str,
    subject: str,
    text: str,
    html: str | None,
    kind: str,
    member_id: int | None = None,
    headers: dict[str, str] | None = None,
) -> int:
    """Write a mail to send after the current transaction commits (call it inside write_transaction)."""
    now = utcnow()
    mail_id = db.session.execute(
        _INSERT,
        {
            "brand_id": brand_id,
            "member_id": member_id,
            "kind": kind,
            "to_address": to,
            "subject": " ".join(subject.split())[:SUBJECT_LENGTH],  # a header: one line
            "text_body": text,
            "html_body": html,
            "headers": headers or {},
            "status": PENDING,
            "attempts": 0,
            "next_attempt_at": now,
            "created_at": now,
        },
    ).scalar_one()
    call_after_commit(enqueue_sends, mail_id)
    return mail_id


def enqueue_sends(mail_ids: list[int]) -> None:
    """After commit: ask a worker to send these mails. Never raises (the sweep catches up)."""
    try:
        for mail_id in mail_ids:
            enqueue(send_mail, mail_id)
    except RedisError as error:
        log.warning("mail: could not enqueue %s (the sweep will): %s", mail_ids, error)


def queue_member_mail(
    member: Member,
    kind: str,
    template: str,
    subject: Any,
    *,
    consent_required: bool = True,
    **context: Any,
) -> int | None:
    """A mail to a member, rendered from templates/mail/<template>.txt and .html in the brand's language.

    Only to a member with an email who subscribed, unless `consent_required` is False (a welcome,
    which carries the unsubscribe link too). `subject` may be a lazy_gettext string: it is
    translated here. Every member mail has the one-click unsubscribe link and its headers.
    Returns the mail's id, or None when it is not sent.
    """
    if not member.email or (consent_required and not member.subscribed):
        return None
    brand = db.session.get(Brand, member.brand_id)
    assert brand is not None  # a member's brand
    link = unsubscribe_url(member)
    with force_locale(brand.locale or "vi"):
        context = {"brand": brand, "member": member, "unsubscribe_url": link, **context}
        title = str(subject)
        text = render_template(f"mail/{template}.txt", subject=title, **context)
        html = render_template(f"mail/{template}.html", subject=title, **context)
    headers = {"List-Unsubscribe": f"<{link}>", "List-Unsubscribe-Post": ONE_CLICK}
    return queue_mail(brand.id, member.email, title, text, html, kind, member.id, headers)


def public_url(path: str) -> str:
    """An absolute link for a mail: PUBLIC_BASE_URL, else the request's host (a job has none)."""
    base = current_app.config["PUBLIC_BASE_URL"]
    if not base and has_request_context():
        base = request.host_url.rstrip("/")
    return f"{base or 'http://127.0.0.1:5000'}{path}"


# --- Consent --------------------------------------------------------------------------------------


def unsubscribe_url(member: Member) -> str:
    """The member's one-click unsubscribe link, /u/<token> (loyalty/mail_views.py); it does not expire."""
    return public_url(f"/u/{sign({'b': member.brand_id, 'm': member.id}, UNSUBSCRIBE_PURPOSE)}")


def member_of_unsubscribe_token(token: str) -> Member:
    """The member an unsubscribe link is for; 404 for anything forged or tampered."""
    try:
        data = unsign(token, UNSUBSCRIBE_PURPOSE)
        brand_id, member_id = int(data["b"]), int(data["m"])
    except (BadData, KeyError, TypeError, ValueError) as error:
        raise NotFound("This link is not valid.") from error
    member = db.session.get(Member, member_id)
    if member is None or member.brand_id != brand_id:
        raise NotFound("This link is not valid.")
    return member


def unsubscribe(member: Member) -> bool:
    """Take back the member's consent (audited as the member); False if it was already taken back.

    Their mail still waiting to go (queued, or between retries) is cancelled with it, so nothing
    reaches them after the click; one already being handed to the server is recorded as sent.
    """
    with write_transaction() as session:
        changed = session.execute(
            update(Member)
            .where(Member.id == member.id, Member.subscribed.is_(True))
            .values(subscribed=False)
            .execution_options(synchronize_session=False)
        )
        cancelled = session.execute(
            update(_MAILS)
            .where(_MAILS.c.member_id == member.id, _MAILS.c.status == PENDING)
            .values(status=CANCELLED, next_attempt_at=None, last_error="The member unsubscribed.")
        )
        if changed.rowcount == 1 or cancelled.rowcount:
            data = {"via": "link", "mails_cancelled": cancelled.rowcount}
            record_audit(
                member.brand_id, MEMBER_UNSUBSCRIBED, "member", member.id, data, f"member:{member.id}"
            )
    db.session.refresh(member)
    return changed.rowcount == 1


# --- The brand's sent mail (the dashboard) ---------------------------------------------------------


def list_mail(brand_id: int, before_id: int | None = None) -> list[MailMessage]:
    """The brand's mail, newest first, a page at a time (`before_id`: the next page)."""
    query = select(MailMessage).where(MailMessage.brand_id == brand_id)
    if before_id:
        query = query.where(MailMessage.id < before_id)
    return list(db.session.execute(query.order_by(MailMessage.id.desc()).limit(MAIL_PAGE_SIZE)).scalars())


def get_mail(brand_id: int, mail_id: int) -> MailMessage:
    mail = db.session.get(MailMessage, mail_id)
    if mail is None or mail.brand_id != brand_id:
        raise NotFound("No such mail.")
    return mail


# --- Sending ----------------------------------------------------------------------------------------


def send_mail(mail_id: int) -> None:
    """The job: send one mail if it is still pending and due; on failure record why and schedule a retry."""
    config = current_app.config
    mail = db.session.execute(
        select(MailMessage)
        .where(MailMessage.id == mail_id)
        .execution_options(populate_existing=True)  # the session may hold an older copy
    ).scalar_one_or_none()
    if mail is None or mail.status != PENDING:
        db.session.commit()
        return
    attempts = mail.attempts
    if attempts >= config["MAIL_MAX_ATTEMPTS"]:
        # A worker died during the last try (or the limit was lowered): no more tries.
        _give_up(mail_id, attempts, mail.last_error or "No attempts left.")
        return
    # Everything the send needs is read before the claim, so no transaction is open while sending.
    try:
        message = build_message(mail, config["MAIL_FROM"])
    except (ValueError, TypeError, MessageError) as failure:  # a header no server would take: no retry
        _give_up(mail_id, attempts, f"{type(failure).__name__}: {failure}")
        return
    db.session.commit()
    if not claim_try(_MAILS, mail_id, attempts, 60 + 4 * float(config["MAIL_TIMEOUT_SECONDS"])):
        return  # not due yet, being sent by another worker, or finished meanwhile
    error: str | None = None
    permanent = False
    try:
        deliver_message(message, mail_id)
    except (OSError, smtplib.SMTPException, ValueError) as failure:
        error = f"{type(failure).__name__}: {failure}"
        permanent = _is_permanent(failure)
    _record_outcome(mail_id, attempts + 1, error, permanent, message["Message-ID"])


def build_message(mail: MailMessage, sender: str) -> EmailMessage:
    """The MIME message: a text part, and the HTML alternative when there is one."""
    message = EmailMessage()
    message["Subject"] = mail.subject
    message["From"] = sender
    message["To"] = mail.to_address
    message["Date"] = format_datetime(mail.created_at)
    # The same Message-ID on every try, so a receiver can tell a retry from a second mail.
    domain = parseaddr(sender)[1].rpartition("@")[2] or "localhost"
    message["Message-ID"] = f"<lixi.{mail.brand_id}.{mail.id}.{int(mail.created_at.timestamp())}@{domain}>"
    message["Auto-Submitted"] = "auto-generated"
    for name, value in (mail.headers or {}).items():
        message[name] = value
    message.set_content(mail.text_body)
    if mail.html_body:
        message.add_alternative(mail.html_body, subtype="html")
    return message


def deliver_message(message: EmailMessage, mail_id: int) -> None:
    """Hand the message to SMTP_URL's server, or, with no SMTP_URL, write it to MAIL_FILE_DIR."""
    config = current_app.config
    if config["SMTP_URL"]:
        _send_smtp(config["SMTP_URL"], message, float(config["MAIL_TIMEOUT_SECONDS"]))
    else:
        write_eml(Path(config["MAIL_FILE_DIR"]), message, mail_id)


def write_eml(folder: Path, message: EmailMessage, mail_id: int) -> Path:
    """The development backend: one .eml file per mail (any mail program opens it)."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{mail_id:08d}.eml"
    partial = path.with_suffix(".eml.part")
    partial.write_bytes(message.as_bytes())
    os.replace(partial, path)  # a reader never sees half a mail
    return path


def _send_smtp(url: str, message: EmailMessage, timeout: float) -> None:
    """smtp://user:password@host:587?starttls=1 (STARTTLS) or smtps://…:465 (TLS from the start)."""
    parts = urlsplit(url)
    if parts.scheme not in ("smtp", "smtps"):
        raise ValueError(f"SMTP_URL must start with smtp:// or smtps://, not {parts.scheme}://")
    starttls = parse_qs(parts.query).get("starttls", ["0"])[0].lower() in ("1", "true", "yes")
    tls = ssl.create_default_context()
    host = parts.hostname or "localhost"
    if parts.scheme == "smtps":
        server: smtplib.SMTP = smtplib.SMTP_SSL(host, parts.port or 465, timeout=timeout, context=tls)
    else:
        server = smtplib.SMTP(host, parts.port or (587 if starttls else 25), timeout=timeout)
    with server:
        if starttls:
            server.starttls(context=tls)
        if parts.username:
            server.login(unquote(parts.username), unquote(parts.password or ""))
        server.send_message(message)


def _is_permanent(failure: Exception) -> bool:
    """A 5xx answer (no such mailbox, refused) will not change on a retry; a refused connection may."""
    if isinstance(failure, smtplib.SMTPRecipientsRefused):
        return all(500 <= code < 600 for code, _text in failure.recipients.values())
    if isinstance(failure, smtplib.SMTPResponseException):
        return 500 <= failure.smtp_code < 600
    return False


def _record_outcome(mail_id: int, attempt: int, error: str | None, permanent: bool, message_id: str) -> None:
    config = current_app.config
    now = utcnow()
    retry_at: datetime | None = None
    values: dict[str, Any]
    if error is None:
        values = {
            "status": SENT,
            "sent_at": now,
            "last_error": None,
            "next_attempt_at": None,
            "message_id": message_id,
        }
    elif permanent or attempt >= config["MAIL_MAX_ATTEMPTS"]:
        values = {"status": FAILED, "last_error": error[:ERROR_LENGTH], "next_attempt_at": None}
    else:
        retry_at = now + timedelta(seconds=backoff_seconds(attempt, config["MAIL_RETRY_BASE_SECONDS"]))
        values = {"last_error": error[:ERROR_LENGTH], "next_attempt_at": retry_at}
    # A mail cancelled while its try was under way (the member unsubscribed) still went: say so.
    statuses = (PENDING, CANCELLED) if error is None else (PENDING,)
    with write_transaction() as session:
        recorded = session.execute(
            update(_MAILS)
            .where(
                _MAILS.c.id == mail_id,
                _MAILS.c.status.in_(statuses),
                _MAILS.c.attempts == attempt,  # another worker took over after our lease: its turn
            )
            .values(**values)
        )
    if error is None:
        return
    log.info("mail %s attempt %s failed: %s", mail_id, attempt, error)
    if retry_at is not None and recorded.rowcount == 1:
        try:
            enqueue_at(retry_at, send_mail, mail_id)
        except RedisError as failure:
            log.warning("mail: could not schedule mail %s (the sweep will): %s", mail_id, failure)


def _give_up(mail_id: int, attempts: int, reason: str) -> None:
    now = utcnow()
    with write_transaction() as session:
        session.execute(
            update(_MAILS)
            .where(
                _MAILS.c.id == mail_id,
                _MAILS.c.status == PENDING,
                _MAILS.c.attempts == attempts,
                try_is_due(_MAILS, now),
            )
            .values(status=FAILED, last_error=reason[:ERROR_LENGTH], next_attempt_at=None)
        )


def sweep_mail(grace_seconds: float = 10.0) -> dict[str, int]:
    """Queue the pending mails overdue by `grace_seconds`: nudges lost with Redis, or a dead worker's.

    Run by the worker command every MAIL_SWEEP_SECONDS. The grace leaves the normal path (the job
    queued after commit, the scheduled retries) time to act; a mail queued twice is sent once.
    """
    cutoff = utcnow() - timedelta(seconds=grace_seconds)
    due = select(MailMessage.id).where(MailMessage.status == PENDING, MailMessage.next_attempt_at <= cutoff)
    mail_ids = list(db.session.execute(due.order_by(MailMessage.id).limit(SWEEP_BATCH)).scalars())
    db.session.commit()  # end the read before talking to Redis
    try:
        for mail_id in mail_ids:
            enqueue(send_mail, mail_id)
    except RedisError as error:
        log.warning("mail: sweep could not enqueue: %s", error)
        return {"enqueued": 0}
    return {"enqueued": len(mail_ids)}
