"""Build the knowledge store from the shipped sources, idempotently.

Each plan is replaced whole inside one transaction (delete its rows, insert the fresh parse), so
re-running gives the same store and a crash mid-way leaves the previous version intact.
"""
from __future__ import annotations

import time
from dataclasses import dataclass

from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from sqlalchemy import delete, select

from db import migrate, session_scope
from knowledge.models import OfficeRow, PlanRow, SectionRow, TaskOfficeRow, TaskRow
from knowledge.plans import Plan, load_plans


@dataclass
class BuildReport:
    plans: int = 0
    sections: int = 0
    tasks: int = 0
    offices: int = 0
    units: int = 0
    seconds: float = 0.0


def build_store(database_url: str | None = None, *, with_index: bool = True, quiet: bool = False) -> BuildReport:
    """Parse every source into the store (and the retrieval index), showing progress."""
    from settings import get_settings

    url = database_url or get_settings().database_url
    started = time.perf_counter()
    report = BuildReport()
    migrate(url)
    with Progress(TextColumn("[bold]{task.description}"), BarColumn(), TextColumn("{task.completed}/{task.total}"),
                  TimeElapsedColumn(), disable=quiet) as progress:
        plans = load_plans()
        step = progress.add_task("Văn phòng, cơ quan", total=1)
        report.offices = _write_offices(url)
        progress.advance(step)
        step = progress.add_task("Kế hoạch", total=len(plans))
        for plan in plans:
            _write_plan(url, plan)
            report.plans += 1
            report.sections += len(plan.sections)
            report.tasks += len(plan.tasks)
            progress.advance(step)
    if with_index:
        from retrieval.engine import RetrievalEngine
        from retrieval.readiness import mark_dense_index_ready
        from retrieval.sources import all_units

        report.units = RetrievalEngine(all_units()).warm_up(progress=not quiet).units
        mark_dense_index_ready()
    report.seconds = time.perf_counter() - started
    return report


def _write_offices(url: str) -> int:
    from knowledge.offices import load_offices

    directory = load_offices()
    offices = list(directory.all())
    with session_scope(url) as session:
        existing = {o.id: o for o in session.scalars(select(OfficeRow))}
        for office in offices:
            row = existing.get(office.id) or OfficeRow(id=office.id)
            row.name = office.name
            row.kind = office.kind
            row.level = office.level
            row.locality = office.locality
            row.province = office.province
            row.valid_from = office.valid_from
            row.valid_to = office.valid_to
            row.successor_id = office.successor
            row.aliases = list(office.aliases)
            row.contact = dict(office.contact or {})
            session.add(row)
    return len(offices)


def _write_plan(url: str, plan: Plan) -> None:
    meta = plan.meta
    with session_scope(url) as session:
        session.execute(delete(TaskOfficeRow).where(TaskOfficeRow.task_id.in_(
            select(TaskRow.id).where(TaskRow.plan_id == meta.id))))
        session.execute(delete(TaskRow).where(TaskRow.plan_id == meta.id))
        session.execute(delete(SectionRow).where(SectionRow.plan_id == meta.id))
        session.execute(delete(PlanRow).where(PlanRow.id == meta.id))
        session.flush()
        session.add(PlanRow(
            id=meta.id, corpus_id=meta.corpus_id, title=meta.title, kind=meta.kind,
            issuing_body=meta.issuing_body, locality=meta.locality, province=meta.province, level=meta.level,
            decision_number=meta.decision_number, decision_date=meta.decision_date, signer=meta.signer,
            period_start=meta.period_start, period_end=meta.period_end, source_sha256=plan.sha256,
            meta=meta.model_dump(mode="json"),
        ))
        session.flush()
        for sec in plan.sections:
            session.add(SectionRow(id=sec.id, plan_id=meta.id, ordinal=sec.ordinal, path=sec.path,
                                   heading=sec.heading, text=sec.text))
        for task in plan.tasks:
            d = task.deadline
            row = TaskRow(id=task.id, plan_id=meta.id, key=task.key, number=task.number, origin=task.origin,
                          section=task.section, text=task.text, product=task.product,
                          deadline_raw=task.deadline_raw,
                          deadline_kind=getattr(d, "kind", None), deadline_start=getattr(d, "start", None),
                          deadline_end=getattr(d, "end", None))
            mentions = {"lead": task.lead_raw, "support": task.support_raw}
            for role, ids in (("lead", task.lead_ids), ("support", task.support_ids)):
                for oid in ids:
                    row.offices.append(TaskOfficeRow(office_id=oid, role=role, mention=mentions[role]))
            session.add(row)
