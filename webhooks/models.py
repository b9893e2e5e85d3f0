"""Tables of the channel layer: the durable inbox of webhook events, the Zalo token pair and each
person's last interaction.

Why an inbox table: Zalo and Telegram want a 2xx within seconds and retry otherwise. The webhook
writes the event here (one INSERT) and answers at once; a worker answers the person later. A
crash between the two loses nothing, because the row is still `pending`. The unique key
`(channel, event_id)` is the deduplication: a retried or concurrently repeated delivery of the same
event cannot insert a second row, so it is processed exactly once.

Why a token table: Zalo refresh tokens are single-use. The new pair must be durable before the
old one is forgotten, or a crash right after a refresh would lock the OA out.

Why an interaction table: Zalo accepts a consultation message only within a window after the
person's last message (see `webhooks/zalo_window.py`). Office replies come days later, from
another process (the PAKN outbox), so the time of the last verified message must be durable and
shared; the inbox cannot serve, it is purged and holds every event kind.
"""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Index, Integer, PrimaryKeyConstraint, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from db import Base
from db.types import UTCDateTime, utcnow

# Inbox statuses.
PENDING = "pending"
PROCESSING = "processing"
DONE = "done"
FAILED = "failed"




class InboxEventRow(Base):
    """One inbound webhook event, stored before it is acknowledged; processed by the inbox worker."""

    __tablename__ = "channel_inbox"
    __table_args__ = (
        UniqueConstraint("channel", "event_id", name="uq_channel_inbox_event"),
        Index("ix_channel_inbox_due", "status", "next_attempt_at"),
        Index("ix_channel_inbox_user", "channel", "user_key"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    channel: Mapped[str] = mapped_column(String(32))
    event_id: Mapped[str] = mapped_column(String(200))  # Zalo msg_id, Telegram update_id, ...
    kind: Mapped[str] = mapped_column(String(64))  # event name, e.g. user_send_text
    user_key: Mapped[str] = mapped_column(String(128))  # the person; events of one person run in order
    payload: Mapped[dict] = mapped_column(JSON)
    status: Mapped[str] = mapped_column(String(16), default=PENDING)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    locked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    reply: Mapped[dict | None] = mapped_column(JSON)  # the bot's answer, kept so a retry only re-sends it
    last_error: Mapped[str | None] = mapped_column(Text)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    processed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class ZaloTokenRow(Base):
    """The current Zalo OA access/refresh token pair, one row per app."""

    __tablename__ = "zalo_tokens"

    app_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    access_token: Mapped[str] = mapped_column(Text)
    refresh_token: Mapped[str] = mapped_column(Text)
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class ChannelInteractionRow(Base):
    """When a person last wrote to us on a channel (from verified webhook events only), and how many
    consultation messages went out since (Zalo's per-interaction quota, when one is configured)."""

    __tablename__ = "channel_interactions"
    __table_args__ = (PrimaryKeyConstraint("channel", "user_id", name="pk_channel_interactions"),)

    channel: Mapped[str] = mapped_column(String(32))
    user_id: Mapped[str] = mapped_column(String(128))
    last_interaction_at: Mapped[datetime] = mapped_column(UTCDateTime())
    cs_sent: Mapped[int] = mapped_column(Integer, default=0)  # cs messages sent since last_interaction_at
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
