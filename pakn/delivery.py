"""Deliver a petition to the office that handles it: e-mail, signed webhook or Telegram.

Why these choices:

* **One target per office, by preference webhook → e-mail → Telegram.** A webhook is
  machine-readable and signed; e-mail is what every office has; Telegram is a fallback for small
  wards. Delivering to exactly one target keeps a retry from re-sending to targets that already
  succeeded. Offices without a contact go to `settings.pakn_default_office_webhook_url` (a
  shared case-management system) when set, else to `settings.pakn_default_office_email` (the
  provincial clerk), never nowhere.
* **The job's dedupe key travels with the delivery** (e-mail `Message-ID`, HTTP
  `Idempotency-Key`), so a re-run after a crash between "sent" and "marked done" is recognised
  by receivers that honour it.
* **HMAC-SHA256 over the raw body** in `X-Signature: sha256=<hex>` (the GitHub/Stripe
  convention) lets the receiver verify origin and integrity without TLS client certificates.

Error messages raised here end up in `pakn_outbox.last_error`: they carry status codes and
exception types, never addresses, phone numbers or content.
"""
from __future__ import annotations

import hashlib
import hmac
import json
import logging
import re
import smtplib
from dataclasses import dataclass, field
from email import policy as email_policy
from email.message import EmailMessage
from email.utils import formatdate
from zoneinfo import ZoneInfo

import httpx
from sqlalchemy.orm import Session

from pakn.errors import DeliveryError
from pakn.models import PaknRecord
from settings import get_settings

log = logging.getLogger(__name__)
VN_TZ = ZoneInfo("Asia/Ho_Chi_Minh")


class _RedactBotToken(logging.Filter):
    """httpx logs request URLs at INFO; Telegram URLs embed the bot token — hide it."""

    _rx = re.compile(r"/bot[^/\s]+/")

    def filter(self, record: logging.LogRecord) -> bool:
        if record.args:
            record.args = tuple(self._rx.sub("/bot***/", str(a)) if isinstance(a, (str, httpx.URL)) else a
                                for a in record.args)
        return True


logging.getLogger("httpx").addFilter(_RedactBotToken())


@dataclass(frozen=True)
class OfficeInfo:
    """What delivery needs of an office."""

    id: str
    name: str
    contact: dict = field(default_factory=dict)


def find_office(session: Session | None, office_id: str | None) -> OfficeInfo | None:
    """The office from the directory (`knowledge.offices`), else from the `offices` table."""
    if not office_id:
        return None
    try:
        from knowledge.offices import load_offices

        office = load_offices().get(office_id)
        if office is not None:
            return OfficeInfo(office_id, getattr(office, "name", office_id), dict(getattr(office, "contact", {}) or {}))
    except Exception as exc:  # noqa: BLE001 - a broken directory must not stop delivery: use the table
        log.debug("office directory unavailable: %s", type(exc).__name__)
    if session is not None:
        from knowledge.models import OfficeRow

        row = session.get(OfficeRow, office_id)
        if row is not None:
            return OfficeInfo(row.id, row.name, dict(row.contact or {}))
    return None


def sign(body: bytes, secret: str) -> str:
    """The `X-Signature` header value for `body`."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def verify(body: bytes, header: str | None, secret: str) -> bool:
    """Constant-time check of an `X-Signature` header (what a receiving office should run)."""
    return header is not None and bool(header) and hmac.compare_digest(sign(body, secret), header)


def _fmt(dt) -> str:
    return dt.astimezone(VN_TZ).strftime("%H:%M %d/%m/%Y") if dt else "—"


def petition_document(record: PaknRecord, dedupe_key: str) -> dict:
    """The JSON document an office receives (webhook body; also the e-mail's facts)."""
    return {
        "event": "pakn.forwarded",
        "dedupe_key": dedupe_key,
        "code": record.code,
        "category": record.category,
        "category_name": record.category_name,
        "needs_human": record.needs_human,
        "is_complaint_or_denunciation": record.is_complaint,
        "notice": record.notice,
        "office": {"id": record.office_id, "name": record.office_name},
        "content": record.content,
        "location": record.location,
        "locality": record.locality,
        "latitude": record.latitude,
        "longitude": record.longitude,
        "contact": record.contact or {},
        "media": record.media or [],
        "channel": record.channel,
        "created_at": record.created_at.isoformat() if record.created_at else None,
        "due_at": record.due_at.isoformat() if record.due_at else None,
    }


def _message_id(dedupe_key: str, sender: str) -> str:
    domain = sender.rsplit("@", 1)[-1] or "pakn.local"
    return f"<{re.sub(r'[^A-Za-z0-9._-]', '.', dedupe_key)}@{domain}>"


def send_email(to: str, record: PaknRecord, dedupe_key: str) -> None:
    """Send the petition by SMTP; the Message-ID is derived from the dedupe key (stable across retries)."""
    s = get_settings()
    doc = petition_document(record, dedupe_key)
    # Header lines up to RFC 5322's 998 characters: a folded Message-ID (long tracking codes make it
    # pass 78) reaches some receivers with a leading space, and then it no longer matches on a retry.
    msg = EmailMessage(policy=email_policy.SMTP.clone(max_line_length=998))
    msg["From"] = s.smtp_sender
    msg["To"] = to
    msg["Subject"] = f"[PAKN {record.code}] {record.category_name or record.category} — hạn {_fmt(record.due_at)}"
    msg["Message-ID"] = _message_id(dedupe_key, s.smtp_sender)
    msg["Date"] = formatdate(localtime=False)
    msg["X-PAKN-Code"] = record.code
    msg["X-PAKN-Dedupe-Key"] = dedupe_key
    contact = record.contact or {}
    lines = [
        f"Kính gửi {record.office_name or 'Quý cơ quan'},",
        "",
        f"Hệ thống tiếp nhận phản ánh, kiến nghị chuyển đến Quý cơ quan phản ánh mã {record.code}.",
        f"Lĩnh vực: {record.category_name or record.category}"
        + (" (cần phân loại lại thủ công)" if record.needs_human else ""),
        f"Thời điểm tiếp nhận: {_fmt(record.created_at)}",
        f"Hạn xử lý: {_fmt(record.due_at)}",
        f"Địa điểm: {record.location or 'không nêu'}",
        "",
        "Nội dung:",
        record.content,
        "",
        "Thông tin liên hệ của người phản ánh:",
        f"  Họ tên: {contact.get('name') or 'không nêu'}",
        f"  Điện thoại: {contact.get('phone') or 'không nêu'}",
        f"  Email: {contact.get('email') or 'không nêu'}",
    ]
    if record.notice:
        lines += ["", f"Lưu ý: {record.notice}"]
    if record.media:
        lines += ["", "Tệp đính kèm:"] + [f"  {m.get('url') or m}" if isinstance(m, dict) else f"  {m}"
                                          for m in record.media]
    lines += ["", "Đề nghị Quý cơ quan trả lời qua hệ thống theo mã phản ánh trên.",
              "", "---", json.dumps(doc, ensure_ascii=False, default=str)]
    msg.set_content("\n".join(lines))
    smtp_send(msg)


def smtp_send(msg: EmailMessage) -> None:
    """Hand one message to the configured SMTP server. A 5xx answer is a permanent DeliveryError
    (retrying cannot help); anything else — 4xx, a refused or dropped connection — is retried."""
    s = get_settings()
    try:
        with smtplib.SMTP(s.smtp_host, s.smtp_port, timeout=s.delivery_timeout_s) as smtp:
            smtp.send_message(msg)
    except smtplib.SMTPResponseException as exc:
        raise DeliveryError(f"smtp {exc.smtp_code}", permanent=500 <= exc.smtp_code < 600) from exc
    except (OSError, smtplib.SMTPException) as exc:
        raise DeliveryError(f"smtp {type(exc).__name__}") from exc


def post_webhook(url: str, document: dict, dedupe_key: str) -> int:
    """POST the signed JSON document; 2xx (and 409 'already have it') count as delivered."""
    s = get_settings()
    body = json.dumps(document, ensure_ascii=False, default=str, separators=(",", ":")).encode()
    headers = {"Content-Type": "application/json; charset=utf-8", "Idempotency-Key": dedupe_key,
               "X-Signature": sign(body, s.webhook_hmac_secret.get_secret_value()),
               "User-Agent": "trolyhanhchinh-pakn/0.1"}
    try:
        resp = httpx.post(url, content=body, headers=headers, timeout=s.delivery_timeout_s)
    except httpx.HTTPError as exc:
        raise DeliveryError(f"webhook {type(exc).__name__}") from exc
    if 200 <= resp.status_code < 300 or resp.status_code == 409:
        return resp.status_code
    # 4xx other than timeout/rate-limit means the receiver refuses this payload: retrying won't help.
    permanent = 400 <= resp.status_code < 500 and resp.status_code not in (408, 425, 429)
    raise DeliveryError(f"webhook HTTP {resp.status_code}", permanent=permanent)


def telegram_send(chat_id: str, text: str) -> None:
    """Bot API sendMessage (used for offices with a Telegram group and as the citizen fallback)."""
    s = get_settings()
    token = s.telegram_token.get_secret_value()
    if not token:
        raise DeliveryError("telegram token not configured", permanent=True)
    url = f"{s.telegram_api_base.rstrip('/')}{token}/sendMessage"
    try:
        resp = httpx.post(url, json={"chat_id": chat_id, "text": text[:4096]}, timeout=s.delivery_timeout_s)
    except httpx.HTTPError as exc:
        raise DeliveryError(f"telegram {type(exc).__name__}") from exc
    if resp.status_code != 200 or not resp.json().get("ok"):
        raise DeliveryError(f"telegram HTTP {resp.status_code}",
                            permanent=resp.status_code in (400, 401, 403, 404))


def deliver_to_office(session: Session | None, record: PaknRecord, dedupe_key: str) -> str:
    """Deliver `record` to its office; returns a short Vietnamese description of the route taken."""
    s = get_settings()
    office = find_office(session, record.office_id)
    contact = office.contact if office else {}
    if contact.get("webhook_url"):
        post_webhook(contact["webhook_url"], petition_document(record, dedupe_key), dedupe_key)
        return "qua hệ thống của cơ quan (webhook)"
    if contact.get("email"):
        send_email(contact["email"], record, dedupe_key)
        return "qua email"
    if contact.get("telegram_chat_id"):
        text = (f"[PAKN {record.code}] {record.category_name or record.category}\nHạn: {_fmt(record.due_at)}\n"
                f"Địa điểm: {record.location or '—'}\n{record.content}")
        telegram_send(contact["telegram_chat_id"], text)
        return "qua Telegram"
    if s.pakn_default_office_webhook_url:
        post_webhook(s.pakn_default_office_webhook_url, petition_document(record, dedupe_key), dedupe_key)
        return "qua hệ thống tiếp nhận PAKN chung (cơ quan chưa có địa chỉ tiếp nhận)"
    send_email(s.pakn_default_office_email, record, dedupe_key)
    return "qua email văn thư (cơ quan chưa có địa chỉ tiếp nhận)"


__all__ = [
    "OfficeInfo",
    "deliver_to_office",
    "find_office",
    "petition_document",
    "post_webhook",
    "send_email",
    "sign",
    "telegram_send",
    "verify",
]
