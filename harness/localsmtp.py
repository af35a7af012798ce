"""A local SMTP server for the tests (aiosmtpd): it keeps every mail it receives, parsed."""

from __future__ import annotations

import email
import email.policy
from email.message import EmailMessage
from typing import Any

from aiosmtpd.controller import Controller

from harness.localredis import free_port


class Inbox:
    """An SMTP server on 127.0.0.1 (`port`, or a free one) that keeps what it receives in `messages`;
    with `refuse` it answers every recipient 550 (no such mailbox)."""

    def __init__(self, port: int = 0, refuse: bool = False) -> None:
        self.messages: list[EmailMessage] = []
        self.refuse = refuse
        self.controller = Controller(self, hostname="127.0.0.1", port=port or free_port())
        self.controller.start()

    @property
    def port(self) -> int:
        return self.controller.port

    @property
    def url(self) -> str:
        return f"smtp://127.0.0.1:{self.port}"

    # aiosmtpd calls handle_<VERB> hooks by these names.
    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str, options: Any) -> str:
        if self.refuse:
            return "550 5.1.1 No such mailbox"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        self.messages.append(message)  # type: ignore[arg-type] - policy.default parses to EmailMessage
        return "250 Message accepted"

    def stop(self) -> None:
        self.controller.stop()


def text_of(message: EmailMessage) -> str:
    return message.get_body(("plain",)).get_content()  # type: ignore[union-attr]


def html_of(message: EmailMessage) -> str:
    return message.get_body(("html",)).get_content()  # type: ignore[union-attr]
