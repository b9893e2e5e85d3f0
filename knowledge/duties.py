"""Duty lookup over the store: which tasks an office leads or supports, in which period.

Shared by the `python -m knowledge tasks` CLI, the bot's duty answers and the staff console, so
all three filter the same way.
"""
from __future__ import annotations

from datetime import date

from pydantic import BaseModel
from sqlalchemy import and_, or_, select
from sqlalchemy.orm import Session

from knowledge.models import PlanRow, TaskOfficeRow, TaskRow
from knowledge.plans import task_locator


class TaskView(BaseModel):
    """A task with its plan, ready to print or cite."""

    id: str
    plan_id: str
    plan_title: str
    locality: str
    number: str | None
    origin: str
    section: str
    text: str
    product: str | None
    lead: list[str]
    support: list[str]
    lead_ids: list[str]
    support_ids: list[str]
    deadline_raw: str | None
    deadline_kind: str | None
    deadline_start: date | None
    deadline_end: date | None
    role: str | None = None  # the queried office's role: lead | support

    @property
    def locator(self) -> str:
        return task_locator(self.origin, self.number, self.section)


def find_tasks(
    session: Session,
    *,
    office_ids: list[str] | None = None,
    role: str | None = None,
    plan_ids: list[str] | None = None,
    locality: str | None = None,
    period: tuple[date, date] | None = None,
    section: str | None = None,
    origin: str | None = None,
    limit: int = 500,
) -> list[TaskView]:
    """Tasks matching every given filter, in plan order then table/prose order.

    With a period, only tasks whose deadline interval overlaps it are returned (recurring and
    monthly tasks span their plan year, so they count in every quarter of it).
    """
    stmt = select(TaskRow, PlanRow).join(PlanRow, PlanRow.id == TaskRow.plan_id)
    if office_ids:
        sub = select(TaskOfficeRow.task_id).where(TaskOfficeRow.office_id.in_(office_ids))
        if role:
            sub = sub.where(TaskOfficeRow.role == role)
        stmt = stmt.where(TaskRow.id.in_(sub))
    if plan_ids:
        stmt = stmt.where(PlanRow.id.in_(plan_ids))
    if locality:
        like = f"%{locality}%"
        stmt = stmt.where(or_(PlanRow.locality.ilike(like), PlanRow.province.ilike(like)))
    if period:
        start, end = period
        stmt = stmt.where(and_(TaskRow.deadline_start.is_not(None), TaskRow.deadline_start <= end,
                               TaskRow.deadline_end >= start))
    if section:
        stmt = stmt.where(TaskRow.section.ilike(f"%{section}%"))
    if origin:
        stmt = stmt.where(TaskRow.origin == origin)
    rows = session.execute(stmt.order_by(PlanRow.corpus_id, TaskRow.origin.desc())).all()
    views = [_view(task, plan, office_ids) for task, plan in rows]
    views.sort(key=lambda v: (v.plan_id, v.origin != "table", _number_key(v.number)))
    return views[:limit]


def _number_key(number: str | None) -> tuple:
    if not number:
        return (9999,)
    parts = []
    for p in number.split("."):
        parts.append(int(p) if p.isdigit() else {"I": 1, "II": 2, "III": 3, "IV": 4, "V": 5, "VI": 6,
                                                 "VII": 7, "VIII": 8, "IX": 9, "X": 10}.get(p, 99))
    return tuple(parts)


def _view(task: TaskRow, plan: PlanRow, office_ids: list[str] | None) -> TaskView:
    lead = [o for o in task.offices if o.role == "lead"]
    support = [o for o in task.offices if o.role == "support"]
    role = None
    if office_ids:
        if any(o.office_id in office_ids for o in lead):
            role = "lead"
        elif any(o.office_id in office_ids for o in support):
            role = "support"
    return TaskView(
        id=task.id, plan_id=plan.id, plan_title=plan.title, locality=plan.locality, number=task.number,
        origin=task.origin, section=task.section, text=task.text, product=task.product,
        lead=_split_mention(lead), support=_split_mention(support),
        lead_ids=[o.office_id for o in lead], support_ids=[o.office_id for o in support],
        deadline_raw=task.deadline_raw, deadline_kind=task.deadline_kind,
        deadline_start=task.deadline_start, deadline_end=task.deadline_end, role=role,
    )


def _split_mention(rows: list[TaskOfficeRow]) -> list[str]:
    return [rows[0].mention] if rows else []
