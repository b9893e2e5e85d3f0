"""A local SMTP sink for development: petitions sent to offices by e-mail arrive somewhere visible.

Why: the default settings deliver office mail to 127.0.0.1:2525 (`SMTP_HOST`/`SMTP_PORT`), where on
a developer's machine nothing listens. In `make demo` a filed petition then stayed "Đã tiếp nhận"
forever while the outbox retried, so the demo never showed the path to the office. In development
(`ENV=development`, the default) the app lifespan starts this aiosmtpd server on that address
instead; every accepted message is written as an `.eml` file under `DEV_MAIL_DIR` (default
`var/mail/`) and logged, so the petition moves on to "Đã chuyển" and the mail can be opened.

It never starts in production or test, nor when `SMTP_HOST` is not a loopback address (then a real
server is meant), nor when something already listens on the port (a real sink, or another
instance's): starting is best effort and a failure only logs.
"""
from __future__ import annotations

import logging
import re
import socket
import threading
from email import message_from_bytes, policy
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from settings import Settings

log = logging.getLogger(__name__)
LOOPBACK = {"127.0.0.1", "localhost", "::1"}


class _Handler:
    def __init__(self, sink: DevMailSink) -> None:
        self.sink = sink

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.sink.store(envelope.content, list(envelope.rcpt_tos))
        return "250 Message accepted for delivery"


class DevMailSink:
    """aiosmtpd on `host:port`, writing each accepted message to `directory` as an .eml file."""

    def __init__(self, host: str, port: int, directory: Path) -> None:
        self.host, self.port, self.directory = host, port, Path(directory)
        self.count = 0
        self._lock = threading.Lock()
        self._controller: Any = None

    def store(self, content: bytes, recipients: list[str]) -> Path:
        """Keep one message on disk; the file name says when, in which order, and its subject."""
        msg = message_from_bytes(content, policy=policy.default)
        with self._lock:
            self.count += 1
            n = self.count
        subject = re.sub(r"[^\w.-]+", "-", str(msg.get("Subject", "")), flags=re.UNICODE).strip("-")[:60]
        self.directory.mkdir(parents=True, exist_ok=True)
        path = self.directory / f"{n:05d}-{subject or 'thu'}.eml"
        path.write_bytes(content)
        log.info("dev mail sink: message for %d recipient(s) saved to %s", len(recipients), path)
        return path

    def start(self) -> None:
        from aiosmtpd.controller import Controller

        logging.getLogger("mail.log").setLevel(logging.WARNING)  # aiosmtpd logs every SMTP command at INFO
        self._controller = Controller(_Handler(self), hostname=self.host, port=self.port)
        self._controller.start()

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None


def _port_in_use(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


def start_dev_mail_sink(settings: Settings) -> DevMailSink | None:
    """Start the sink when this is a development process whose office mail goes to a local port
    where nothing listens; None otherwise (see the module docstring)."""
    if settings.env != "development" or not settings.dev_mail_sink:
        return None
    if settings.smtp_host not in LOOPBACK:
        return None
    if _port_in_use(settings.smtp_host, settings.smtp_port):
        log.info("dev mail sink not started: something already listens on %s:%d", settings.smtp_host,
                 settings.smtp_port)
        return None
    sink = DevMailSink(settings.smtp_host, settings.smtp_port, settings.dev_mail_dir)
    try:
        sink.start()
    except Exception as exc:  # noqa: BLE001 - the sink is a convenience; the API must start without it
        log.warning("dev mail sink not started on %s:%d: %s", settings.smtp_host, settings.smtp_port, exc)
        return None
    log.info("dev mail sink: office e-mail to %s:%d is saved under %s", settings.smtp_host, settings.smtp_port,
             settings.dev_mail_dir)
    return sink
