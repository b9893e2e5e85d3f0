"""The durable inbox: store an inbound event once, claim it, remember the reply, mark it done.

Why this shape:

* **Store, then acknowledge.** `record()` is one INSERT in its own transaction; the webhook answers
  200 only after it committed, so a crash afterwards loses nothing (the worker finds the row).
* **Exactly-once by constraint.** `(channel, event_id)` is unique. A retried delivery, or two
  deliveries racing in parallel, cannot both insert: the loser gets an IntegrityError and is told
  "duplicate". No read-then-write window exists.
* **Claim by conditional UPDATE.** `claim()` moves a row `pending → processing` only if it is still
  pending (or its lease expired after a crash), so two workers never process the same event.
* **Reply kept apart from sending.** The bot's answer is stored before it is sent; if sending
  fails, the retry re-sends the stored answer instead of asking the bot again (which would advance
  the conversation twice).
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, delete, or_, select, update
from sqlalchemy.exc import IntegrityError

from knowledge.store import session_scope
from webhooks.models import DONE, FAILED, PENDING, PROCESSING, InboxEventRow, utcnow

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class InboxEvent:
    """A claimed event as the worker sees it (detached from any session)."""

    id: int
    channel: str
    event_id: str
    kind: str
    user_key: str
    payload: dict[str, Any]
    attempts: int
    reply: dict[str, Any] | None


class Inbox:
    """Inbound events in the relational store (SQLite or PostgreSQL)."""

    def __init__(self, database_url: str | None = None, *, lease_s: float = 300.0, max_attempts: int = 5,
                 base_delay_s: float = 5.0, max_delay_s: float = 600.0) -> None:
        self.url = database_url
        self.lease = timedelta(seconds=lease_s)
        self.max_attempts = max_attempts
        self.base_delay_s = base_delay_s
        self.max_delay_s = max_delay_s

    def record(self, *, channel: str, event_id: str, kind: str, user_key: str, payload: dict[str, Any]) -> bool:
        """Store a new event; False when the same `(channel, event_id)` was stored before."""
        now = utcnow()
        try:
            with session_scope(self.url) as session:
                session.add(InboxEventRow(channel=channel, event_id=event_id, kind=kind, user_key=user_key,
                                          payload=payload, status=PENDING, attempts=0, next_attempt_at=now,
                                          received_at=now))
        except IntegrityError:
            return False
        return True

    def due(self, limit: int = 100) -> list[tuple[int, str, str]]:
        """`(id, channel, user_key)` of events ready to run, oldest first (pending or lease expired)."""
        now = utcnow()
        with session_scope(self.url) as session:
            rows = session.execute(
                select(InboxEventRow.id, InboxEventRow.channel, InboxEventRow.user_key)
                .where(self._runnable(now)).order_by(InboxEventRow.id).limit(limit)
            ).all()
        return [(r[0], r[1], r[2]) for r in rows]

    def claim_next_for(self, channel: str, user_key: str) -> InboxEvent | None:
        """Claim the oldest runnable event of one person, so one person's messages run in order."""
        now = utcnow()
        with session_scope(self.url) as session:
            ids = session.scalars(
                select(InboxEventRow.id)
                .where(InboxEventRow.channel == channel, InboxEventRow.user_key == user_key, self._runnable(now))
                .order_by(InboxEventRow.id).limit(5)
            ).all()
        for event_id in ids:
            event = self.claim(event_id)
            if event is not None:
                return event
        return None

    def claim(self, row_id: int) -> InboxEvent | None:
        """Atomically take one event for processing; None if someone else holds it or it is finished."""
        now = utcnow()
        with session_scope(self.url) as session:
            result = session.execute(
                update(InboxEventRow)
                .where(InboxEventRow.id == row_id, self._runnable(now))
                .values(status=PROCESSING, locked_at=now, attempts=InboxEventRow.attempts + 1)
                .execution_options(synchronize_session=False)
            )
            if result.rowcount != 1:
                return None
            row = session.get(InboxEventRow, row_id)
            assert row is not None
            return InboxEvent(id=row.id, channel=row.channel, event_id=row.event_id, kind=row.kind,
                              user_key=row.user_key, payload=dict(row.payload), attempts=row.attempts,
                              reply=dict(row.reply) if row.reply else None)

    def save_reply(self, row_id: int, reply: dict[str, Any]) -> None:
        """Keep the bot's answer so a failed send is retried without asking the bot again."""
        with session_scope(self.url) as session:
            session.execute(update(InboxEventRow).where(InboxEventRow.id == row_id).values(reply=reply)
                            .execution_options(synchronize_session=False))

    def cached_reply(self, row_id: int) -> dict[str, Any] | None:
        with session_scope(self.url) as session:
            return session.scalar(select(InboxEventRow.reply).where(InboxEventRow.id == row_id))

    def find(self, channel: str, event_id: str) -> int | None:
        """Row id of a stored event (the Telegram handlers look their own update up by id)."""
        with session_scope(self.url) as session:
            return session.scalar(select(InboxEventRow.id).where(InboxEventRow.channel == channel,
                                                                  InboxEventRow.event_id == event_id))

    def done(self, row_id: int) -> None:
        now = utcnow()
        with session_scope(self.url) as session:
            session.execute(update(InboxEventRow).where(InboxEventRow.id == row_id)
                            .values(status=DONE, processed_at=now, locked_at=None, last_error=None)
                            .execution_options(synchronize_session=False))

    def failed(self, row_id: int, attempts: int, error: str) -> None:
        """Schedule a retry with exponential backoff, or give up after `max_attempts`."""
        now = utcnow()
        if attempts >= self.max_attempts:
            values: dict[str, Any] = {"status": FAILED, "processed_at": now}
        else:
            delay = min(self.max_delay_s, self.base_delay_s * 2 ** (attempts - 1))
            values = {"status": PENDING, "next_attempt_at": now + timedelta(seconds=delay)}
        with session_scope(self.url) as session:
            session.execute(update(InboxEventRow).where(InboxEventRow.id == row_id)
                            .values(locked_at=None, last_error=error[:2000], **values)
                            .execution_options(synchronize_session=False))

    def purge(self, older_than: timedelta) -> int:
        """Delete finished events older than `older_than`; the dedupe window is that long."""
        cutoff = utcnow() - older_than
        with session_scope(self.url) as session:
            result = session.execute(delete(InboxEventRow).where(
                InboxEventRow.status.in_((DONE, FAILED)), InboxEventRow.received_at < cutoff))
            return result.rowcount or 0

    def _runnable(self, now: datetime):
        return or_(
            and_(InboxEventRow.status == PENDING, InboxEventRow.next_attempt_at <= now),
            and_(InboxEventRow.status == PROCESSING, InboxEventRow.locked_at < now - self.lease),
        )
