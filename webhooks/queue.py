"""The inbox worker: an asyncio task (started in the app lifespan) that runs stored events.

How it works: the webhook stores an event and calls `notify()`; the worker wakes up (or polls
every `poll_interval_s`, which also picks up events left behind by a crash or a failed send)
and starts one drain task per person. A person's events run one after another, oldest first,
because a conversation is a sequence (a PAKN being filled in must see its steps in order);
different people run in parallel, at most `max_active` at a time. The database is the queue, so
several app processes can share it: `Inbox.claim` makes sure each event runs once. Redis is not
needed for correctness.

Why `max_active`: a burst of events from thousands of people would otherwise start thousands of
drain tasks at once. Each claims an event (starting its lease) and then waits in the same thread
pool queue as all the others, so every answer is late, leases can run out while events merely
wait (and an event could be claimed twice), and the webhook intake starves. Bounded, an event
stays `pending` — unclaimed, its lease not running — until a slot is free.

### Usage example
    worker = InboxWorker(inbox, {"zalo": zalo_adapter.process})
    await worker.start(); worker.notify(); ...; await worker.stop()
"""
from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping
from datetime import timedelta

from webhooks.inbox import Inbox, InboxEvent

log = logging.getLogger(__name__)

Processor = Callable[[InboxEvent], Awaitable[None]]
PURGE_EVERY_S = 3600.0
# People answered at the same time: enough to overlap channel API round trips; the bot itself is
# CPU-bound, so more would only queue in the thread pool.
MAX_ACTIVE = 16


class InboxWorker:
    """Drains the durable inbox with per-person ordering."""

    def __init__(self, inbox: Inbox, processors: Mapping[str, Processor], *, poll_interval_s: float = 2.0,
                 stop_grace_s: float = 5.0, retention: timedelta | None = None,
                 max_active: int = MAX_ACTIVE) -> None:
        self.inbox = inbox
        self.max_active = max(1, max_active)
        self.retention = retention
        self._last_purge = 0.0
        self.processors = dict(processors)
        self.poll_interval_s = poll_interval_s
        self.stop_grace_s = stop_grace_s
        self._wake = asyncio.Event()
        self._active: dict[tuple[str, str], asyncio.Task] = {}
        self._task: asyncio.Task | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stopping = False

    # ------------------------------------------------------------------ lifecycle
    async def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stopping = False
        self._task = asyncio.create_task(self._run(), name="inbox-worker")

    async def stop(self) -> None:
        """Stop polling; let running events finish for a short grace period, then cancel them.

        A cancelled event stays `processing` and is picked up again after its lease expires.
        """
        self._stopping = True
        self._wake.set()
        if self._task is not None:
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None
        active = list(self._active.values())
        if active:
            _done, pending = await asyncio.wait(active, timeout=self.stop_grace_s)
            for task in pending:
                task.cancel()
            await asyncio.gather(*pending, return_exceptions=True)

    def notify(self) -> None:
        """Wake the worker now (safe from the event loop and from other threads)."""
        loop = self._loop
        if loop is None:
            return
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is loop:
            self._wake.set()
        else:
            loop.call_soon_threadsafe(self._wake.set)

    async def idle(self, timeout: float = 10.0) -> None:
        """Wait until nothing is due and nothing runs (tests and graceful shutdowns use it)."""
        deadline = asyncio.get_running_loop().time() + timeout
        while True:
            due = await asyncio.to_thread(self.inbox.due, 1)
            if not due and not self._active:
                return
            if asyncio.get_running_loop().time() > deadline:
                raise TimeoutError("inbox did not drain")
            self._wake.set()
            await asyncio.sleep(0.02)

    # ------------------------------------------------------------------ loop
    async def _run(self) -> None:
        while not self._stopping:
            try:
                await self.dispatch_due()
                await self._purge_now_and_then()
            except Exception:  # the store may be briefly unavailable; keep the worker alive
                log.exception("inbox poll failed")
            try:
                await asyncio.wait_for(self._wake.wait(), timeout=self.poll_interval_s)
            except TimeoutError:
                pass
            self._wake.clear()

    async def dispatch_due(self) -> None:
        """Start a drain task for each person with a runnable event and none running yet, oldest
        event first, while fewer than `max_active` run (a finishing drain wakes the loop again)."""
        if len(self._active) >= self.max_active:
            return
        for _row_id, channel, user_key in await asyncio.to_thread(self.inbox.due):
            if len(self._active) >= self.max_active or self._stopping:
                return
            key = (channel, user_key)
            if key in self._active:
                continue
            self._active[key] = asyncio.create_task(self._drain(key), name=f"inbox-{channel}")

    async def _purge_now_and_then(self) -> None:
        """Drop finished events after the retention period (they hold messages, i.e. personal data)."""
        now = asyncio.get_running_loop().time()
        if self.retention is None or now - self._last_purge < PURGE_EVERY_S:
            return
        self._last_purge = now
        removed = await asyncio.to_thread(self.inbox.purge, self.retention)
        if removed:
            log.info("inbox purge removed %d finished events", removed)

    async def _drain(self, key: tuple[str, str]) -> None:
        channel, user_key = key
        try:
            while not self._stopping:
                event = await asyncio.to_thread(self.inbox.claim_next_for, channel, user_key)
                if event is None:
                    return
                await self._run_one(event)
        finally:
            self._active.pop(key, None)
            self._wake.set()  # an event of this person may have arrived while we were finishing

    async def _run_one(self, event: InboxEvent) -> None:
        processor = self.processors.get(event.channel)
        try:
            if processor is None:
                raise LookupError(f"no processor for channel {event.channel!r}")
            await processor(event)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # noqa: BLE001 - every failure is retried with backoff
            # Only the type, channel and event id are logged: messages may quote personal data.
            log.warning("inbox event %s/%s failed (attempt %d): %s", event.channel, event.id, event.attempts,
                        type(exc).__name__)
            await asyncio.to_thread(self.inbox.failed, event.id, event.attempts, f"{type(exc).__name__}: {exc}")
            return
        await asyncio.to_thread(self.inbox.done, event.id)
