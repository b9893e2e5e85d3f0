"""Tables of the PAKN pipeline: the petition, its history and the transactional outbox.

Why an outbox table instead of sending from the request: the petition, its 'received' event and
the job that delivers it to the office are written in one transaction, so a crash can never leave
a stored petition that nobody delivers, nor a delivery of a petition that was rolled back. The
worker (`pakn.outbox`) drains the table with retries; each job's `dedupe_key` travels with the
delivery (e-mail Message-ID, HTTP Idempotency-Key) so a re-run after a crash is recognisable.

Personal data: `contact` (phone, e-mail, name) is stored because the office must be able to answer,
but it is never logged and never returned by the public status endpoints.
"""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    JSON,
    Boolean,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    false,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from db import Base
from db.types import UTCDateTime, utcnow

# Lifecycle statuses of a petition (see pakn.service.TRANSITIONS for the allowed moves).
RECEIVED = "received"
FORWARDED = "forwarded"
IN_PROGRESS = "in_progress"
ANSWERED = "answered"
CLOSED = "closed"
TRANSFERRED = "transferred"
REJECTED = "rejected"
# Still waiting for the office: what the inbox, the dashboard and duplicate linking call open.
OPEN_STATUSES = (RECEIVED, FORWARDED, IN_PROGRESS, TRANSFERRED)
STATUSES = (RECEIVED, FORWARDED, IN_PROGRESS, ANSWERED, CLOSED, TRANSFERRED, REJECTED)

# Outbox job kinds and statuses.
DELIVER_OFFICE = "deliver_office"
CLASSIFY = "classify"
CITIZEN_REPLY = "citizen_reply"
# An unanswered petition past its due date: a reminder to its office, later a report to the
# supervising body (pakn.escalation).
OVERDUE_REMINDER = "overdue_reminder"
ESCALATE = "escalate"
JOB_PENDING = "pending"
JOB_RUNNING = "running"
JOB_DONE = "done"
JOB_DEAD = "dead"
# A citizen reply no channel message may carry now (Zalo's window); never claimed by the worker,
# set back to pending when the citizen writes again (pakn.outbox.release_waiting).
JOB_WAITING = "waiting"




class PaknRecord(Base):
    """One citizen petition (phản ánh, kiến nghị) and its triage result."""

    __tablename__ = "pakn_records"
    __table_args__ = (UniqueConstraint("channel", "external_id", name="uq_pakn_channel_external"),
                      Index("ix_pakn_records_cluster_lookup", "category", "ward_code", "created_at"))

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    code: Mapped[str] = mapped_column(String(20), unique=True)
    content: Mapped[str] = mapped_column(Text)
    location: Mapped[str | None] = mapped_column(Text)
    locality: Mapped[dict | None] = mapped_column(JSON)
    ward_code: Mapped[int | None] = mapped_column(Integer)  # today's ward (also in locality), for the matcher
    latitude: Mapped[float | None] = mapped_column(Float)
    longitude: Mapped[float | None] = mapped_column(Float)
    contact: Mapped[dict | None] = mapped_column(JSON)  # {"phone","email","name"}; never logged
    channel: Mapped[str] = mapped_column(String(32))
    channel_user_id: Mapped[str | None] = mapped_column(String(128))
    external_id: Mapped[str | None] = mapped_column(String(200))
    idempotency_key: Mapped[str | None] = mapped_column(String(200), unique=True)
    fingerprint: Mapped[str] = mapped_column(String(64))  # sha256 of the submitted fields
    requested_category: Mapped[str | None] = mapped_column(String(40))
    category: Mapped[str] = mapped_column(String(40), index=True)
    category_name: Mapped[str | None] = mapped_column(String(120))
    confidence: Mapped[float] = mapped_column(Float)
    needs_human: Mapped[bool] = mapped_column(Boolean, default=False)
    # Intake stored a provisional category (the lexical view was unsure); a `classify` outbox job
    # runs the semantic classifier, re-routes and only then enqueues the office delivery.
    triage_pending: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    office_id: Mapped[str | None] = mapped_column(String(80), index=True)
    office_name: Mapped[str | None] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(16), index=True)
    due_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    explanation: Mapped[str | None] = mapped_column(Text)
    is_complaint: Mapped[bool] = mapped_column(Boolean, default=False)
    notice: Mapped[str | None] = mapped_column(Text)
    media: Mapped[list | None] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)
    # The open case this report repeats (pakn.duplicates): it keeps its own code and record, is not
    # delivered on its own, follows the primary's status and hears its answer. NULL: its own case.
    primary_id: Mapped[int | None] = mapped_column(
        ForeignKey("pakn_records.id", ondelete="SET NULL", name="fk_pakn_records_primary"), index=True)

    events: Mapped[list[PaknEvent]] = relationship(
        back_populates="record", order_by="PaknEvent.id", cascade="all, delete-orphan", lazy="selectin"
    )

    def __repr__(self) -> str:  # never include content or contact
        return f"<PaknRecord {self.code} {self.status}>"


class PaknEvent(Base):
    """One entry of a petition's history: received, a status change, a reply, a delivery outcome."""

    __tablename__ = "pakn_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    record_id: Mapped[int] = mapped_column(ForeignKey("pakn_records.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(24))  # received | transition | reply | delivered | delivery_failed
    #                                  | delivery_waiting | overdue_reminder | escalated | linked | duplicate | unlinked
    from_status: Mapped[str | None] = mapped_column(String(16))
    to_status: Mapped[str | None] = mapped_column(String(16))
    actor: Mapped[str] = mapped_column(String(120))
    note: Mapped[str | None] = mapped_column(Text)
    at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    record: Mapped[PaknRecord] = relationship(back_populates="events")

    def __repr__(self) -> str:
        return f"<PaknEvent {self.kind} {self.from_status}->{self.to_status}>"


class OutboxJob(Base):
    """A unit of outgoing work (deliver to an office, push a reply to the citizen), retried until done."""

    __tablename__ = "pakn_outbox"
    __table_args__ = (Index("ix_pakn_outbox_due", "status", "next_attempt_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    kind: Mapped[str] = mapped_column(String(24))
    record_id: Mapped[int | None] = mapped_column(ForeignKey("pakn_records.id", ondelete="CASCADE"), index=True)
    payload: Mapped[dict] = mapped_column(JSON, default=dict)
    status: Mapped[str] = mapped_column(String(12), default=JOB_PENDING)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    last_error: Mapped[str | None] = mapped_column(Text)
    dedupe_key: Mapped[str] = mapped_column(String(200), unique=True)
    locked_by: Mapped[str | None] = mapped_column(String(80))
    locked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)
    done_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    def __repr__(self) -> str:
        return f"<OutboxJob {self.id} {self.kind} {self.status} attempts={self.attempts}>"


__all__ = [
    "ANSWERED",
    "CITIZEN_REPLY",
    "CLASSIFY",
    "CLOSED",
    "DELIVER_OFFICE",
    "ESCALATE",
    "FORWARDED",
    "IN_PROGRESS",
    "JOB_DEAD",
    "JOB_DONE",
    "JOB_PENDING",
    "JOB_RUNNING",
    "JOB_WAITING",
    "OVERDUE_REMINDER",
    "RECEIVED",
    "REJECTED",
    "STATUSES",
    "TRANSFERRED",
    "OutboxJob",
    "PaknEvent",
    "PaknRecord",
    "utcnow",
]
