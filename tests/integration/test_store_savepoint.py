"""Nested transactions (SAVEPOINTs) behave on SQLite as on PostgreSQL."""
from __future__ import annotations

from sqlalchemy import select

from knowledge.store import ConversationRow, session_factory


def _users(url: str) -> set[str]:
    session = session_factory(url)()
    try:
        return set(session.scalars(select(ConversationRow.user_id).where(ConversationRow.channel == "sp")))
    finally:
        session.close()


def test_released_savepoint_is_undone_by_outer_rollback(db_url):
    session = session_factory(db_url)()
    try:
        with session.begin_nested():
            session.add(ConversationRow(channel="sp", user_id="released-then-rolled-back", state={}))
        session.rollback()
    finally:
        session.close()
    assert "released-then-rolled-back" not in _users(db_url)


def test_rolled_back_savepoint_keeps_the_rest(db_url):
    session = session_factory(db_url)()
    try:
        session.add(ConversationRow(channel="sp", user_id="kept", state={}))
        inner = session.begin_nested()
        session.add(ConversationRow(channel="sp", user_id="dropped", state={}))
        session.flush()
        inner.rollback()
        session.commit()
    finally:
        session.close()
    users = _users(db_url)
    assert "kept" in users and "dropped" not in users
