"""The product's relational store (SQLAlchemy 2; SQLite by default, PostgreSQL in production).

It belongs to no feature: engine and sessions (`db.engine`), the declarative `Base` (`db.base`),
shared column types (`db.types`) and the one Alembic history (`db/migrations`). Features keep
their own models (knowledge/models.py, bot/models.py, pakn/models.py, …) on this `Base`.
"""
from db.base import Base, table_of
from db.engine import make_engine, migrate, session_factory, session_scope

__all__ = ["Base", "make_engine", "migrate", "session_factory", "session_scope", "table_of"]
