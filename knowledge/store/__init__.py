"""The product's relational store (SQLAlchemy 2; SQLite by default, PostgreSQL in production)."""
from knowledge.store.db import make_engine, migrate, session_factory, session_scope
from knowledge.store.models import (
    Base,
    ConversationRow,
    OfficeRow,
    PlanRow,
    SectionRow,
    TaskOfficeRow,
    TaskRow,
)

__all__ = [
    "Base", "ConversationRow", "OfficeRow", "PlanRow", "SectionRow", "TaskOfficeRow", "TaskRow",
    "make_engine", "migrate", "session_factory", "session_scope",
]
