"""Overdue petitions: a reminder to the office, then a report to its supervising body.

Why: a petition past its due date with no answer used to sit in the office's inbox with a red
badge that only that office sees. Now the sweep (`enqueue_overdue`, run by the outbox worker every
few minutes) writes two kinds of outbox job:

* `overdue_reminder` — once the due date has passed: to the office holding the petition;
* `escalate` — once `grace_working_days` working days more have passed (knowledge/pakn/
  escalation.yaml): to the supervising body (see `supervisor_of`).

Each job has a dedupe key per petition and office, inserted with `ON CONFLICT DO NOTHING`, so
sweeps running again, or in two workers at once, enqueue each one once; the petition's history
gets an event only from the sweep whose insert won. A petition answered, closed or rejected before
the job runs is skipped, and a reminder for an office the petition was transferred away from is
not sent. Messages carry the tracking code, category, office and dates — never the content nor
the citizen's contact: a report about a denunciation must not expose the denouncer (Luật Tố cáo
2018, Điều 47), and the office already has the petition.
"""
from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from email import policy as email_policy
from email.message import EmailMessage
from email.utils import formatdate
from functools import lru_cache
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import yaml
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import ColumnElement, and_, exists, select
from sqlalchemy.orm import Session, sessionmaker

from db import table_of
from db.engine import factory_write_gate
from pakn.duedates import add_working_days
from pakn.models import (
    ESCALATE,
    FORWARDED,
    IN_PROGRESS,
    OVERDUE_REMINDER,
    RECEIVED,
    TRANSFERRED,
    OutboxJob,
    PaknEvent,
    PaknRecord,
    utcnow,
)
from settings import get_settings

log = logging.getLogger(__name__)

ESCALATION_FILE = Path(__file__).resolve().parent.parent / "knowledge" / "pakn" / "escalation.yaml"
OPEN_STATUSES = (RECEIVED, FORWARDED, IN_PROGRESS, TRANSFERRED)
VN_TZ = ZoneInfo("Asia/Ho_Chi_Minh")


class EscalationConfig(BaseModel):
    """knowledge/pakn/escalation.yaml."""

    model_config = ConfigDict(extra="forbid")

    grace_working_days: int = Field(ge=0, le=60)
    supervisor_body: str = Field(pattern=r"^[a-z0-9-]+$")
    fallback_body: str = Field(pattern=r"^[a-z0-9-]+$")
    supervisors: dict[str, str] = {}


def load_escalation(path: Path = ESCALATION_FILE) -> EscalationConfig:
    """Read and check the file (an error names it); the bodies must be bodies of routing.yaml."""
    from pakn.routing import load_routing

    try:
        cfg = EscalationConfig.model_validate(yaml.safe_load(path.read_text(encoding="utf-8")) or {})
    except ValueError as exc:
        raise ValueError(f"{path}: {exc}") from exc
    bodies = load_routing().bodies
    for body in (cfg.supervisor_body, cfg.fallback_body):
        if body not in bodies:
            raise ValueError(f"{path}: unknown body {body!r} (see knowledge/routing.yaml 'bodies')")
    return cfg


@lru_cache(maxsize=1)
def escalation_config() -> EscalationConfig:
    return load_escalation()


def escalate_at(due_at: datetime, grace_working_days: int) -> datetime:
    """The due time moved on by `grace_working_days` working days (local calendar)."""
    local = due_at.astimezone(VN_TZ)
    day = add_working_days(local.date(), grace_working_days)
    return datetime.combine(day, local.timetz())


def supervisor_of(office_id: str | None, locality: dict[str, Any] | None, cfg: EscalationConfig | None = None) -> str:
    """The body that supervises `office_id`: an explicit entry of escalation.yaml, else the
    supervisor body of the office's province (from the office id, else the petition's place, else
    the province running the system), else the fallback body when the office is that body itself.
    A body that no longer exists is replaced by its successor (office directory)."""
    from pakn.localities import province_by_slug
    from pakn.routing import load_routing

    cfg = cfg or escalation_config()
    if office_id and office_id in cfg.supervisors:
        return cfg.supervisors[office_id]
    candidates = [(office_id or "").split(".", 1)[0], (locality or {}).get("province_slug") or "",
                  load_routing().default_province]
    province = next(p for p in candidates if p and province_by_slug(p) is not None)
    supervisor = f"{province}.{cfg.supervisor_body}"
    if supervisor == office_id:
        supervisor = f"{province}.{cfg.fallback_body}"
    try:
        from knowledge.offices import load_offices

        directory = load_offices()
        if supervisor in directory:
            current = directory.current(supervisor)
            if current is not None:
                supervisor = current.id
    except Exception as exc:  # noqa: BLE001 - a broken directory must not stop the sweep
        log.debug("office directory unavailable: %s", type(exc).__name__)
    return supervisor


def body_name(office_id: str) -> str:
    """A readable name for '<province>.<body>' not in the directory ('Văn phòng UBND thành phố Hồ
    Chí Minh'), named as pakn.routing names it; the id itself when it is not of that shape."""
    from pakn.localities import province_by_slug
    from pakn.routing import load_routing

    province_slug, _, body = office_id.partition(".")
    loc = province_by_slug(province_slug)
    bodies = load_routing().bodies
    if loc is None or body not in bodies:
        return office_id
    city = loc.province_name.startswith("Thành phố")
    short = loc.province_name.removeprefix("Thành phố ").strip()
    return f"{bodies[body].removesuffix(' tỉnh')} {'thành phố' if city else 'tỉnh'} {short}"


@dataclass
class SweepStats:
    """What one `enqueue_overdue` did."""

    reminders: int = 0
    escalations: int = 0


_INSERT_IGNORE: dict[str, Any] = {}


def _insert_job(session: Session, values: dict[str, Any]) -> bool:
    """INSERT the job unless its dedupe key exists; True when this call inserted it."""
    name = session.get_bind().dialect.name
    if name not in _INSERT_IGNORE:
        from sqlalchemy.dialects.postgresql import insert as pg_insert
        from sqlalchemy.dialects.sqlite import insert as sqlite_insert

        table = table_of(OutboxJob)
        stmt = pg_insert(table) if name == "postgresql" else sqlite_insert(table)
        _INSERT_IGNORE[name] = stmt.on_conflict_do_nothing(index_elements=["dedupe_key"]).returning(table.c.id)
    return session.connection().execute(_INSERT_IGNORE[name], values).scalar() is not None


def _job(kind: str, record: PaknRecord, payload: dict[str, Any], now: datetime) -> dict[str, Any]:
    return {"kind": kind, "record_id": record.id, "status": "pending", "attempts": 0, "next_attempt_at": now,
            "payload": {"code": record.code, "office_id": record.office_id, **payload},
            "dedupe_key": f"{kind}:{record.code}:{record.office_id or '-'}", "created_at": now, "updated_at": now}


def _not_yet(kind: str) -> ColumnElement[bool]:
    """No job of `kind` for the petition's current office yet (keeps the sweep's reads small)."""
    return ~exists().where(and_(OutboxJob.record_id == PaknRecord.id, OutboxJob.kind == kind,
                                OutboxJob.payload["office_id"].as_string() == PaknRecord.office_id))


def enqueue_overdue(factory: sessionmaker[Session] | None = None, *, now: datetime | None = None,
                    config: EscalationConfig | None = None, limit: int = 500) -> SweepStats:
    """Enqueue the reminders and escalations now due (idempotent; see the module doc)."""
    from db import session_factory

    factory = factory or session_factory()
    cfg = config or escalation_config()
    now = now or utcnow()
    stats = SweepStats()
    base = (select(PaknRecord).where(PaknRecord.status.in_(OPEN_STATUSES), PaknRecord.due_at.is_not(None),
                                     PaknRecord.due_at < now, PaknRecord.office_id.is_not(None),
                                     PaknRecord.primary_id.is_(None))  # a linked report is its primary's case
            .order_by(PaknRecord.due_at).limit(limit))
    with factory() as session:  # the common case, nothing overdue, takes no write lock
        reminders = [r.id for r in session.scalars(base.where(_not_yet(OVERDUE_REMINDER)))]
        escalations = [r.id for r in session.scalars(base.where(_not_yet(ESCALATE)))
                       if r.due_at is not None and escalate_at(r.due_at, cfg.grace_working_days) <= now]
    if not reminders and not escalations:
        return stats
    from pakn.delivery import find_office

    with factory_write_gate(factory), factory() as session, session.begin():
        for record_id in reminders:
            record = session.get(PaknRecord, record_id)
            if record is None or record.status not in OPEN_STATUSES:
                continue
            if _insert_job(session, _job(OVERDUE_REMINDER, record, {"office_name": record.office_name}, now)):
                record.events.append(PaknEvent(
                    kind="overdue_reminder", actor="system:escalation", at=now,
                    note=f"Quá hạn xử lý chưa có trả lời: đã nhắc {record.office_name or record.office_id}."))
                stats.reminders += 1
        for record_id in escalations:
            record = session.get(PaknRecord, record_id)
            if record is None or record.status not in OPEN_STATUSES:
                continue
            supervisor = supervisor_of(record.office_id, record.locality, cfg)
            sup = find_office(session, supervisor)
            sup_name = sup.name if sup else body_name(supervisor)
            payload = {"office_name": record.office_name, "supervisor_id": supervisor, "supervisor_name": sup_name}
            if _insert_job(session, _job(ESCALATE, record, payload, now)):
                record.events.append(PaknEvent(
                    kind="escalated", actor="system:escalation", at=now,
                    note=f"Quá hạn {cfg.grace_working_days} ngày làm việc chưa có trả lời: đã báo cáo {sup_name}."))
                stats.escalations += 1
    if stats.reminders or stats.escalations:
        log.info("pakn overdue sweep", extra={"reminders": stats.reminders, "escalations": stats.escalations})
    return stats


def _fmt(dt: datetime | None) -> str:
    return dt.astimezone(VN_TZ).strftime("%H:%M %d/%m/%Y") if dt else "—"


def message(kind: str, record: PaknRecord, payload: dict[str, Any]) -> str:
    """The Vietnamese text the office (reminder) or the supervising body (escalation) reads."""
    what = record.category_name or record.category
    office = payload.get("office_name") or record.office_name or record.office_id
    if kind == OVERDUE_REMINDER:
        return (f"Kính gửi {office},\n\nPhản ánh, kiến nghị mã {record.code} ({what}), tiếp nhận lúc "
                f"{_fmt(record.created_at)}, đã quá hạn xử lý ({_fmt(record.due_at)}) mà chưa có trả lời.\n"
                "Đề nghị Quý cơ quan trả lời người dân qua hệ thống theo mã phản ánh trên.")
    return (f"Kính gửi {payload.get('supervisor_name') or payload.get('supervisor_id')},\n\n"
            f"Phản ánh, kiến nghị mã {record.code} ({what}) đã chuyển đến {office}, hạn xử lý "
            f"{_fmt(record.due_at)}, đến nay chưa có trả lời dù hệ thống đã nhắc cơ quan này.\n"
            "Đề nghị Quý cơ quan đôn đốc việc giải quyết.")


def _send_text_email(to: str, subject: str, body: str, dedupe_key: str) -> None:
    s = get_settings()
    msg = EmailMessage(policy=email_policy.SMTP.clone(max_line_length=998))
    msg["From"], msg["To"], msg["Subject"] = s.smtp_sender, to, subject
    from pakn.delivery import _message_id, smtp_send

    msg["Message-ID"] = _message_id(dedupe_key, s.smtp_sender)
    msg["Date"] = formatdate(localtime=False)
    msg["X-PAKN-Dedupe-Key"] = dedupe_key
    msg.set_content(body)
    smtp_send(msg)


def deliver(session: Session, kind: str, record: PaknRecord, payload: dict[str, Any], dedupe_key: str) -> tuple[bool, str]:
    """Send one reminder/escalation; (sent, route). Not sent (skipped) when the petition was
    answered, closed or rejected meanwhile, or transferred away from the office reminded."""
    from pakn.delivery import find_office, post_webhook, telegram_send

    if record.status not in OPEN_STATUSES:
        return False, "đã có trả lời hoặc đã kết thúc"
    if payload.get("office_id") != record.office_id:
        return False, "đã chuyển cơ quan khác"
    target_id = record.office_id if kind == OVERDUE_REMINDER else payload.get("supervisor_id")
    target = find_office(session, target_id)
    contact = target.contact if target else {}
    text = message(kind, record, payload)
    doc = {"event": "pakn.overdue" if kind == OVERDUE_REMINDER else "pakn.escalated", "dedupe_key": dedupe_key,
           "code": record.code, "category": record.category, "category_name": record.category_name,
           "office": {"id": record.office_id, "name": record.office_name},
           "to": {"id": target_id, "name": target.name if target else target_id},
           "due_at": record.due_at.isoformat() if record.due_at else None, "text": text}
    subject = (f"[PAKN {record.code}] Quá hạn xử lý" if kind == OVERDUE_REMINDER
               else f"[PAKN {record.code}] Báo cáo phản ánh quá hạn")
    s = get_settings()
    if contact.get("webhook_url"):
        post_webhook(contact["webhook_url"], doc, dedupe_key)
        return True, "webhook"
    if contact.get("email"):
        _send_text_email(contact["email"], subject, text, dedupe_key)
        return True, "email"
    if contact.get("telegram_chat_id"):
        telegram_send(contact["telegram_chat_id"], text)
        return True, "telegram"
    if s.pakn_default_office_webhook_url:
        post_webhook(s.pakn_default_office_webhook_url, doc, dedupe_key)
        return True, "webhook chung"
    _send_text_email(s.pakn_default_office_email, subject, text + "\n\n---\n" + json.dumps(doc, ensure_ascii=False),
                     dedupe_key)
    return True, "email văn thư"


def sweep_due(last: datetime | None, now: datetime, interval_s: float) -> bool:
    """Whether the worker should sweep again (first time, or `interval_s` since the last)."""
    return last is None or now - last >= timedelta(seconds=interval_s)


__all__ = [
    "EscalationConfig",
    "SweepStats",
    "body_name",
    "deliver",
    "enqueue_overdue",
    "escalate_at",
    "escalation_config",
    "load_escalation",
    "message",
    "supervisor_of",
]
