"""`python -m pakn.worker`: the long-running outbox worker (deliveries to offices, replies to citizens).

Run one or more of these next to the API; they coordinate through the database (see
`pakn.outbox.claim`), so scaling out is starting another process. SIGTERM/SIGINT finish the
current batch and exit, so a deploy never cuts a delivery in half (and if it does, the lease
and the dedupe key cover it).
"""
from __future__ import annotations

import argparse
import logging
import os
import signal
import socket
import threading
import uuid
from datetime import datetime

from pakn.models import utcnow
from pakn.outbox import RunStats, drain, run_once
from settings import get_settings

log = logging.getLogger("pakn.worker")


class Worker:
    """A polling loop around `run_once`, stoppable from another thread or a signal."""

    def __init__(self, database_url: str | None = None, *, worker_id: str | None = None, batch: int | None = None,
                 poll_interval_s: float | None = None) -> None:
        from db import session_factory

        self.factory = session_factory(database_url)
        self.worker_id = worker_id or f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"
        self.batch = batch or get_settings().outbox_batch
        self.poll_interval_s = poll_interval_s if poll_interval_s is not None else get_settings().worker_poll_interval_s
        self.stopping = threading.Event()
        self.totals = RunStats()
        self.last_sweep: datetime | None = None

    def sweep_overdue(self) -> None:
        """Enqueue reminders/escalations for overdue petitions, every `overdue_sweep_interval_s`
        (idempotent, so several workers sweeping is harmless; see pakn.escalation)."""
        from pakn.escalation import enqueue_overdue, sweep_due

        now = utcnow()
        if not sweep_due(self.last_sweep, now, get_settings().overdue_sweep_interval_s):
            return
        self.last_sweep = now
        try:
            enqueue_overdue(self.factory, now=now)
        except Exception:  # a broken data file or a database hiccup must not stop deliveries
            log.exception("pakn overdue sweep failed")

    def stop(self, *_args: object) -> None:
        """Ask the loop to exit after the current batch."""
        self.stopping.set()

    def run_forever(self) -> RunStats:
        """Poll until stopped; a full batch is followed immediately by the next one."""
        log.info("pakn worker started", extra={"worker_id": self.worker_id})
        while not self.stopping.is_set():
            self.sweep_overdue()
            try:
                stats = run_once(self.factory, worker_id=self.worker_id, limit=self.batch)
            except Exception:  # database restart, lock timeout: wait and try again
                log.exception("pakn worker batch failed")
                stats = RunStats()
            self.totals += stats
            if stats.claimed < self.batch:
                self.stopping.wait(self.poll_interval_s)
        log.info("pakn worker stopped", extra={"worker_id": self.worker_id})
        return self.totals

    def start_thread(self) -> threading.Thread:
        """Run the loop in a daemon thread (embedded in the API process or in tests)."""
        t = threading.Thread(target=self.run_forever, name=f"pakn-worker-{self.worker_id}", daemon=True)
        t.start()
        return t


def main(argv: list[str] | None = None) -> int:
    """Command-line entry: `python -m pakn.worker [--once] [--batch N] [--database-url URL]`."""
    parser = argparse.ArgumentParser(prog="python -m pakn.worker", description="Gửi PAKN đến cơ quan và trả lời người dân")
    parser.add_argument("--once", action="store_true", help="chạy hết việc đến hạn rồi thoát")
    parser.add_argument("--batch", type=int, default=None, help="việc nhận mỗi lượt (mặc định OUTBOX_BATCH)")
    parser.add_argument("--database-url", default=None)
    parser.add_argument("--migrate", action="store_true", help="nâng cấp cơ sở dữ liệu trước khi chạy")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    url = args.database_url or get_settings().database_url
    if args.migrate:
        from db import migrate

        migrate(url)
    _load_channel_senders()
    worker = Worker(url, batch=args.batch)
    if args.once:
        worker.sweep_overdue()
        stats = drain(worker.factory, worker_id=worker.worker_id)
        print(f"claimed={stats.claimed} done={stats.done} retried={stats.retried} dead={stats.dead}")
        return 0
    signal.signal(signal.SIGTERM, worker.stop)
    signal.signal(signal.SIGINT, worker.stop)
    worker.run_forever()
    return 0


def _load_channel_senders() -> None:
    """Let channel adapters register their push senders in this process too.

    The API registers them at start-up; the worker is a separate process, so it imports the
    modules named in PAKN_SENDER_MODULES (comma-separated), each of which calls
    `pakn.notify.register_sender` on import.
    """
    import importlib

    for name in filter(None, (m.strip() for m in os.environ.get("PAKN_SENDER_MODULES", "").split(","))):
        try:
            importlib.import_module(name)
        except Exception:
            log.exception("could not load sender module %s", name)


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
