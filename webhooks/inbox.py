"""The durable inbox: store an inbound event once, claim it, remember the reply, mark it done.

Why this shape:

* **Store, then acknowledge.** `record()` is one INSERT in its own transaction; the webhook answers
  200 only after it committed, so a crash afterwards loses nothing (the worker finds the row).
* **Group commit under load.** The webhooks store through `InboxWriter`: one thread owns the
  writes and puts every event that arrived meanwhile into one transaction, then wakes each waiting
  request. One commit (and one connection checkout) per batch instead of per event, no ORM unit of
  work, and no writer threads queueing on SQLite's single write lock; each request still gets its
  200 only after the commit that holds its row.
* **Exactly-once by constraint.** `(channel, event_id)` is unique and the INSERT is `ON CONFLICT
  (channel, event_id) DO NOTHING`: a retried delivery, or two deliveries racing in parallel (in one
  batch, in two processes), cannot both insert; the one that inserted nothing is told "duplicate".
  No read-then-write window exists.
* **Claim by conditional UPDATE.** `claim()` moves a row `pending → processing` only if it is still
  pending (or its lease expired after a crash), so two workers never process the same event.
* **Reply kept apart from sending.** The bot's answer is stored before it is sent; if sending
  fails, the retry re-sends the stored answer instead of asking the bot again (which would advance
  the conversation twice).
"""
from __future__ import annotations

import asyncio
import logging
import queue
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, delete, insert, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection
from sqlalchemy.exc import DataError, DBAPIError, IntegrityError

from db import session_scope, table_of
from webhooks.models import DONE, FAILED, PENDING, PROCESSING, InboxEventRow, utcnow

log = logging.getLogger(__name__)

# INSERT … ON CONFLICT (channel, event_id) DO NOTHING RETURNING channel, event_id, built once per
# dialect. Executed with a list of rows, SQLAlchemy sends it as multi-row VALUES ("insertmanyvalues");
# the keys that come back are the rows inserted, an absent key is a duplicate.
_INSERT_NEW = {
    name: module.insert(InboxEventRow.__table__).on_conflict_do_nothing(index_elements=["channel", "event_id"])
    .returning(InboxEventRow.__table__.c.channel, InboxEventRow.__table__.c.event_id)
    for name, module in (("sqlite", sqlite), ("postgresql", postgresql))
}


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
        return self.record_many([new_event(channel, event_id, kind, user_key, payload)])[0]

    def record_many(self, events: Sequence[dict[str, Any]]) -> list[bool]:
        """Store events (`new_event` values) in one transaction; per event, False for a duplicate.

        SQLite and PostgreSQL get one multi-row `INSERT … ON CONFLICT DO NOTHING RETURNING` for the
        whole batch (one round trip, whatever its size); the keys it returns are the events that
        were new. A duplicate inserts nothing and does not abort the others. One commit covers them
        all: when this returns, every True is durable.
        """
        if not events:
            return []
        with session_scope(self.url, write=True) as session:  # on SQLite: queue with the process's writers
            conn = session.connection()
            stmt = _INSERT_NEW.get(conn.dialect.name)
            if stmt is None:
                return [self._insert_one(conn, values) for values in events]
            new = {(row[0], row[1]) for row in conn.execute(stmt, list(events))}
        stored = []
        for values in events:
            key = (values["channel"], values["event_id"])
            stored.append(key in new)
            new.discard(key)  # the same event twice in one batch: the second is the duplicate
        return stored

    @staticmethod
    def _insert_one(conn: Connection, values: dict[str, Any]) -> bool:
        """Other databases: the unique constraint refuses the duplicate, inside a savepoint."""
        try:
            with conn.begin_nested():
                conn.execute(insert(table_of(InboxEventRow)), values)
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
            if getattr(result, "rowcount", 0) != 1:
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
            return getattr(result, "rowcount", 0) or 0

    def _runnable(self, now: datetime):
        return or_(
            and_(InboxEventRow.status == PENDING, InboxEventRow.next_attempt_at <= now),
            and_(InboxEventRow.status == PROCESSING, InboxEventRow.locked_at < now - self.lease),
        )


def new_event(channel: str, event_id: str, kind: str, user_key: str, payload: dict[str, Any]) -> dict[str, Any]:
    """The column values of a freshly received, pending event."""
    now = utcnow()
    return {"channel": channel, "event_id": event_id, "kind": kind, "user_key": user_key, "payload": payload,
            "status": PENDING, "attempts": 0, "next_attempt_at": now, "received_at": now}


_STOP = object()


class InboxWriter:
    """Stores webhook events for the event loop with group commit (see the module docstring).

    Why a thread of its own and not `asyncio.to_thread` per event: the default executor is shared
    with the inbox worker's bot calls, so under load an acknowledgement waited behind answers;
    and N threads each committing one row fight over SQLite's one write lock (busy-wait with
    sleeps) and pay a connection checkout, a ping and an ORM flush per row. Here one thread
    drains the queue, inserts everything waiting in one transaction and commits once.

    `record()` resolves only after the commit holding the event (True: stored, False:
    duplicate). If a batch fails because of its values (a constraint, a value that cannot be
    bound), its events are stored one by one so one bad event cannot fail the others; an event
    that still fails, or every event of a batch the database refused as a whole (unreachable),
    raises in its request, which answers 500 — and the platform retries it.

    ### Usage example
        writer = InboxWriter(inbox)          # the thread starts with the first record()
        stored = await writer.record(channel="zalo", event_id="m1", kind="user_send_text",
                                     user_key="u1", payload={...})
        writer.stop()                        # at shutdown, after the last request
    """

    def __init__(self, inbox: Inbox, *, max_batch: int = 256) -> None:
        self.inbox = inbox
        self.max_batch = max_batch
        self._queue: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self._stopped = False

    async def record(self, *, channel: str, event_id: str, kind: str, user_key: str,
                     payload: dict[str, Any]) -> bool:
        """Store one event; returns after its commit (False when it was stored before)."""
        values = new_event(channel, event_id, kind, user_key, payload)
        loop = asyncio.get_running_loop()
        future: asyncio.Future[bool] | None = loop.create_future()
        with self._lock:
            if self._stopped:  # shutting down: still store it, the plain way
                future = None
            else:
                if self._thread is None:
                    self._thread = threading.Thread(target=self._run, name="inbox-writer", daemon=True)
                    self._thread.start()
                self._queue.put((values, loop, future))
        if future is None:
            return (await asyncio.to_thread(self.inbox.record_many, [values]))[0]
        return await future

    def stop(self, timeout: float = 10.0) -> None:
        """Store what is queued, then end the thread. Final: a later `record()` stores directly."""
        with self._lock:
            self._stopped = True
            thread, self._thread = self._thread, None
            if thread is not None:
                self._queue.put(_STOP)
        if thread is not None:
            thread.join(timeout)

    def _run(self) -> None:
        while True:
            item = self._queue.get()
            if item is _STOP:
                return
            batch = [item]
            stop = False
            while len(batch) < self.max_batch:
                try:
                    more = self._queue.get_nowait()
                except queue.Empty:
                    break
                if more is _STOP:
                    stop = True
                    break
                batch.append(more)
            try:
                outcomes = self._store(batch)
            except Exception as exc:  # never let the thread die: its requests would wait forever
                log.exception("inbox writer failed")
                outcomes = [exc] * len(batch)
            self._settle(batch, outcomes)
            if stop:
                return

    def _store(self, batch: list[tuple[dict[str, Any], Any, Any]]) -> list[Any]:
        """Per event: True (stored), False (duplicate) or the exception that kept it out."""
        try:
            return self.inbox.record_many([values for values, _, _ in batch])
        except Exception as exc:  # noqa: BLE001 - every waiting request learns of it
            if len(batch) > 1 and _caused_by_one_event(exc):
                log.warning("inbox batch of %d failed (%s); storing its events one by one", len(batch),
                            type(exc).__name__)
                return [self._store_one(values) for values, _, _ in batch]
            # The database is unreachable or broken: retrying each event would only be slower.
            log.warning("inbox batch of %d failed (%s)", len(batch), type(exc).__name__)
            return [exc] * len(batch)

    def _store_one(self, values: dict[str, Any]) -> Any:
        try:
            return self.inbox.record_many([values])[0]
        except Exception as exc:  # noqa: BLE001 - reported to the request that sent it
            return exc

    @staticmethod
    def _settle(batch: list[tuple[dict[str, Any], Any, Any]], outcomes: list[Any]) -> None:
        """Hand each outcome to its request, with one wake-up per event loop and batch."""
        by_loop: dict[asyncio.AbstractEventLoop, list[tuple[asyncio.Future, Any]]] = {}
        for (_, loop, future), outcome in zip(batch, outcomes):
            by_loop.setdefault(loop, []).append((future, outcome))
        for loop, settled in by_loop.items():
            try:
                loop.call_soon_threadsafe(_settle, settled)
            except RuntimeError:  # that loop is closed: nobody waits for these any more
                pass


def _caused_by_one_event(exc: Exception) -> bool:
    """Whether a failed batch may be the fault of one event's values (then the others can succeed):
    a constraint or data error, or a value that could not even be bound (e.g. not JSON-able)."""
    return isinstance(exc, (IntegrityError, DataError)) or not isinstance(exc, DBAPIError)


def _settle(settled: list[tuple[asyncio.Future, Any]]) -> None:
    for future, outcome in settled:
        if future.done():  # the request was cancelled (client gone); its row is stored anyway
            continue
        if isinstance(outcome, BaseException):
            future.set_exception(outcome)
        else:
            future.set_result(outcome)
