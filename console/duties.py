"""An office's plan duties: which tasks, grouped by deadline, with progress and an iCalendar feed.

Why predecessors are included: the plans (2021–2025) name bodies that the 2025 reorganisation
merged away — the old Phòng Nội vụ's duties passed to today's Sở Nội vụ. Following the directory's
successor chains backwards gives the present-day office every task that is now its own.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from console.models import DUTY_STATUS_VI, DutyProgress
from knowledge.duties import TaskView, find_tasks
from pakn.models import utcnow

RECURRING_KINDS = frozenset({"monthly", "quarterly", "recurring", "reporting_cycle"})
GROUPS_VI = {"month": "Hạn trong tháng này", "quarter": "Hạn trong quý này", "recurring": "Thường xuyên, định kỳ",
             "other": "Các nhiệm vụ khác"}
MAX_NOTE_CHARS = 2000


def covered_offices(office_id: str) -> list[str]:
    """`office_id` and every office whose successor chain leads to it (its historical predecessors)."""
    from knowledge.offices import load_offices

    directory = load_offices()
    out = [office_id]
    for office in directory.all():
        if office.id != office_id and any(o.id == office_id for o in directory.chain(office.id)[1:]):
            out.append(office.id)
    return out


@dataclass
class DutyItem:
    """A task as the console shows it: the plan's view plus this office's progress."""

    task: TaskView
    status: str = "not_started"
    note: str | None = None
    updated_by: str | None = None
    updated_at: datetime | None = None
    history: list[DutyProgress] = field(default_factory=list)

    @property
    def status_vi(self) -> str:
        return DUTY_STATUS_VI.get(self.status, self.status)


def _quarter_bounds(today: date) -> tuple[date, date]:
    q0 = (today.month - 1) // 3 * 3 + 1
    start = date(today.year, q0, 1)
    end = date(today.year + (q0 + 3 > 12), (q0 + 3 - 1) % 12 + 1, 1) - timedelta(days=1)
    return start, end


def _month_bounds(today: date) -> tuple[date, date]:
    start = today.replace(day=1)
    nxt = date(today.year + (today.month == 12), today.month % 12 + 1, 1)
    return start, nxt - timedelta(days=1)


def group_of(task: TaskView, today: date) -> str:
    """month | quarter | recurring | other — by when the task must be done relative to `today`."""
    if task.deadline_kind in RECURRING_KINDS:
        return "recurring"
    if task.deadline_end is None or task.deadline_start is None:
        return "other"
    for name, (start, end) in (("month", _month_bounds(today)), ("quarter", _quarter_bounds(today))):
        if task.deadline_start <= end and task.deadline_end >= start:
            return name
    return "other"


def latest_progress(db: Session, office_id: str, task_ids: list[str] | None = None) -> dict[str, list[DutyProgress]]:
    """Progress rows per task for an office, newest first."""
    stmt = select(DutyProgress).where(DutyProgress.office_id == office_id)
    if task_ids is not None:
        stmt = stmt.where(DutyProgress.task_id.in_(task_ids))
    out: dict[str, list[DutyProgress]] = {}
    for row in db.scalars(stmt.order_by(DutyProgress.at.desc(), DutyProgress.id.desc())):
        out.setdefault(row.task_id, []).append(row)
    return out


def office_duties(db: Session, office_id: str) -> list[DutyItem]:
    """Every task the office leads or supports (itself or through its predecessors), with progress."""
    tasks = find_tasks(db, office_ids=covered_offices(office_id), limit=5000)
    progress = latest_progress(db, office_id)
    items = []
    for t in tasks:
        rows = progress.get(t.id, [])
        item = DutyItem(task=t, history=rows)
        if rows:
            item.status, item.note, item.updated_by, item.updated_at = (rows[0].status, rows[0].note,
                                                                        rows[0].updated_by, rows[0].at)
        items.append(item)
    return items


def grouped(items: list[DutyItem], today: date) -> dict[str, list[DutyItem]]:
    """Items by group (in GROUPS_VI order), each sorted by deadline end then plan order."""
    out: dict[str, list[DutyItem]] = {k: [] for k in GROUPS_VI}
    for item in items:
        out[group_of(item.task, today)].append(item)
    for key in ("month", "quarter", "other"):
        out[key].sort(key=lambda i: (i.task.deadline_end or date.max, i.task.plan_id))
    return out


def record_progress(db: Session, *, task_id: str, office_id: str, status: str, note: str | None,
                    updated_by: str) -> DutyProgress:
    """Append a progress report; the task must be one of the office's duties."""
    if status not in DUTY_STATUS_VI:
        raise ValueError("Trạng thái tiến độ không hợp lệ.")
    note = (note or "").strip() or None
    if note and len(note) > MAX_NOTE_CHARS:
        raise ValueError(f"Ghi chú quá dài (tối đa {MAX_NOTE_CHARS} ký tự).")
    from knowledge.models import TaskOfficeRow

    allowed = db.scalar(select(TaskOfficeRow.id).where(TaskOfficeRow.task_id == task_id,
                                                       TaskOfficeRow.office_id.in_(covered_offices(office_id)))
                        .limit(1))
    if allowed is None:
        raise LookupError("Nhiệm vụ không thuộc cơ quan của bạn.")
    row = DutyProgress(task_id=task_id, office_id=office_id, status=status, note=note, updated_by=updated_by,
                       at=utcnow())
    db.add(row)
    db.flush()
    return row


def status_counts(db: Session, office_id: str | None) -> dict[str, int]:
    """How many of an office's duties are in each progress status (all offices' reports when None)."""
    counts = {k: 0 for k in DUTY_STATUS_VI}
    if office_id is not None:
        for item in office_duties(db, office_id):
            counts[item.status] = counts.get(item.status, 0) + 1
        return counts
    latest: dict[tuple[str, str], str] = {}
    for row in db.scalars(select(DutyProgress).order_by(DutyProgress.at, DutyProgress.id)):
        latest[(row.office_id, row.task_id)] = row.status
    for status in latest.values():
        counts[status] = counts.get(status, 0) + 1
    return counts


def to_ics(items: list[DutyItem], office_name: str, now: datetime | None = None) -> bytes:
    """An iCalendar file of the office's deadlines (all-day events on the last day of each window).

    Monthly and quarterly duties repeat until the end of their window; other recurring duties
    ("thường xuyên") have no date to put in a calendar and are left out, as are finished tasks.
    """
    from icalendar import Calendar, Event

    now = now or utcnow()
    cal = Calendar()
    cal.add("prodid", "-//Tro ly hanh chinh cong//Console//VI")
    cal.add("version", "2.0")
    cal.add("calscale", "GREGORIAN")
    cal.add("x-wr-calname", f"Hạn nhiệm vụ — {office_name}")
    cal.add("x-wr-timezone", "Asia/Ho_Chi_Minh")
    for item in items:
        t = item.task
        if item.status == "done" or t.deadline_end is None:
            continue
        if t.deadline_kind in RECURRING_KINDS and t.deadline_kind not in ("monthly", "quarterly"):
            continue
        ev = Event()
        label = t.locator
        ev.add("uid", f"{t.id}@trolyhanhchinh")
        ev.add("dtstamp", now)
        ev.add("summary", f"{label}: {t.text[:120]}")
        desc = [f"Kế hoạch: {t.plan_title}", f"Thời hạn trong kế hoạch: {t.deadline_raw or '—'}",
                f"Vai trò: {'Chủ trì' if t.role == 'lead' else 'Phối hợp'}", f"Tiến độ: {item.status_vi}"]
        if t.product:
            desc.append(f"Sản phẩm: {t.product}")
        ev.add("description", "\n".join(desc))
        if t.deadline_kind == "monthly" and t.deadline_start:
            first = min(_month_bounds(t.deadline_start)[1], t.deadline_end)
            ev.add("dtstart", first)
            ev.add("rrule", {"freq": "monthly", "until": t.deadline_end, "bymonthday": -1})
        elif t.deadline_kind == "quarterly" and t.deadline_start:
            first = min(_quarter_bounds(t.deadline_start)[1], t.deadline_end)
            ev.add("dtstart", first)
            ev.add("rrule", {"freq": "monthly", "interval": 3, "until": t.deadline_end, "bymonthday": -1})
        else:
            ev.add("dtstart", t.deadline_end)
            ev.add("dtend", t.deadline_end + timedelta(days=1))
        cal.add_component(ev)
    return cal.to_ical()


__all__ = [
    "GROUPS_VI",
    "RECURRING_KINDS",
    "DutyItem",
    "covered_offices",
    "group_of",
    "grouped",
    "latest_progress",
    "office_duties",
    "record_progress",
    "status_counts",
    "to_ics",
]
