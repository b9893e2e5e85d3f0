"""A real SMTP server on 127.0.0.1 (aiosmtpd) standing in for an office's mail server.

It keeps every message it accepted, parsed, and can refuse the next N transactions with a
4xx/5xx reply to exercise the outbox's retries.
"""
from __future__ import annotations

import socket
import threading
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Self

from aiosmtpd.controller import Controller


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class _Handler:
    def __init__(self, owner: FakeSMTPServer) -> None:
        self.owner = owner

    async def handle_DATA(self, server, session, envelope) -> str:
        with self.owner.lock:
            if self.owner.fail_next > 0:
                self.owner.fail_next -= 1
                return self.owner.fail_reply
            msg = message_from_bytes(envelope.content, policy=policy.default)
            self.owner.messages.append(msg)
            self.owner.envelopes.append((envelope.mail_from, list(envelope.rcpt_tos)))
        return "250 Message accepted for delivery"


class FakeSMTPServer:
    """Context manager: `with FakeSMTPServer() as smtp: … smtp.port … smtp.messages`."""

    def __init__(self, fail_next: int = 0, fail_reply: str = "451 4.3.0 Try again later") -> None:
        self.port = _free_port()
        self.messages: list[EmailMessage] = []
        self.envelopes: list[tuple[str, list[str]]] = []
        self.fail_next = fail_next
        self.fail_reply = fail_reply
        self.lock = threading.Lock()
        self.controller = Controller(_Handler(self), hostname="127.0.0.1", port=self.port)

    def unique_message_ids(self) -> set[str]:
        """Message-IDs seen; a receiver that deduplicates by Message-ID keeps one per id."""
        return {m["Message-ID"] for m in self.messages}

    def __enter__(self) -> Self:
        self.controller.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.controller.stop()
