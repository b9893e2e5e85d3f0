"""The conversation state table: the dialogue's memory per (channel, user), owned by `bot/`.

Its migration stays in the product's one history (db/migrations, revision 0001).
"""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, DateTime, String, func
from sqlalchemy.orm import Mapped, mapped_column

from db.base import Base


class ConversationRow(Base):
    """Conversation state per (channel, user); survives restarts."""

    __tablename__ = "conversations"
    channel: Mapped[str] = mapped_column(String(32), primary_key=True)
    user_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    state: Mapped[dict] = mapped_column(JSON, default=dict)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
