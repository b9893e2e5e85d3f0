"""Figures for the dashboard: petitions by category and by week, on-time rate per office, duties by status.

Why aggregation in Python over a narrow column query: week buckets in Vietnam time and "first reply
before the due time" read the same on SQLite and PostgreSQL this way, with no dialect-specific
date functions; the query fetches only a few columns, which is fast enough for years of petitions.
"""
from __future__ import annotations

from collections import Counter
from datetime import datetime, timedelta
from typing import Any, cast
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from console.auth import Principal
from console.duties import status_counts
from console.inbox import OPEN_STATUSES
from console.models import DUTY_STATUS_VI
from pakn.models import PaknEvent, PaknRecord

VN_TZ = ZoneInfo("Asia/Ho_Chi_Minh")
WEEKS = 12


def figures(db: Session, principal: Principal, now: datetime) -> dict:
    """Everything the dashboard draws, as plain JSON-able data."""
    first_reply = (select(PaknEvent.record_id, func.min(PaknEvent.at).label("replied_at"))
                   .where(PaknEvent.kind == "reply").group_by(PaknEvent.record_id).subquery())
    stmt = (select(PaknRecord.category, PaknRecord.category_name, PaknRecord.office_id, PaknRecord.office_name,
                   PaknRecord.status, PaknRecord.created_at, PaknRecord.due_at, first_reply.c.replied_at)
            .outerjoin(first_reply, first_reply.c.record_id == PaknRecord.id)
            # Cases, not reports: a cluster of duplicates (pakn.clusters) is one case, answered once;
            # its linked reports have no reply of their own and would count as late.
            .where(PaknRecord.primary_id.is_(None)))
    if not principal.is_admin:
        stmt = stmt.where(PaknRecord.office_id == principal.office_id)
    rows = db.execute(stmt).all()

    by_category: Counter[str] = Counter()
    this_monday = (now.astimezone(VN_TZ) - timedelta(days=now.astimezone(VN_TZ).weekday())).date()
    weeks = [this_monday - timedelta(weeks=i) for i in range(WEEKS - 1, -1, -1)]
    by_week: Counter = Counter()
    on_time: dict[str, list[int]] = {}
    totals = {"total": 0, "open": 0, "overdue": 0, "answered": 0}
    for category, category_name, office_id, office_name, status, created_at, due_at, replied_at in rows:
        totals["total"] += 1
        by_category[category_name or category] += 1
        if created_at is not None:
            local = created_at.astimezone(VN_TZ).date()
            by_week[local - timedelta(days=local.weekday())] += 1
        if status in OPEN_STATUSES:
            totals["open"] += 1
            if due_at is not None and due_at < now:
                totals["overdue"] += 1
        if replied_at is not None:
            totals["answered"] += 1
        if due_at is None:
            continue
        late = (replied_at is not None and replied_at > due_at) or (replied_at is None and due_at < now
                                                                   and status in OPEN_STATUSES)
        ok = replied_at is not None and replied_at <= due_at
        if ok or late:
            pair = on_time.setdefault(office_name or office_id or "—", [0, 0])
            pair[0] += int(ok)
            pair[1] += 1
    cats = by_category.most_common()
    offices = sorted(on_time.items(), key=lambda kv: (-kv[1][1], kv[0]))[:20]
    duties = status_counts(db, principal.office_id)
    data = {
        "totals": totals,
        "by_category": {"labels": [c for c, _ in cats], "values": [n for _, n in cats]},
        "by_week": {"labels": [f"{w:%d/%m}" for w in weeks], "values": [by_week.get(w, 0) for w in weeks]},
        "on_time": {"labels": [name for name, _ in offices],
                    "values": [round(100 * ok / n, 1) if n else 0 for _, (ok, n) in offices],
                    "counts": [n for _, (_ok, n) in offices]},
        "duties": {"labels": [DUTY_STATUS_VI[k] for k in DUTY_STATUS_VI], "values": [duties.get(k, 0)
                                                                                    for k in DUTY_STATUS_VI]},
    }
    # A chart with nothing to draw says so in words (the template), instead of an empty frame.
    charts: dict[str, dict[str, Any]] = {name: cast(dict[str, Any], data[name])
                                         for name in ("by_category", "by_week", "on_time", "duties")}
    data["empty"] = {name: not any(chart["counts" if name == "on_time" else "values"])
                     for name, chart in charts.items()}
    return data


__all__ = ["figures"]
