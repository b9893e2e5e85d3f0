"""Conversation state per (channel, user), persisted in the store so a restart loses nothing.

The state is a small JSON document: what the last turn was about (intent, offices, plans,
procedure, field) so a follow-up resolves against it, and any pending flow (a clarification
question, a PAKN being filled in). It expires after `TTL` of silence.
"""
from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from bot.models import ConversationRow
from db import session_scope, table_of

TTL = timedelta(minutes=30)


class StateStore:
    """Read and write conversation state in the relational store."""

    def __init__(self, database_url: str | None = None) -> None:
        self.url = database_url

    def load(self, channel: str, user_id: str) -> dict[str, Any]:
        with session_scope(self.url) as session:
            row = session.execute(select(ConversationRow.state, ConversationRow.updated_at).where(
                ConversationRow.channel == channel, ConversationRow.user_id == user_id)).first()
        if row is None:
            return {}
        state, updated = row
        updated = updated if updated.tzinfo else updated.replace(tzinfo=UTC)
        if datetime.now(UTC) - updated > TTL:
            return {}
        return dict(state or {})

    def save(self, channel: str, user_id: str, state: dict[str, Any]) -> None:
        """Upsert: two first messages of one user arriving together must not collide on the key."""
        with session_scope(self.url, write=True) as session:
            dialect = session.get_bind().dialect.name
            insert = pg_insert if dialect == "postgresql" else sqlite_insert
            now = datetime.now(UTC)
            stmt = insert(table_of(ConversationRow)).values(channel=channel, user_id=user_id, state=state,
                                                           updated_at=now)
            stmt = stmt.on_conflict_do_update(index_elements=["channel", "user_id"],
                                              set_={"state": stmt.excluded.state, "updated_at": now})
            session.execute(stmt)

    def forget(self, channel: str, user_id: str) -> None:
        with session_scope(self.url) as session:
            session.execute(delete(ConversationRow).where(
                ConversationRow.channel == channel, ConversationRow.user_id == user_id))
