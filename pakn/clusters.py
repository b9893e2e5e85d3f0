"""Clusters of duplicate petitions in the database: link on intake, answer once, unlink.

Why a cluster is a pointer and not a merge: every citizen keeps their own tracking code, record,
contact and channel — the answer must reach each of them where they wrote, and a false link must
be undoable without losing anything. A linked report (`primary_id` set):

* is not delivered to the office on its own (the office has the case already); the primary's
  history says another citizen reported it;
* follows the primary's status (`follow_primary`), so it is never reminded or escalated apart;
* gets, when the primary is answered, a `citizen_reply` job of its own on its own channel, with a
  dedupe key of its code and the reply — one message per citizen per answer, whatever re-runs;
* is shown by code with the shared status (`shared`), never with another citizen's data;
* is never a complaint, a denunciation or a petition about an official's conduct, on either side;
* can be unlinked by staff (`unlink`): it becomes a case of its own again, with its own office and
  due date from its own triage, and is delivered to that office.

The matching itself is `pakn.duplicates` (pure); this module reads candidates and writes links.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache
from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from pakn.complaints import complaint_words
from pakn.duplicates import UNSURE, Params, Report, find_primary
from pakn.errors import PaknTransitionError
from pakn.models import (
    ANSWERED,
    CITIZEN_REPLY,
    CLOSED,
    DELIVER_OFFICE,
    OPEN_STATUSES,
    RECEIVED,
    REJECTED,
    OutboxJob,
    PaknEvent,
    PaknRecord,
)

log = logging.getLogger(__name__)
# Petitions about an official's conduct name people (pakn.published keeps their words private):
# "N people reported this" would disclose that others complained about that person.
PRIVATE_CATEGORIES = ("can_bo_cong_vu",)
FINISHED = (ANSWERED, CLOSED, REJECTED)
ACTOR = "system:cluster"
METRES_PER_DEGREE = 111_000.0


def params() -> Params:
    """The matcher's parameters: window and radius from settings, the rest as measured."""
    from settings import get_settings

    s = get_settings()
    return Params(window_days=s.pakn_duplicate_window_days, radius_m=s.pakn_duplicate_radius_m)


def enabled() -> bool:
    from settings import get_settings

    return get_settings().pakn_duplicates


def _sensitive(is_complaint: bool | None, content: str | None) -> bool:
    return bool(is_complaint) or _sensitive_words(content or "")


@lru_cache(maxsize=4096)
def _sensitive_words(content: str) -> bool:
    """`is_sensitive`, cached: an open case is checked again with every new report of its ward."""
    return complaint_words().is_sensitive(content)


@dataclass(frozen=True)
class OpenCase:
    """The case a report joins, as intake needs it (read under a row lock, without its history)."""

    id: int
    code: str


def report_of(record: PaknRecord) -> Report:
    """The matcher's view of a stored petition."""
    return Report(id=record.id, content=record.content, category=record.category, ward_code=record.ward_code,
                  latitude=record.latitude, longitude=record.longitude, created_at=record.created_at,
                  open=record.status in OPEN_STATUSES, primary=record.primary_id is None,
                  sensitive=_sensitive(record.is_complaint, record.content))


def report_of_values(values: dict[str, Any]) -> Report:
    """The matcher's view of a petition about to be stored (`PreparedSubmission.values`)."""
    return Report(id=-1, content=values["content"], category=values["category"], ward_code=values.get("ward_code"),
                  latitude=values.get("latitude"), longitude=values.get("longitude"),
                  created_at=values["created_at"], sensitive=_sensitive(values.get("is_complaint"), values["content"]))


def find_open_case(session: Session, new: Report, p: Params | None = None) -> OpenCase | None:
    """The open case `new` repeats, locked for this transaction (PostgreSQL) and re-checked open,
    or None. Nothing is read for a sensitive petition or one whose place is known only roughly."""
    p = p or params()
    if new.sensitive or new.category in PRIVATE_CATEGORIES \
            or (new.ward_code is None and (new.latitude is None or new.longitude is None)):
        return None
    place = []
    if new.ward_code is not None:
        place.append(PaknRecord.ward_code == new.ward_code)
    if new.latitude is not None and new.longitude is not None:
        d_lat = p.radius_m / METRES_PER_DEGREE
        d_lon = d_lat * 2  # generous (a degree of longitude is shorter); the matcher measures exactly
        place.append(PaknRecord.latitude.between(new.latitude - d_lat, new.latitude + d_lat)
                     & PaknRecord.longitude.between(new.longitude - d_lon, new.longitude + d_lon))
    cols = (PaknRecord.id, PaknRecord.content, PaknRecord.category, PaknRecord.ward_code, PaknRecord.latitude,
            PaknRecord.longitude, PaknRecord.created_at)
    stmt = select(*cols).where(
        or_(*place), PaknRecord.primary_id.is_(None), PaknRecord.status.in_(OPEN_STATUSES),
        PaknRecord.is_complaint.is_not(True), PaknRecord.triage_pending.is_not(True),
        PaknRecord.category.not_in(PRIVATE_CATEGORIES),
        PaknRecord.created_at >= new.created_at - timedelta(days=p.window_days), PaknRecord.id != new.id)
    if new.category != UNSURE:
        stmt = stmt.where(PaknRecord.category.in_((new.category, UNSURE)))
    # Columns, not records: no history is loaded for candidates that are only compared.
    rows = session.execute(stmt.order_by(PaknRecord.created_at.desc()).limit(p.max_candidates)).all()
    candidates = [Report(id=r.id, content=r.content, category=r.category, ward_code=r.ward_code,
                         latitude=r.latitude, longitude=r.longitude, created_at=r.created_at,
                         sensitive=_sensitive_words(r.content)) for r in reversed(rows)]
    match = find_primary(new, candidates, p)  # oldest first: a tie goes to the oldest case
    if match is None:
        return None
    # Answered meanwhile by a reply that committed? Then no link: the lock orders this intake after
    # that reply (PostgreSQL; SQLite has one writer), and the re-read sees its status.
    lock = (select(PaknRecord.id, PaknRecord.code, PaknRecord.status, PaknRecord.primary_id)
            .where(PaknRecord.id == match.primary_id).with_for_update())
    row = session.execute(lock).first()
    if row is None or row.status not in OPEN_STATUSES or row.primary_id is not None:
        return None
    log.info("pakn duplicate found", extra={"pakn_code": row.code, "score": round(match.score, 3)})
    return OpenCase(row.id, row.code)


def linked_events(record_id: int, code: str, primary: OpenCase, now: datetime) -> list[dict[str, Any]]:
    """The two history rows of a new link: on the report and on the case it joined."""
    return [
        {"record_id": record_id, "kind": "linked", "from_status": None, "to_status": None, "actor": ACTOR, "at": now,
         "note": f"Cùng sự việc với phản ánh {primary.code} đang được xử lý; gộp vào nhóm, không chuyển riêng "
                 "đến cơ quan."},
        {"record_id": primary.id, "kind": "duplicate", "from_status": None, "to_status": None, "actor": ACTOR,
         "at": now, "note": f"Thêm một người dân phản ánh cùng sự việc (mã {code})."},
    ]


def link_after_classification(session: Session, record: PaknRecord, now: datetime) -> OpenCase | None:
    """For a petition whose category the worker has just decided: join the open case it repeats
    (then it is not delivered on its own). Returns the case joined, or None."""
    if not enabled() or record.primary_id is not None:
        return None
    primary = find_open_case(session, report_of(record))
    if primary is None:
        return None
    record.primary_id = primary.id
    for values in linked_events(record.id, record.code, primary, now):
        session.add(PaknEvent(**values))
    return primary


def cluster_size(session: Session, primary_id: int) -> int:
    """How many reports a cluster holds: the primary and those linked to it."""
    return 1 + (session.scalar(select(func.count()).select_from(PaknRecord)
                               .where(PaknRecord.primary_id == primary_id)) or 0)


def cluster_sizes(session: Session, ids: list[int]) -> dict[int, int]:
    """Reports per cluster for these primaries (only those with links are present)."""
    if not ids:
        return {}
    rows = session.execute(select(PaknRecord.primary_id, func.count()).where(PaknRecord.primary_id.in_(ids))
                           .group_by(PaknRecord.primary_id)).all()
    return {int(pid): 1 + int(n) for pid, n in rows if pid is not None}


def shared(session: Session, record: PaknRecord) -> PaknRecord:
    """The record whose status, office, due date and answers a lookup by this code shows: the
    primary case for a linked report, the record itself otherwise."""
    if record.primary_id is None:
        return record
    return session.get(PaknRecord, record.primary_id) or record


def intake_notice(session: Session, record: PaknRecord) -> str | None:
    """What the citizen hears on intake when their report joined an open case: how many reported
    it and the case's code — nothing of the other citizens. None for a case of its own."""
    if record.primary_id is None:
        return None
    primary = session.get(PaknRecord, record.primary_id)
    if primary is None:
        return None
    n = cluster_size(session, primary.id)
    status = "đang được xử lý" if primary.status in OPEN_STATUSES else "đã được cơ quan xử lý"
    return f"Đã có {n} người phản ánh việc này (mã {primary.code}), {status}."


def linked_reports(session: Session, primary: PaknRecord) -> list[PaknRecord]:
    """The reports linked to a case, oldest first."""
    return list(session.scalars(select(PaknRecord).where(PaknRecord.primary_id == primary.id)
                                .order_by(PaknRecord.created_at, PaknRecord.id)))


def require_primary(record: PaknRecord, action: str) -> None:
    """Staff act on the cluster's primary; acting on a linked report alone would answer one
    citizen of many, or close a case the others still wait on."""
    if record.primary_id is not None:
        raise PaknTransitionError(f"Phản ánh {record.code} đã được gộp vào nhóm của một phản ánh khác; hãy {action} "
                                  "phản ánh chính của nhóm, hoặc “Tách khỏi nhóm” trước.")


def follow_primary(session: Session, primary: PaknRecord, now: datetime) -> int:
    """Give every linked report the primary's status (a history row each); returns how many moved."""
    moved = 0
    for rec in linked_reports(session, primary):
        if rec.status == primary.status:
            continue
        rec.events.append(PaknEvent(kind="transition", from_status=rec.status, to_status=primary.status,
                                    actor=ACTOR, at=now, note=f"Theo phản ánh chính {primary.code}."))
        rec.status, rec.updated_at = primary.status, now
        moved += 1
    return moved


def fan_out_reply(session: Session, primary: PaknRecord, reply: PaknEvent, text: str, office: str,
                  now: datetime) -> int:
    """A `citizen_reply` job for every linked report, each on its own channel; returns how many.

    The dedupe key (report code + the primary's reply event) makes the job unique: one message per
    citizen per answer, however often this runs or the worker retries. The text is masked
    (`redact_public`): the office wrote to the primary's citizen."""
    from pakn.privacy import redact_public

    # Written to the primary's citizen, read by all: masked as anything public is, so a phone
    # number or house the office quoted reaches no one else.
    text = redact_public(text) or ""
    n = 0
    for rec in linked_reports(session, primary):
        message = f"Phản ánh {rec.code} (cùng sự việc với phản ánh {primary.code}) đã có trả lời của {office}:\n{text}"
        key = f"{CITIZEN_REPLY}:{rec.code}:{reply.id}"
        if session.scalar(select(func.count()).select_from(OutboxJob).where(OutboxJob.dedupe_key == key)):
            continue
        session.add(OutboxJob(kind=CITIZEN_REPLY, record_id=rec.id, status="pending", attempts=0,
                              next_attempt_at=now, created_at=now, updated_at=now,
                              payload={"code": rec.code, "channel": rec.channel, "user_id": rec.channel_user_id,
                                       "text": message, "reply": text, "office": office, "event_id": reply.id,
                                       "primary_code": primary.code},
                              dedupe_key=key))
        n += 1
    return n


def unlink(session: Session, record: PaknRecord, actor: str, now: datetime) -> PaknRecord:
    """Make a linked report a case of its own again ("Tách khỏi nhóm"): back to 'received' with its
    own office and due date (from its own triage), delivered to that office; both histories say so."""
    if record.primary_id is None:
        raise PaknTransitionError(f"Phản ánh {record.code} không thuộc nhóm nào.")
    primary = session.get(PaknRecord, record.primary_id)
    primary_code = primary.code if primary else "?"
    record.primary_id = None
    record.events.append(PaknEvent(kind="unlinked", actor=actor, at=now,
                                   note=f"Tách khỏi nhóm của phản ánh {primary_code}; xử lý như phản ánh riêng."))
    if record.status != RECEIVED:
        record.events.append(PaknEvent(kind="transition", from_status=record.status, to_status=RECEIVED, actor=actor,
                                       at=now, note="Tách khỏi nhóm: tiếp nhận lại như phản ánh riêng."))
        record.status = RECEIVED
    record.updated_at = now
    if primary is not None:
        primary.events.append(PaknEvent(kind="unlinked", actor=actor, at=now,
                                        note=f"Phản ánh {record.code} được tách khỏi nhóm."))
    n = session.scalar(select(func.count()).select_from(OutboxJob).where(
        OutboxJob.record_id == record.id, OutboxJob.kind == DELIVER_OFFICE)) or 0
    session.add(OutboxJob(kind=DELIVER_OFFICE, record_id=record.id, status="pending", attempts=0, next_attempt_at=now,
                          payload={"code": record.code, "office_id": record.office_id},
                          dedupe_key=f"{DELIVER_OFFICE}:{record.code}:{record.office_id or '-'}:{n + 1}",
                          created_at=now, updated_at=now))
    log.info("pakn unlinked", extra={"pakn_code": record.code})
    return record


__all__ = ["OPEN_STATUSES", "OpenCase", "cluster_size", "cluster_sizes", "enabled", "fan_out_reply", "find_open_case",
           "follow_primary", "intake_notice", "link_after_classification", "linked_events", "linked_reports",
           "params", "report_of", "report_of_values", "require_primary", "shared", "unlink"]
