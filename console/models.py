"""Tables of the staff console: accounts, server-side sessions, login attempts, duty progress, reminders.

Why server-side sessions rather than a self-contained signed cookie: an admin who disables an
account, or a user who logs out, must end the session at once; a row that can be deleted does that,
a stateless cookie cannot. The cookie only carries a random token (signed, so tampering is
rejected before any database lookup) and the table stores its SHA-256, so a leaked database does
not hand out live sessions.

Duty progress is append-only: every update is a new row, the newest per (task, office) is the
current state, and the older ones are the history an inspector may ask for.
"""
from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import JSON, Boolean, Date, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from db import Base
from pakn.models import UTCDateTime, utcnow

ROLE_ADMIN = "admin"
ROLE_STAFF = "staff"
# A staff member of an office who may also upload, approve and publish catalogue imports.
ROLE_EDITOR = "editor"
ROLES = (ROLE_ADMIN, ROLE_STAFF, ROLE_EDITOR)
ROLE_VI = {ROLE_ADMIN: "Quản trị viên", ROLE_STAFF: "Cán bộ", ROLE_EDITOR: "Cán bộ biên tập danh mục TTHC"}
# Roles allowed to change the procedure catalogue (upload an export, approve, publish, reject).
CATALOGUE_ROLES = frozenset({ROLE_ADMIN, ROLE_EDITOR})

# Duty progress statuses and their Vietnamese labels (shown in the console and the dashboard).
DUTY_STATUS_VI: dict[str, str] = {
    "not_started": "Chưa thực hiện",
    "in_progress": "Đang thực hiện",
    "done": "Đã hoàn thành",
    "blocked": "Gặp vướng mắc",
}


class ConsoleUser(Base):
    """A staff account. Staff belong to one office; an admin may have none and sees every office."""

    __tablename__ = "console_users"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    email: Mapped[str] = mapped_column(String(200), unique=True)  # stored lower-case
    display_name: Mapped[str | None] = mapped_column(String(120))
    office_id: Mapped[str | None] = mapped_column(String(80), index=True)
    role: Mapped[str] = mapped_column(String(8), default=ROLE_STAFF)
    password_hash: Mapped[str] = mapped_column(String(255))
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)
    last_login_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    sessions: Mapped[list[ConsoleSession]] = relationship(back_populates="user", cascade="all, delete-orphan")

    @property
    def is_admin(self) -> bool:
        return self.role == ROLE_ADMIN

    def __repr__(self) -> str:
        return f"<ConsoleUser {self.id} {self.role} {self.office_id}>"


class ConsoleSession(Base):
    """A logged-in browser. `id` is the SHA-256 of the cookie's token; `csrf_token` guards every POST."""

    __tablename__ = "console_sessions"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("console_users.id", ondelete="CASCADE"), index=True)
    csrf_token: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    user: Mapped[ConsoleUser] = relationship(back_populates="sessions", lazy="joined")


class LoginAttempt(Base):
    """One login attempt, kept for the rate limit (per e-mail and per client address)."""

    __tablename__ = "console_login_attempts"
    __table_args__ = (Index("ix_console_login_attempts_email_at", "email", "at"),
                      Index("ix_console_login_attempts_ip_at", "ip", "at"))

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    email: Mapped[str] = mapped_column(String(200))
    ip: Mapped[str] = mapped_column(String(64))
    success: Mapped[bool] = mapped_column(Boolean, default=False)
    at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class DutyProgress(Base):
    """An office's progress report on one plan task (append-only; newest row is current)."""

    __tablename__ = "console_duty_progress"
    __table_args__ = (Index("ix_console_duty_progress_office_task", "office_id", "task_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    task_id: Mapped[str] = mapped_column(String(120))
    office_id: Mapped[str] = mapped_column(String(80))
    status: Mapped[str] = mapped_column(String(16))
    note: Mapped[str | None] = mapped_column(Text)
    updated_by: Mapped[str] = mapped_column(String(200))
    at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class DutyReminder(Base):
    """One day's reminder to one office; the unique key makes the daily job safe to re-run."""

    __tablename__ = "console_duty_reminders"
    __table_args__ = (UniqueConstraint("office_id", "day", name="uq_console_duty_reminders_office_day"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    office_id: Mapped[str] = mapped_column(String(80))
    day: Mapped[date] = mapped_column(Date)
    task_ids: Mapped[list] = mapped_column(JSON, default=list)
    route: Mapped[str | None] = mapped_column(String(40))  # webhook | email | telegram | none
    status: Mapped[str] = mapped_column(String(12))  # sent | failed | skipped
    error: Mapped[str | None] = mapped_column(Text)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class CatalogueImport(Base):
    """One uploaded export of the national TTHC database and what happened to it.

    `diff` is the whole diff shown to the reviewer (JSON, see knowledge.tthc_diff), kept even after
    publishing so "what did the import of 3 March change" has an answer. `status`: pending until an
    approver publishes or rejects it; `superseded` when the catalogue changed under it before review.
    """

    __tablename__ = "catalogue_imports"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    filename: Mapped[str] = mapped_column(String(200))
    file_sha256: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(12), default="pending", index=True)
    full_export: Mapped[bool] = mapped_column(Boolean, default=False)
    counts: Mapped[dict] = mapped_column(JSON, default=dict)
    diff: Mapped[dict] = mapped_column(JSON, default=dict)
    skipped: Mapped[list] = mapped_column(JSON, default=list)
    uploaded_by: Mapped[str] = mapped_column(String(200))
    uploaded_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    decided_by: Mapped[str | None] = mapped_column(String(200))
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    note: Mapped[str | None] = mapped_column(Text)

    revisions: Mapped[list[CatalogueRevision]] = relationship(back_populates="batch",
                                                               order_by="CatalogueRevision.id")


class CatalogueRevision(Base):
    """One procedure's change inside an import: the history of a procedure is its revisions.

    `before_yaml` / `after_yaml` are the file's text before and after (None for an added / removed
    procedure), so any published state can be read back or restored by hand.
    """

    __tablename__ = "catalogue_revisions"
    __table_args__ = (Index("ix_catalogue_revisions_procedure_at", "procedure_id", "created_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    batch_id: Mapped[int] = mapped_column(ForeignKey("catalogue_imports.id", ondelete="CASCADE"), index=True)
    procedure_id: Mapped[str] = mapped_column(String(120))
    code: Mapped[str | None] = mapped_column(String(16))
    name: Mapped[str] = mapped_column(Text)
    kind: Mapped[str] = mapped_column(String(8))  # added | changed | removed
    status: Mapped[str] = mapped_column(String(12), default="pending")  # pending | published | rejected | superseded
    fields: Mapped[list] = mapped_column(JSON, default=list)
    before_yaml: Mapped[str | None] = mapped_column(Text)
    after_yaml: Mapped[str | None] = mapped_column(Text)
    created_by: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    decided_by: Mapped[str | None] = mapped_column(String(200))
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    batch: Mapped[CatalogueImport] = relationship(back_populates="revisions")


__all__ = [
    "CATALOGUE_ROLES",
    "DUTY_STATUS_VI",
    "ROLES",
    "ROLE_ADMIN",
    "ROLE_EDITOR",
    "ROLE_STAFF",
    "ROLE_VI",
    "CatalogueImport",
    "CatalogueRevision",
    "ConsoleSession",
    "ConsoleUser",
    "DutyProgress",
    "DutyReminder",
    "LoginAttempt",
]
