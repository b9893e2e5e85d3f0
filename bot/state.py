"""Conversation state per (channel, user), persisted in the store so a restart loses nothing.

The state is a small JSON document: what the last turn was about (intent, offices, plans,
procedure, field) so a follow-up resolves against it, and any pending flow (a clarification
question, a PAKN being filled in). It expires after `TTL` of silence.
"""
from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

from sqlalchemy import delete, select

from knowledge.store import ConversationRow, session_scope

TTL = timedelta(minutes=30)


class StateStore:
    """Read and write conversation state in the relational store."""

    def __init__(self, database_url: str | None = None) -> None:
        self.url = database_url

    def load(self, channel: str, user_id: str) -> dict[str, Any]:
        with session_scope(self.url) as session:
            row = session.scalar(select(ConversationRow).where(
                ConversationRow.channel == channel, ConversationRow.user_id == user_id))
            if row is None:
                return {}
            updated = row.updated_at if row.updated_at.tzinfo else row.updated_at.replace(tzinfo=timezone.utc)
            if datetime.now(timezone.utc) - updated > TTL:
                return {}
            return dict(row.state or {})

    def save(self, channel: str, user_id: str, state: dict[str, Any]) -> None:
        with session_scope(self.url) as session:
            row = session.get(ConversationRow, (channel, user_id))
            if row is None:
                row = ConversationRow(channel=channel, user_id=user_id)
                session.add(row)
            row.state = state
            row.updated_at = datetime.now(timezone.utc)

    def forget(self, channel: str, user_id: str) -> None:
        with session_scope(self.url) as session:
            session.execute(delete(ConversationRow).where(
                ConversationRow.channel == channel, ConversationRow.user_id == user_id))
