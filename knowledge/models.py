"""SQLAlchemy models of the knowledge store: plans, their sections and tasks, offices.

Other parts add their own tables in their own modules (PAKN, channels, conversation state)
on the same `db.Base`, so one Alembic history (db/migrations) covers the whole product.
"""
from __future__ import annotations

from datetime import date

from sqlalchemy import JSON, Date, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from db.base import Base


class PlanRow(Base):
    __tablename__ = "plans"
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    corpus_id: Mapped[str] = mapped_column(String(16))
    title: Mapped[str] = mapped_column(Text)
    kind: Mapped[str] = mapped_column(String(32))
    issuing_body: Mapped[str] = mapped_column(String(200))
    locality: Mapped[str] = mapped_column(String(120))
    province: Mapped[str] = mapped_column(String(120))
    level: Mapped[str] = mapped_column(String(16))
    decision_number: Mapped[str | None] = mapped_column(String(80))
    decision_date: Mapped[date | None] = mapped_column(Date)
    signer: Mapped[str | None] = mapped_column(String(120))
    period_start: Mapped[int] = mapped_column(Integer)
    period_end: Mapped[int] = mapped_column(Integer)
    source_sha256: Mapped[str] = mapped_column(String(64))
    meta: Mapped[dict] = mapped_column(JSON, default=dict)


class SectionRow(Base):
    __tablename__ = "plan_sections"
    id: Mapped[str] = mapped_column(String(120), primary_key=True)
    plan_id: Mapped[str] = mapped_column(ForeignKey("plans.id", ondelete="CASCADE"), index=True)
    ordinal: Mapped[int] = mapped_column(Integer)
    path: Mapped[list] = mapped_column(JSON)
    heading: Mapped[str] = mapped_column(Text)
    text: Mapped[str] = mapped_column(Text)


class TaskRow(Base):
    __tablename__ = "plan_tasks"
    __table_args__ = (UniqueConstraint("plan_id", "key"),)
    id: Mapped[str] = mapped_column(String(120), primary_key=True)
    plan_id: Mapped[str] = mapped_column(ForeignKey("plans.id", ondelete="CASCADE"), index=True)
    key: Mapped[str] = mapped_column(String(60))
    number: Mapped[str | None] = mapped_column(String(16))
    origin: Mapped[str] = mapped_column(String(16))  # table | prose
    section: Mapped[str] = mapped_column(Text)
    text: Mapped[str] = mapped_column(Text)
    product: Mapped[str | None] = mapped_column(Text)
    deadline_raw: Mapped[str | None] = mapped_column(Text)
    deadline_kind: Mapped[str | None] = mapped_column(String(24))
    deadline_start: Mapped[date | None] = mapped_column(Date)
    deadline_end: Mapped[date | None] = mapped_column(Date)
    offices: Mapped[list[TaskOfficeRow]] = relationship(
        back_populates="task", cascade="all, delete-orphan", lazy="selectin"
    )


class TaskOfficeRow(Base):
    __tablename__ = "plan_task_offices"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    task_id: Mapped[str] = mapped_column(ForeignKey("plan_tasks.id", ondelete="CASCADE"), index=True)
    office_id: Mapped[str] = mapped_column(ForeignKey("offices.id"), index=True)
    role: Mapped[str] = mapped_column(String(8))  # lead | support
    mention: Mapped[str] = mapped_column(Text)
    task: Mapped[TaskRow] = relationship(back_populates="offices")


class OfficeRow(Base):
    __tablename__ = "offices"
    id: Mapped[str] = mapped_column(String(80), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(16))  # office | group
    level: Mapped[str] = mapped_column(String(16))
    locality: Mapped[str | None] = mapped_column(String(120))
    province: Mapped[str | None] = mapped_column(String(120))
    valid_from: Mapped[date | None] = mapped_column(Date)
    valid_to: Mapped[date | None] = mapped_column(Date)
    successor_id: Mapped[str | None] = mapped_column(String(80))
    aliases: Mapped[list] = mapped_column(JSON, default=list)
    contact: Mapped[dict] = mapped_column(JSON, default=dict)

