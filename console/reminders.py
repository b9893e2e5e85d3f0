"""Daily reminder: tell each office which of its plan tasks fall due within the next 7 days.

Why it reuses `pakn.delivery`: offices already have one delivery channel configured for petitions
(webhook → e-mail → Telegram, in that order of preference), with signing, timeouts and error
classification done there. Reminders go the same way, one message per office per day.

Why a `console_duty_reminders` row per (office, day): the job is run by cron and may be re-run
after a failure or by hand; the unique row makes a second run send nothing twice, while failed
sends are retried on the next run the same day.

Tasks are credited to the office that handles them today (the successor chain of the office the
plan names), and tasks the office has marked done are not mentioned.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from email.message import EmailMessage
from email.utils import formatdate
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from console.duties import RECURRING_KINDS, latest_progress
from console.models import DutyReminder
from pakn.delivery import smtp_send
from pakn.errors import DeliveryError
from pakn.models import utcnow
from settings import get_settings

log = logging.getLogger(__name__)
VN_TZ = ZoneInfo("Asia/Ho_Chi_Minh")
HORIZON_DAYS = 7
SKIP_KINDS = RECURRING_KINDS | {"by_other_plan", "unknown"}


@dataclass(frozen=True)
class DueTask:
    id: str
    plan_id: str
    plan_title: str
    number: str | None
    text: str
    deadline_raw: str | None
    deadline_end: date
    role: str


@dataclass
class ReminderReport:
    """What one run did, per office id."""

    sent: dict[str, str] = field(default_factory=dict)  # office → route
    failed: dict[str, str] = field(default_factory=dict)  # office → error
    skipped: dict[str, str] = field(default_factory=dict)  # office → reason


def due_soon_by_office(db: Session, today: date, days: int = HORIZON_DAYS) -> dict[str, list[DueTask]]:
    """Open tasks whose deadline ends within [today, today+days], keyed by today's office."""
    from knowledge.models import PlanRow, TaskOfficeRow, TaskRow
    from knowledge.offices import load_offices

    directory = load_offices()
    rows = db.execute(
        select(TaskRow, PlanRow.title, TaskOfficeRow.office_id, TaskOfficeRow.role)
        .join(PlanRow, PlanRow.id == TaskRow.plan_id)
        .join(TaskOfficeRow, TaskOfficeRow.task_id == TaskRow.id)
        .where(TaskRow.deadline_end.is_not(None), TaskRow.deadline_end >= today,
               TaskRow.deadline_end <= today + timedelta(days=days))
    ).all()
    out: dict[str, dict[str, DueTask]] = {}
    for task, plan_title, office_id, role in rows:
        if task.deadline_kind in SKIP_KINDS:
            continue
        current = directory.current(office_id, today)
        if current is None or current.kind != "office":
            continue
        bucket = out.setdefault(current.id, {})
        if task.id not in bucket or role == "lead":
            assert task.deadline_end is not None  # the query keeps only tasks with an end date
            bucket[task.id] = DueTask(task.id, task.plan_id, plan_title, task.number, task.text, task.deadline_raw,
                                      task.deadline_end, role)
    result: dict[str, list[DueTask]] = {}
    for office_id, tasks in out.items():
        progress = latest_progress(db, office_id, list(tasks))
        open_tasks = [t for t in tasks.values() if not (progress.get(t.id) and progress[t.id][0].status == "done")]
        if open_tasks:
            result[office_id] = sorted(open_tasks, key=lambda t: (t.deadline_end, t.plan_id, t.number or ""))
    return result


def message_text(office_name: str, tasks: list[DueTask], today: date) -> str:
    """The Vietnamese reminder an office reads."""
    lines = [f"Kính gửi {office_name},", "",
             (f"Hệ thống nhắc: có {len(tasks)} nhiệm vụ trong kế hoạch cải cách hành chính đến hạn trong "
              f"{HORIZON_DAYS} ngày tới (tính từ {today:%d/%m/%Y}):"), ""]
    for t in tasks:
        label = f"Nhiệm vụ số {t.number}" if t.number else "Nhiệm vụ"
        role = "chủ trì" if t.role == "lead" else "phối hợp"
        lines.append(f"- {label} ({role}) — hạn {t.deadline_end:%d/%m/%Y}: {t.text[:300]}")
        lines.append(f"  Kế hoạch: {t.plan_title[:200]}")
    lines += ["", "Đề nghị cập nhật tiến độ trên trang quản trị (mục “Nhiệm vụ”)."]
    return "\n".join(lines)


def _send_email(to: str, subject: str, body: str, dedupe_key: str) -> None:
    s = get_settings()
    msg = EmailMessage()
    msg["From"], msg["To"], msg["Subject"] = s.smtp_sender, to, subject
    domain = s.smtp_sender.rsplit("@", 1)[-1] or "localhost"
    msg["Message-ID"] = f"<{dedupe_key.replace(':', '.')}@{domain}>"
    msg["Date"] = formatdate(localtime=False)
    msg.set_content(body)
    smtp_send(msg)


def deliver(office_id: str, office_name: str, contact: dict, tasks: list[DueTask], today: date) -> str:
    """Send one office's reminder over its configured channel; returns the route ('none' if it has none)."""
    from pakn.delivery import post_webhook, telegram_send

    key = f"duty_reminder:{office_id}:{today.isoformat()}"
    text = message_text(office_name, tasks, today)
    if contact.get("webhook_url"):
        doc = {"event": "duty.reminder", "dedupe_key": key, "office": {"id": office_id, "name": office_name},
               "day": today.isoformat(), "text": text,
               "tasks": [{"id": t.id, "plan_id": t.plan_id, "number": t.number, "text": t.text,
                          "deadline_raw": t.deadline_raw, "deadline_end": t.deadline_end.isoformat(),
                          "role": t.role} for t in tasks]}
        post_webhook(contact["webhook_url"], doc, key)
        return "webhook"
    if contact.get("email"):
        _send_email(contact["email"], f"[Nhắc hạn] {len(tasks)} nhiệm vụ đến hạn trong {HORIZON_DAYS} ngày",
                    text, key)
        return "email"
    if contact.get("telegram_chat_id"):
        telegram_send(contact["telegram_chat_id"], text)
        return "telegram"
    return "none"


def send_due_soon(now: datetime | None = None, *, database_url: str | None = None) -> ReminderReport:
    """Remind every office of its tasks due within 7 days; safe to run several times a day."""
    from db import session_scope
    from knowledge.offices import load_offices

    now = now or utcnow()
    today = now.astimezone(VN_TZ).date()
    directory = load_offices()
    report = ReminderReport()
    with session_scope(database_url) as db:
        due = due_soon_by_office(db, today)
    for office_id, tasks in due.items():
        office = directory.get(office_id)
        name, contact = (office.name, dict(office.contact)) if office else (office_id, {})
        with session_scope(database_url) as db:
            row = db.scalars(select(DutyReminder).where(DutyReminder.office_id == office_id,
                                                        DutyReminder.day == today)).first()
            if row is not None and row.status in ("sent", "skipped"):
                report.skipped[office_id] = "already"
                continue
            if row is None:
                row = DutyReminder(office_id=office_id, day=today, task_ids=[t.id for t in tasks], status="pending",
                                   attempts=0, at=now)
                try:
                    with db.begin_nested():
                        db.add(row)
                except IntegrityError:  # another run claimed it a moment ago
                    report.skipped[office_id] = "already"
                    continue
            row.attempts += 1
            row_id = row.id
        try:  # no transaction held during network I/O
            route = deliver(office_id, name, contact, tasks, today)
            status, error = ("sent" if route != "none" else "skipped"), None
        except DeliveryError as exc:
            route, status, error = None, "failed", str(exc)[:500]
        with session_scope(database_url) as db:
            row = db.get_one(DutyReminder, row_id)
            row.route, row.status, row.error, row.at = route, status, error, utcnow()
            row.task_ids = [t.id for t in tasks]
        if status == "sent":
            report.sent[office_id] = route or ""
        elif status == "failed":
            report.failed[office_id] = error or ""
            log.warning("duty reminder failed", extra={"office_id": office_id, "error": error})
        else:
            report.skipped[office_id] = "no channel"
    log.info("duty reminders", extra={"sent": len(report.sent), "failed": len(report.failed),
                                      "skipped": len(report.skipped)})
    return report


__all__ = ["DueTask", "ReminderReport", "deliver", "due_soon_by_office", "message_text", "send_due_soon"]
