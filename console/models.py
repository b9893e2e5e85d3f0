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
ROLES = (ROLE_ADMIN, ROLE_STAFF)

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


__all__ = [
    "DUTY_STATUS_VI",
    "ROLES",
    "ROLE_ADMIN",
    "ROLE_STAFF",
    "ConsoleSession",
    "ConsoleUser",
    "DutyProgress",
    "DutyReminder",
    "LoginAttempt",
]
