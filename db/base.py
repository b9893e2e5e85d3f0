"""The declarative base every table of the product is declared on.

Why here and not in a feature package: one `Base` means one metadata and one Alembic history
(db/migrations) for the whole product, while each feature keeps its own models next to its code.
"""
from __future__ import annotations

from typing import cast

from sqlalchemy import Table
from sqlalchemy.orm import DeclarativeBase


class Base(DeclarativeBase):
    """Declarative base shared by every table of the product."""


def table_of(model: type[Base]) -> Table:
    """A mapped class's `Table`, typed as one (SQLAlchemy types `__table__` as a plain FromClause),
    for Core inserts on hot paths."""
    return cast(Table, model.__table__)
