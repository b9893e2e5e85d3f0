"""Queries behind the PAKN inbox and the transfer form; scoping by office happens here, once.

Why the scope is a query filter and not a check after loading: a list must never contain another
office's petition, and a filter cannot be forgotten for one row the way a later check can.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import Select, exists, func, or_, select
from sqlalchemy.orm import Session

from console.auth import Principal
from pakn.models import (
    ANSWERED,
    CITIZEN_REPLY,
    CLOSED,
    JOB_DEAD,
    JOB_DONE,
    JOB_WAITING,
    OPEN_STATUSES,
    REJECTED,
    OutboxJob,
    PaknEvent,
    PaknRecord,
)

log = logging.getLogger(__name__)
VN_TZ = ZoneInfo("Asia/Ho_Chi_Minh")
FINISHED_STATUSES = (ANSWERED, CLOSED, REJECTED)
DUE_SOON = timedelta(hours=48)
PER_PAGE = 50

DUE_FILTERS_VI = {"overdue": "Quá hạn", "escalated": "Quá hạn, đã báo cáo cấp trên", "soon": "Sắp đến hạn (48 giờ)",
                  "week": "Đến hạn trong 7 ngày"}
ESCALATED_EVENT = "escalated"  # written by pakn.escalation when the supervising body is told


@dataclass(frozen=True)
class InboxFilters:
    """What the inbox form submits (all optional)."""

    status: str | None = None
    category: str | None = None
    due: str | None = None  # overdue | soon | week
    due_before: date | None = None
    q: str | None = None
    office: str | None = None  # admins only: narrow to one office
    page: int = 1


def scoped(principal: Principal) -> Select:
    """Petitions the principal may see: its office's, or all for an admin."""
    stmt = select(PaknRecord)
    if not principal.is_admin:
        stmt = stmt.where(PaknRecord.office_id == principal.office_id)
    return stmt


def _escalated():
    """The petition's supervising body has been told it is overdue (pakn.escalation)."""
    return exists().where(PaknEvent.record_id == PaknRecord.id, PaknEvent.kind == ESCALATED_EVENT)


def due_badge(record: PaknRecord, now: datetime) -> str | None:
    """'escalated' / 'overdue' / 'soon' for open petitions past or near their due time; None otherwise."""
    if record.due_at is None or record.status not in OPEN_STATUSES:
        return None
    if record.due_at < now:
        return "escalated" if any(e.kind == ESCALATED_EVENT for e in getattr(record, "events", ())) else "overdue"
    if record.due_at - now <= DUE_SOON:
        return "soon"
    return None


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def list_records(db: Session, principal: Principal, f: InboxFilters, now: datetime) -> tuple[list[PaknRecord], int]:
    """One page of the inbox (most urgent first) and the total count under the filters."""
    stmt = scoped(principal)
    if f.status:
        stmt = stmt.where(PaknRecord.status == f.status)
    if f.category:
        stmt = stmt.where(PaknRecord.category == f.category)
    if f.office and principal.is_admin:
        stmt = stmt.where(PaknRecord.office_id == f.office)
    if f.due in DUE_FILTERS_VI:
        stmt = stmt.where(PaknRecord.status.in_(OPEN_STATUSES), PaknRecord.due_at.is_not(None))
        if f.due in ("overdue", "escalated"):
            stmt = stmt.where(PaknRecord.due_at < now)
            if f.due == "escalated":
                stmt = stmt.where(_escalated())
        else:
            horizon = now + (DUE_SOON if f.due == "soon" else timedelta(days=7))
            stmt = stmt.where(PaknRecord.due_at >= now, PaknRecord.due_at <= horizon)
    if f.due_before:
        end = datetime.combine(f.due_before + timedelta(days=1), datetime.min.time(), VN_TZ)
        stmt = stmt.where(PaknRecord.due_at.is_not(None), PaknRecord.due_at < end)
    if not (f.q and f.q.strip()):
        # A cluster is one item: its primary (with its count, `pakn.clusters.cluster_sizes`); a
        # search shows linked reports too, so a citizen's code always finds their report.
        stmt = stmt.where(PaknRecord.primary_id.is_(None))
    if f.q and f.q.strip():
        like = f"%{_escape_like(f.q.strip()[:200])}%"
        stmt = stmt.where(or_(PaknRecord.code.ilike(like, escape="\\"), PaknRecord.content.ilike(like, escape="\\"),
                              PaknRecord.location.ilike(like, escape="\\"),
                              PaknRecord.office_name.ilike(like, escape="\\")))
    total = db.scalar(select(func.count()).select_from(stmt.subquery())) or 0
    # Open petitions first, then by due time (soonest first), newest last resort.
    open_first = PaknRecord.status.in_(OPEN_STATUSES).desc()
    page = max(1, f.page)
    rows = db.scalars(stmt.order_by(open_first, PaknRecord.due_at.is_(None), PaknRecord.due_at,
                                    PaknRecord.created_at.desc())
                      .offset((page - 1) * PER_PAGE).limit(PER_PAGE)).all()
    return list(rows), total


def categories(db: Session, principal: Principal) -> list[tuple[str, str]]:
    """(slug, Vietnamese name) of the categories present in the principal's petitions."""
    sub = scoped(principal).subquery()
    rows = db.execute(select(sub.c.category, func.max(sub.c.category_name)).group_by(sub.c.category)
                      .order_by(sub.c.category)).all()
    return [(slug, name or slug) for slug, name in rows]


def get_visible(db: Session, principal: Principal, code: str) -> PaknRecord | None:
    """The petition if it exists and the principal may see it; None otherwise (→ 404, no leak)."""
    from pakn.service import get_by_code

    record = get_by_code(db, code)
    if record is None or not principal.can_see_office(record.office_id):
        return None
    return record


@dataclass(frozen=True)
class OfficeChoice:
    id: str
    name: str
    province: str
    suggested: bool = False
    why: str | None = None


def transfer_choices(record: PaknRecord, on: date | None = None) -> list[OfficeChoice]:
    """Offices a petition can be transferred to: routing suggestions first, then every current office.

    Suggestions come from `pakn.routing.route` — the office the rules pick for the petition's
    category at its locality, and the body for complaints/denunciations — skipping the current
    office. The full list holds offices that exist today (kind=office), the petition's province first.
    """
    from knowledge.offices import load_offices

    directory = load_offices()
    on = on or date.today()
    suggestions: list[OfficeChoice] = []
    try:
        from pakn.localities import Locality
        from pakn.routing import route

        loc = Locality.model_validate(record.locality) if record.locality else None
        seen = {record.office_id}
        for complaint in (False, True):
            r = route(record.category, loc, complaint_or_denunciation=complaint, on=on)
            if r.office_id not in seen and r.office_id in directory:
                seen.add(r.office_id)
                o = directory.get(r.office_id)
                suggestions.append(OfficeChoice(r.office_id, r.office_name, o.province if o else "", True,
                                                r.explanation))
    except Exception as exc:  # noqa: BLE001 - routing rules missing or a category they lack: no suggestions
        log.debug("no routing suggestions for %s: %s", record.code, type(exc).__name__)
    province = None
    current = directory.get(record.office_id) if record.office_id else None
    if current is not None:
        province = current.province
    elif record.locality:
        province = str(record.locality.get("province_name", "")).removeprefix("Tỉnh ").removeprefix("Thành phố ")
    taken = {c.id for c in suggestions} | {record.office_id}
    from knowledge.offices import ward_offices

    wards = ward_offices(str(record.locality.get("province_slug", ""))) if record.locality else []
    rest = [OfficeChoice(o.id, o.name, o.province) for o in [*directory.all(), *wards]
            if o.kind == "office" and o.is_valid_on(on) and o.id not in taken]
    rest.sort(key=lambda c: (c.province != province, c.province, c.name))
    return suggestions + rest


@dataclass(frozen=True)
class ReplyDelivery:
    """How an office reply is getting to the citizen, as staff see it next to the reply."""

    state: str  # sent | waiting | failed | sending | portal
    label: str


VIA_VI = {"zalo:cs": "tin tư vấn Zalo", "zalo:transaction": "tin giao dịch Zalo"}


def reply_deliveries(db: Session, record: PaknRecord) -> dict[int, ReplyDelivery]:
    """Delivery state of each reply event of `record`, by event id (from its `citizen_reply` job).

    Why from the job: the outbox is where the truth is (done, waiting for the citizen, dead), and
    reading it here keeps the history free of one event per attempt."""
    jobs = db.scalars(select(OutboxJob).where(OutboxJob.record_id == record.id, OutboxJob.kind == CITIZEN_REPLY))
    out: dict[int, ReplyDelivery] = {}
    for job in jobs:
        event_id = (job.payload or {}).get("event_id")
        if event_id is None:  # jobs from before event_id was stored: citizen_reply:<code>:<event id>
            tail = job.dedupe_key.rsplit(":", 1)[-1]
            event_id = int(tail) if tail.isdigit() else None
        if event_id is None:
            continue
        if job.status == JOB_DONE:
            via = (job.payload or {}).get("via")
            if via == "no push channel":
                delivery = ReplyDelivery("portal", "Người dân xem bằng mã tra cứu")
            else:
                delivery = ReplyDelivery("sent", "Đã gửi" + (f" ({VIA_VI[via]})" if via in VIA_VI else ""))
        elif job.status == JOB_WAITING:
            delivery = ReplyDelivery("waiting", "Chờ người dân nhắn lại")
        elif job.status == JOB_DEAD:
            delivery = ReplyDelivery("failed", "Gửi lỗi")
        else:
            delivery = ReplyDelivery("sending", "Đang gửi" if not job.last_error else "Đang thử gửi lại")
        out[int(event_id)] = delivery
    return out


def office_name(office_id: str | None) -> str:
    """Display name of an office id ('—' when unknown)."""
    if not office_id:
        return "—"
    from knowledge.offices import load_offices

    o = load_offices().get(office_id)
    return o.name if o else office_id


__all__ = [
    "DUE_FILTERS_VI",
    "OPEN_STATUSES",
    "PER_PAGE",
    "InboxFilters",
    "OfficeChoice",
    "categories",
    "due_badge",
    "get_visible",
    "list_records",
    "office_name",
    "scoped",
    "transfer_choices",
]
