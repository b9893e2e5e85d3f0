"""Durability: PAKN submissions over loopback while the server is killed with SIGKILL and restarted.

Issue 10 asks for proof that a crash loses nothing and doubles nothing: every acknowledged
submission is in the database exactly once, and every delivery job runs exactly once at the
office endpoint. This script (and `tests/integration/test_durability.py`, which calls `run`)
produces that proof from real processes rather than from mocks:

* a fake office endpoint (`tests/fakes/webhook_receiver.py`, a real HTTP server on 127.0.0.1)
  that verifies the HMAC signature and records every delivery with its Idempotency-Key; the
  server sends every petition there through `PAKN_DEFAULT_OFFICE_WEBHOOK_URL` (no office in the
  shipped directory has a contact of its own);
* the whole API (`durability_app`: every router and middleware) served by uvicorn in its own
  process group, on a throwaway SQLite file or a throwaway PostgreSQL database;
* the outbox worker **embedded in the API process** (`PAKN_WORKER_IN_API=true`, the default
  single-container deployment): a SIGKILL then also cuts deliveries in half — a job can be sent
  and not yet marked done — which is the case at-least-once delivery must survive. `--worker
  process` runs `python -m pakn.worker` as a second process instead (the compose deployment) and
  kills both together;
* clients that behave like real channels: 16–32 petitions in flight, each with its own
  `external_id` and `Idempotency-Key`, retried with the same key until the server answers 201
  (created) or 200 (repeat).

The server is killed with SIGKILL (whole process group) when about 1/3 and 2/3 of the
submissions are acknowledged — at the first moment after that when the endpoint has received a
delivery whose job is not yet marked done (waiting 15 s at most), so both halves of the promise
are cut mid-way — and restarted on the same port. The outbox lease is shortened
(`OUTBOX_LEASE_S`) so jobs held by a killed worker are re-run within seconds, not minutes.
After the load the script waits (bounded) until the outbox holds nothing pending or running —
`--drain-kills N` kills the server N more times while the worker catches up on the backlog, when
deliveries, not submissions, are what a crash interrupts — then stops the server, counts,
prints, and exits non-zero when an invariant is violated.

"Exactly once at the endpoint" means: each done `deliver_office` job's Idempotency-Key was
accepted exactly once by the receiver, which deduplicates by that key as the delivery contract
asks offices to. Raw POSTs can exceed the unique keys — a worker killed between "sent" and
"marked done" re-sends after its lease expires — but by at most one per crash (one worker runs
one job at a time); both numbers are printed.

    python bench/durability.py [--requests 2000] [--backend sqlite|postgresql] [--concurrency 24]
                               [--kills 2] [--drain-kills 0] [--worker embedded|process]
"""
from __future__ import annotations

import argparse
import asyncio
import os
import random
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace

import httpx
from fastapi import FastAPI
from sqlalchemy import Engine

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench._server import free_port
from bench.pakn import PETITIONS, PLACES, pg_database
from tests.fakes.webhook_receiver import WebhookReceiver

ACKED = (200, 201)
# Answers a real channel retries: the server is down or restarting, or overloaded.
RETRYABLE = frozenset({408, 425, 429, 500, 502, 503, 504})


@dataclass(frozen=True)
class Config:
    """One durability run. Defaults are the issue's: 2,000 submissions, two SIGKILLs."""

    requests: int = 2000
    backend: str = "sqlite"           # sqlite | postgresql
    concurrency: int = 24
    kills: int = 2                    # during the submissions, at about 1/3 and 2/3
    drain_kills: int = 0              # more, while the worker catches up on the backlog afterwards
    worker: str = "embedded"          # embedded (PAKN_WORKER_IN_API) | process (python -m pakn.worker)
    lease_s: float = 6.0              # OUTBOX_LEASE_S: how soon a killed worker's jobs are re-run
    outbox_concurrency: int = 8       # OUTBOX_CONCURRENCY: deliveries a worker has in flight at once
    load_timeout_s: float = 600.0     # the whole submission phase, kills and restarts included
    drain_stall_s: float = 45.0       # after the load: give up when the backlog stops shrinking this long
    drain_cap_s: float = 600.0        # ... or after this long in all
    start_timeout_s: float = 90.0     # one server start
    kill_wait_s: float = 15.0         # at a kill point, wait this long at most for a sent-not-done job
    seed: int = 10
    verbose: bool = True


@dataclass
class Submission:
    """What one client knows about its petition: the key it uses and the answers it got."""

    external_id: str
    body: dict
    attempts: int = 0
    failures: int = 0                 # connection errors and retryable statuses
    status: int | None = None         # the final status (201/200 when acknowledged)
    code: str | None = None           # tracking code of the acknowledgement


@dataclass
class Report:
    """The counts the run prints, and the invariants they must satisfy."""

    backend: str
    worker: str
    kills_planned: int = 0
    outbox_concurrency: int = 1       # deliveries in flight per worker: what one crash can leave sent-not-done
    sent: int = 0
    acknowledged: int = 0
    acked_created: int = 0            # 201 on the answered attempt
    acked_repeat: int = 0             # 200: an earlier attempt had committed but its answer was lost
    retried_submissions: int = 0      # submissions that needed more than one attempt
    failed_attempts: int = 0
    failure_kinds: dict[str, int] = field(default_factory=dict)  # e.g. ConnectError, HTTP 500
    not_acknowledged: int = 0
    kills: int = 0
    in_flight_at_kills: list[int] = field(default_factory=list)
    running_jobs_at_kills: list[int] = field(default_factory=list)  # outbox jobs claimed when killed
    sent_not_done_at_kills: list[int] = field(default_factory=list)  # ... already received by the office
    restart_s: list[float] = field(default_factory=list)
    load_s: float = 0.0
    drain_s: float = 0.0
    backlog_after_load: int = 0       # outbox jobs still open when the last submission was acknowledged
    rows: int = 0
    duplicate_rows: int = 0           # rows beyond the first per (channel, external_id)
    acked_missing: int = 0            # acknowledged, no row
    acked_code_mismatch: int = 0      # acknowledged with a code the row does not carry
    rows_never_acked: int = 0         # stored though the client never saw an acknowledgement
    bad_received_events: int = 0      # records without exactly one 'received' event
    bad_forwarded_events: int = 0     # records without exactly one transition to 'forwarded'
    records_forwarded: int = 0
    records_without_one_delivery_job: int = 0
    jobs: dict[str, dict[str, int]] = field(default_factory=dict)  # kind → status → count
    deliveries_raw: int = 0           # validly signed POSTs at the endpoint
    deliveries_unique: int = 0        # distinct Idempotency-Keys among them
    bad_signatures: int = 0
    truncated: int = 0                # requests cut off by a SIGKILL mid-send (dropped; the job retries)
    done_jobs_not_delivered: int = 0  # done deliver_office jobs whose key never reached the endpoint
    deliveries_without_done_job: int = 0
    delivered_wrong_code: int = 0     # the accepted document names another petition than the job
    drained: bool = False

    @property
    def deliveries_duplicate(self) -> int:
        return self.deliveries_raw - self.deliveries_unique

    def delivery_jobs(self, status: str) -> int:
        return self.jobs.get("deliver_office", {}).get(status, 0)

    def violations(self) -> list[str]:
        """Every broken invariant, in words; empty when the run proves durability."""
        done = self.delivery_jobs("done")
        checks: list[tuple[bool, str]] = [
            (self.kills == self.kills_planned >= 1,
             f"the server was killed {self.kills} times, {self.kills_planned} planned"),
            (self.acknowledged == self.sent,
             f"{self.sent - self.acknowledged} submissions never acknowledged"),
            (self.duplicate_rows == 0, f"{self.duplicate_rows} duplicate rows per (channel, external_id)"),
            (self.acked_missing == 0,
             f"{self.acked_missing} acknowledged submissions missing from the database"),
            (self.acked_code_mismatch == 0,
             f"{self.acked_code_mismatch} acknowledgements carry another code"),
            (self.rows == self.acknowledged,
             f"{self.rows} rows for {self.acknowledged} acknowledged submissions"),
            (self.bad_received_events == 0,
             f"{self.bad_received_events} records without exactly one 'received' event"),
            (self.drained, "the outbox did not drain in time"),
            (self.records_without_one_delivery_job == 0,
             f"{self.records_without_one_delivery_job} records without exactly one deliver_office job"),
            (done == self.rows, f"{done} deliver_office jobs done for {self.rows} records"),
            (self.delivery_jobs("dead") == 0, f"{self.delivery_jobs('dead')} deliver_office jobs dead"),
            (self.records_forwarded == self.rows, f"{self.records_forwarded}/{self.rows} records forwarded"),
            (self.bad_forwarded_events == 0,
             f"{self.bad_forwarded_events} records without exactly one 'forwarded' transition"),
            (self.bad_signatures == 0, f"{self.bad_signatures} deliveries with a bad signature"),
            (self.done_jobs_not_delivered == 0,
             f"{self.done_jobs_not_delivered} done jobs never reached the endpoint"),
            (self.deliveries_without_done_job == 0,
             f"{self.deliveries_without_done_job} keys at the endpoint match no done job"),
            (self.deliveries_unique == done,
             f"{self.deliveries_unique} unique deliveries for {done} done jobs"),
            (self.delivered_wrong_code == 0,
             f"{self.delivered_wrong_code} deliveries carry the wrong petition"),
            # A worker has at most `outbox_concurrency` deliveries in flight, so a crash can leave at
            # most that many sent and not marked done; any further re-send would be a bug (a stolen
            # lease, a double claim).
            (self.deliveries_duplicate <= self.kills * self.outbox_concurrency,
             (f"{self.deliveries_duplicate} re-sent deliveries, more than {self.kills} crashes with "
              f"{self.outbox_concurrency} deliveries in flight explain")),
        ]
        return [message for ok, message in checks if not ok]

    def lines(self) -> list[str]:
        """The printed counts, one `label: value` per line."""
        jobs = "; ".join(f"{kind} " + " ".join(f"{s}={n}" for s, n in sorted(st.items()))
                         for kind, st in sorted(self.jobs.items())) or "none"
        restarts = ", ".join(f"{s:.1f}s" for s in self.restart_s) or "-"
        rate = self.sent / self.load_s if self.load_s else 0.0
        d = self.delivery_jobs
        rows = [
            ("run", (f"{self.backend}, outbox worker {self.worker} ({self.outbox_concurrency} deliveries at once), "
                     f"server SIGKILLed {self.kills}x "
                     f"(at each kill: requests in flight {self.in_flight_at_kills}, outbox jobs running "
                     f"{self.running_jobs_at_kills}, of which sent but not marked done "
                     f"{self.sent_not_done_at_kills}; restarts took {restarts})")),
            ("submissions sent", f"{self.sent}"),
            ("acknowledged", (f"{self.acknowledged} (201 created {self.acked_created}, 200 repeat "
                              f"{self.acked_repeat}); not acknowledged {self.not_acknowledged}")),
            ("retried by clients", (f"{self.retried_submissions} submissions, {self.failed_attempts} failed "
                                    f"attempts {dict(sorted(self.failure_kinds.items()))}")),
            ("rows in pakn_records", f"{self.rows}"),
            ("duplicate rows (channel, ext id)", f"{self.duplicate_rows}"),
            ("acknowledged but missing", (f"{self.acked_missing} (acknowledged with another code "
                                          f"{self.acked_code_mismatch}; stored, never acknowledged "
                                          f"{self.rows_never_acked})")),
            ("deliver_office jobs", (f"done {d('done')}, pending {d('pending')}, running {d('running')}, "
                                     f"dead {d('dead')} (all outbox jobs: {jobs})")),
            ("records forwarded", f"{self.records_forwarded}"),
            ("deliveries at the endpoint", (f"{self.deliveries_raw} received, {self.deliveries_unique} "
                                            f"unique by Idempotency-Key, {self.deliveries_duplicate} "
                                            f"duplicates, {self.bad_signatures} bad signatures, "
                                            f"{self.truncated} cut off by a kill mid-send")),
            ("done jobs not delivered", (f"{self.done_jobs_not_delivered}; keys matching no done job "
                                         f"{self.deliveries_without_done_job}")),
            ("timings", (f"load {self.load_s:.1f}s ({rate:.1f} submissions/s), then {self.drain_s:.1f}s "
                         f"to drain {self.backlog_after_load} open outbox jobs")),
        ]
        return [f"{label + ':':34s}{value}" for label, value in rows]


# ---------------------------------------------------------------- the server under test


def durability_app() -> FastAPI:
    """The whole API (every router and middleware) whose only start-up work is the outbox worker.

    Why not `api.main:app`: its lifespan builds the chat knowledge store and retrieval index,
    unrelated to PAKN and minutes long on a fresh database; every restart after a SIGKILL would
    wait for it. The services start as in production otherwise: PAKN_WORKER_IN_API decides whether
    the embedded outbox worker runs.
    """
    from api.main import create_app

    return create_app(build_store=False, warm=False, start_channels=False)



class Server:
    """The API (and, with worker='process', a separate outbox worker), each in its own process group.

    Why process groups: SIGKILL must take everything the server started (uvicorn with several
    workers forks children), exactly like the OOM killer or a pulled container would.
    """

    def __init__(self, env: dict[str, str], worker: str, log_path: Path, start_timeout_s: float) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.worker = worker
        self.env = {**os.environ, "HF_HUB_OFFLINE": "1", **env,
                    "PAKN_WORKER_IN_API": "true" if worker == "embedded" else "false"}
        self.log_path = log_path
        self.start_timeout_s = start_timeout_s
        self.procs: list[subprocess.Popen] = []
        self.started_at = datetime.now(UTC)

    def _spawn(self, cmd: list[str]) -> subprocess.Popen:
        with open(self.log_path, "ab") as log:
            return subprocess.Popen(cmd, cwd=ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT,
                                    start_new_session=True)

    def start(self) -> float:
        """Start and wait until /healthz answers (the lifespan, hence the embedded worker, has run)."""
        t0 = time.monotonic()
        self.started_at = datetime.now(UTC)
        api = self._spawn([sys.executable, "-m", "uvicorn", "bench.durability:durability_app", "--factory",
                           "--host", "127.0.0.1", "--port", str(self.port),
                           "--log-level", "warning", "--no-access-log"])
        self.procs = [api]
        if self.worker == "process":
            self.procs.append(self._spawn([sys.executable, "-m", "pakn.worker", "--batch", "10"]))
        deadline = t0 + self.start_timeout_s
        while time.monotonic() < deadline:
            for p in self.procs:
                if p.poll() is not None:
                    raise RuntimeError(f"server process exited during start-up ({p.returncode}); "
                                       f"see {self.log_path}")
            try:
                with urllib.request.urlopen(self.url + "/healthz", timeout=1):
                    return time.monotonic() - t0
            except OSError:
                time.sleep(0.1)  # polling the condition "port answers"; nothing to wait on instead
        self.stop()
        raise RuntimeError(f"server did not start in {self.start_timeout_s:.0f}s; see {self.log_path}")

    @staticmethod
    def _signal(p: subprocess.Popen, sig: signal.Signals) -> None:
        # The group, not only its leader: children outlive a dead leader. The group id stays
        # valid until the leader is reaped by wait().
        try:
            os.killpg(p.pid, sig)
        except ProcessLookupError:
            pass

    def crash(self) -> None:
        """SIGKILL every process group: no shutdown hooks, no flushing, no lease release."""
        for p in self.procs:
            self._signal(p, signal.SIGKILL)
        for p in self.procs:
            p.wait()

    def stop(self) -> None:
        """Graceful stop (SIGTERM), escalating to SIGKILL; safe to call twice."""
        for p in self.procs:
            if p.returncode is None:
                self._signal(p, signal.SIGTERM)
        for p in self.procs:
            try:
                p.wait(20)
            except subprocess.TimeoutExpired:
                self._signal(p, signal.SIGKILL)
                p.wait()

    def log_tail(self, n: int = 40) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-n:])
        except OSError:
            return ""


# ---------------------------------------------------------------- clients and crashes


def make_submissions(n: int, run_id: str, seed: int) -> list[Submission]:
    """Realistic petitions, half with a place, each with its own key (external_id = Idempotency-Key)."""
    rnd = random.Random(seed)
    subs = []
    for i in range(n):
        ext = f"dur-{run_id}-{i:05d}"
        body = {"content": f"{rnd.choice(PETITIONS)} (phản ánh số {i + 1})", "location": rnd.choice(PLACES),
                "contact": f"09{rnd.randrange(10**8):08d}", "channel": "api", "external_id": ext}
        subs.append(Submission(ext, body))
    return subs


async def submit_all(server: Server, db_url: str, hook: WebhookReceiver, subs: list[Submission], cfg: Config,
                     report: Report, say: Callable[[str], None]) -> None:
    """Send every submission (retrying each until acknowledged) while killing the server `cfg.kills` times."""
    step = len(subs) / (cfg.kills + 1)
    thresholds = [round(step * k) for k in range(1, cfg.kills + 1)]
    kill_due = asyncio.Event()
    acked = 0
    in_flight = 0
    queue = iter(subs)
    deadline = time.monotonic() + cfg.load_timeout_s
    finished = False

    async def client(http: httpx.AsyncClient) -> None:
        nonlocal acked, in_flight
        for sub in queue:
            delay = 0.05
            while time.monotonic() < deadline:
                sub.attempts += 1
                in_flight += 1
                failure = ""
                try:
                    r = await http.post("/api/v1/pakn", json=sub.body,
                                        headers={"Idempotency-Key": sub.external_id})
                    status = r.status_code
                except httpx.HTTPError as exc:
                    status, failure = None, type(exc).__name__
                finally:
                    in_flight -= 1
                if status in ACKED:
                    sub.status, sub.code = status, r.json().get("code")
                    acked += 1
                    if thresholds and acked >= thresholds[0]:
                        thresholds.pop(0)
                        kill_due.set()
                    break
                if status is not None and status not in RETRYABLE:
                    sub.status = status  # refused for good (a 4xx): a real client would show the error
                    kind = f"HTTP {status}, not retried"
                    report.failure_kinds[kind] = report.failure_kinds.get(kind, 0) + 1
                    break
                sub.failures += 1
                kind = failure if status is None else f"HTTP {status}"
                report.failure_kinds[kind] = report.failure_kinds.get(kind, 0) + 1
                await asyncio.sleep(delay)  # retry pacing, as channels back off; not synchronisation
                delay = min(delay * 2, 0.5)

    async def chaos() -> None:
        while not finished:
            await kill_due.wait()
            kill_due.clear()
            if finished:
                return
            # Kill while the worker holds claimed jobs too, so the crash can fall between a delivery
            # being sent and being marked done — the case the dedupe key exists for. Wait for that
            # moment at most until half the way to the next kill point (or the end of the load).
            latest = acked + step / 2
            requests, running, sent_not_done = await asyncio.to_thread(
                crash_at_kill_point, server, db_url, hook, cfg.kill_wait_s, lambda: in_flight,
                lambda limit=latest: acked >= limit)
            report.kills += 1
            report.in_flight_at_kills.append(requests)
            report.running_jobs_at_kills.append(running)
            report.sent_not_done_at_kills.append(sent_not_done)
            say(f"  SIGKILL #{report.kills} at {acked} acknowledged, {requests} requests in flight, "
                f"{running} outbox jobs running, {sent_not_done} of them already received by the office")
            took = await asyncio.to_thread(server.start)
            report.restart_s.append(took)
            say(f"  restarted in {took:.1f}s")

    limits = httpx.Limits(max_connections=cfg.concurrency, max_keepalive_connections=cfg.concurrency)
    t0 = time.monotonic()
    async with httpx.AsyncClient(base_url=server.url, limits=limits, timeout=30) as http:
        chaos_task = asyncio.create_task(chaos())
        try:
            await asyncio.gather(*(client(http) for _ in range(cfg.concurrency)))
        finally:
            finished = True
            kill_due.set()
            await chaos_task
    report.load_s = time.monotonic() - t0


# ---------------------------------------------------------------- counting


def _engine(db_url: str) -> Engine:
    """A private engine (disposed by the caller), apart from the product's cached factories."""
    from db.engine import make_engine

    return make_engine(db_url)


def crash_at_kill_point(server: Server, db_url: str, hook: WebhookReceiver, timeout_s: float,
                        in_flight: Callable[[], int], give_up: Callable[[], bool]) -> tuple[int, int, int]:
    """SIGKILL the server at the worst moment for delivery: when the endpoint has accepted a
    delivery whose job is still 'running' (sent, not yet marked done) — or, failing that, after
    `timeout_s` or once `give_up()` says the load has moved on too far to wait any longer.

    Runs in a thread and kills from there the instant the condition is seen — a hop back to the
    busy event loop would give the worker time to mark the job done. Only claims made since the
    server started count: jobs a killed worker left 'running' wait for their lease to expire.
    Returns (requests in flight, running jobs, of which already accepted) at the kill.
    """
    from sqlalchemy import select

    from pakn.models import JOB_RUNNING, OutboxJob

    engine = _engine(db_url)
    deadline = time.monotonic() + timeout_s
    try:
        while True:
            with engine.connect() as conn:
                keys = list(conn.scalars(select(OutboxJob.dedupe_key).where(
                    OutboxJob.status == JOB_RUNNING, OutboxJob.locked_at >= server.started_at)))
            with hook.lock:
                sent_not_done = sum(1 for k in keys if k in hook.accepted)
            if sent_not_done or time.monotonic() > deadline or give_up():
                requests = in_flight()
                server.crash()
                return requests, len(keys), sent_not_done
            time.sleep(0.005)  # polling the condition "a delivery is sent, not yet marked done"
    finally:
        engine.dispose()


def drain(server: Server, db_url: str, hook: WebhookReceiver, cfg: Config, report: Report,
          say: Callable[[str], None]) -> None:
    """Poll until no outbox job of any kind is pending or running (classify jobs enqueue deliveries),
    killing the server `cfg.drain_kills` times while the worker catches up on the backlog.

    Bounded two ways: give up when the number of open jobs has not fallen for a lease plus
    `cfg.drain_stall_s` (so jobs a killed worker held get their chance), or after `cfg.drain_cap_s`
    in all. A slow but working worker on a loaded machine is thus waited for; a stuck one is not.
    """
    from sqlalchemy import func, select

    from pakn.models import JOB_PENDING, JOB_RUNNING, OutboxJob

    engine = _engine(db_url)
    t0 = time.monotonic()
    stall_s = cfg.lease_s + cfg.drain_stall_s
    backlog: int | None = None
    kill_at: list[float] = []
    best, best_at = None, t0
    try:
        while True:
            with engine.connect() as conn:
                open_jobs = conn.scalar(select(func.count()).select_from(OutboxJob)
                                        .where(OutboxJob.status.in_((JOB_PENDING, JOB_RUNNING)))) or 0
            now = time.monotonic()
            if backlog is None:
                backlog = report.backlog_after_load = open_jobs
                kill_at = [backlog * (1 - k / (cfg.drain_kills + 1)) for k in range(1, cfg.drain_kills + 1)]
            if open_jobs == 0:
                report.drained = True
                break
            if kill_at and open_jobs <= kill_at[0]:
                kill_at.pop(0)
                _, running, sent_not_done = crash_at_kill_point(server, db_url, hook, cfg.kill_wait_s,
                                                                lambda: 0, lambda: False)
                report.kills += 1
                report.in_flight_at_kills.append(0)
                report.running_jobs_at_kills.append(running)
                report.sent_not_done_at_kills.append(sent_not_done)
                say(f"  SIGKILL #{report.kills} while delivering the backlog ({open_jobs} open jobs), "
                    f"{running} outbox jobs running, {sent_not_done} of them already received by the office")
                report.restart_s.append(server.start())
                say(f"  restarted in {report.restart_s[-1]:.1f}s")
                best, best_at = None, time.monotonic()  # the restart is not a stall
                continue
            if best is None or open_jobs < best:
                best, best_at = open_jobs, now
            if now - best_at > stall_s or now - t0 > cfg.drain_cap_s:
                break
            time.sleep(0.2)  # polling the condition "outbox empty"
    finally:
        engine.dispose()
        report.drain_s = time.monotonic() - t0


def count(db_url: str, subs: list[Submission], hook: WebhookReceiver, report: Report) -> None:
    """Fill the report from the database and the endpoint's log."""
    from sqlalchemy import select

    from pakn.models import DELIVER_OFFICE, FORWARDED, JOB_DONE, OutboxJob, PaknEvent, PaknRecord

    engine = _engine(db_url)
    try:
        with engine.connect() as conn:
            rows = conn.execute(select(PaknRecord.id, PaknRecord.channel, PaknRecord.external_id,
                                       PaknRecord.code, PaknRecord.status)).all()
            events = conn.execute(select(PaknEvent.record_id, PaknEvent.kind, PaknEvent.to_status)).all()
            jobs = conn.execute(select(OutboxJob.kind, OutboxJob.status, OutboxJob.record_id,
                                       OutboxJob.dedupe_key)).all()
    finally:
        engine.dispose()

    # The API stores an integration's external_id in that client's namespace ("local:<id>" for the
    # keyless development client this bench is); compare the ids the clients sent.
    rows = [SimpleNamespace(**{**r._asdict(), "external_id": (r.external_id or "").split(":", 1)[-1]})
            for r in rows]
    report.rows = len(rows)
    per_key = Counter((r.channel, r.external_id) for r in rows)
    report.duplicate_rows = sum(n - 1 for n in per_key.values() if n > 1)
    codes_by_ext: dict[str, set[str]] = {}
    for r in rows:
        codes_by_ext.setdefault(r.external_id, set()).add(r.code)
    acked = [s for s in subs if s.status in ACKED]
    report.acked_missing = sum(1 for s in acked if s.external_id not in codes_by_ext)
    report.acked_code_mismatch = sum(1 for s in acked
                                     if s.code not in codes_by_ext.get(s.external_id, {s.code}))
    acked_ids = {s.external_id for s in acked}
    report.rows_never_acked = sum(1 for r in rows if r.external_id not in acked_ids)
    report.records_forwarded = sum(1 for r in rows if r.status == FORWARDED)

    received = Counter(e.record_id for e in events if e.kind == "received")
    forwarded = Counter(e.record_id for e in events if e.kind == "transition" and e.to_status == FORWARDED)
    report.bad_received_events = sum(1 for r in rows if received[r.id] != 1)
    report.bad_forwarded_events = sum(1 for r in rows if forwarded[r.id] != 1)

    for j in jobs:
        by_status = report.jobs.setdefault(j.kind, {})
        by_status[j.status] = by_status.get(j.status, 0) + 1
    delivery_jobs = [j for j in jobs if j.kind == DELIVER_OFFICE]
    per_record = Counter(j.record_id for j in delivery_jobs)
    report.records_without_one_delivery_job = sum(1 for r in rows if per_record[r.id] != 1)
    code_of_record = {r.id: r.code for r in rows}
    done_keys = {j.dedupe_key: code_of_record.get(j.record_id) for j in delivery_jobs if j.status == JOB_DONE}

    with hook.lock:
        valid = [r for r in hook.requests if r["valid"]]
        report.bad_signatures = hook.bad_signatures
        report.truncated = hook.truncated
        accepted = dict(hook.accepted)
    report.deliveries_raw = len(valid)
    report.deliveries_unique = len({r["key"] for r in valid})
    report.done_jobs_not_delivered = sum(1 for k in done_keys if k not in accepted)
    report.deliveries_without_done_job = sum(1 for k in accepted if k not in done_keys)
    report.delivered_wrong_code = sum(1 for k, doc in accepted.items()
                                      if k in done_keys and doc.get("code") != done_keys[k])


# ---------------------------------------------------------------- one run


def run(cfg: Config) -> Report:
    """Start endpoint and server, submit while killing, drain, count. Everything started is stopped."""
    say: Callable[[str], None] = print if cfg.verbose else (lambda _m: None)
    from db import migrate

    tmp = Path(tempfile.mkdtemp(prefix="pakn-durability-"))
    clean = False  # keep the server log (and SQLite file) of a failed or violated run
    drop: Callable[[], None] | None = None
    if cfg.backend == "sqlite":
        db_url = f"sqlite:///{tmp / 'durability.db'}"
    elif cfg.backend == "postgresql":
        db_url, drop = pg_database()
    else:
        raise ValueError(f"unknown backend {cfg.backend!r}")
    report = Report(backend=cfg.backend, worker=cfg.worker, kills_planned=cfg.kills + cfg.drain_kills,
                    outbox_concurrency=cfg.outbox_concurrency)
    secret = secrets.token_hex(16)
    server: Server | None = None
    try:
        migrate(db_url)
        with WebhookReceiver(secret) as hook:
            env = {
                "DATABASE_URL": db_url,
                "EMBEDDING_BACKEND": "none",            # lexical triage: keeps two cores for the run itself
                "RATE_LIMIT_PER_MINUTE": "0",
                # The generated petitions repeat a few templates; linked duplicates are not delivered
                # on their own, and this run counts one delivery per acknowledged petition.
                "PAKN_DUPLICATES": "false",
                "WEBHOOK_HMAC_SECRET": secret,
                "PAKN_DEFAULT_OFFICE_WEBHOOK_URL": hook.url,
                # A short lease so jobs a killed worker held are re-run within seconds; longer than the
                # delivery timeout below, so a live worker's job is never taken from it.
                "OUTBOX_LEASE_S": str(cfg.lease_s),
                "OUTBOX_CONCURRENCY": str(cfg.outbox_concurrency),
                "DELIVERY_TIMEOUT_S": str(max(1.0, cfg.lease_s / 3)),
                "DELIVERY_BASE_DELAY_S": "0.5",
                "DELIVERY_MAX_DELAY_S": "5",
                "WORKER_POLL_INTERVAL_S": "0.3",
            }
            server = Server(env, cfg.worker, tmp / "server.log", cfg.start_timeout_s)
            say(f"PAKN durability: {cfg.requests} submissions, {cfg.concurrency} in flight, "
                f"{cfg.kills} SIGKILLs during submissions and {cfg.drain_kills} during delivery, "
                f"{cfg.backend}, outbox worker {cfg.worker}, {os.cpu_count()} CPU(s)")
            server.start()
            subs = make_submissions(cfg.requests, uuid.uuid4().hex[:8], cfg.seed)
            asyncio.run(submit_all(server, db_url, hook, subs, cfg, report, say))
            report.sent = len(subs)
            report.acknowledged = sum(1 for s in subs if s.status in ACKED)
            report.acked_created = sum(1 for s in subs if s.status == 201)
            report.acked_repeat = sum(1 for s in subs if s.status == 200)
            report.not_acknowledged = report.sent - report.acknowledged
            report.retried_submissions = sum(1 for s in subs if s.attempts > 1)
            report.failed_attempts = sum(s.failures for s in subs)
            say(f"  load done in {report.load_s:.1f}s; waiting for the outbox to drain")
            drain(server, db_url, hook, cfg, report, say)
            server.stop()
            count(db_url, subs, hook, report)
        clean = not report.violations()
        if not clean:
            say(f"--- server log tail ({server.log_path}) ---\n{server.log_tail()}")
        return report
    finally:
        if server is not None:
            server.stop()
        if drop is not None:
            drop()
        if clean:
            shutil.rmtree(tmp, ignore_errors=True)
        else:
            say(f"server log and SQLite file (if any) kept in {tmp}")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--requests", type=int, default=2000)
    ap.add_argument("--backend", choices=["sqlite", "postgresql"], default="sqlite")
    ap.add_argument("--concurrency", type=int, default=24)
    ap.add_argument("--kills", type=int, default=2, help="SIGKILLs during the submissions")
    ap.add_argument("--drain-kills", type=int, default=0,
                    help="further SIGKILLs while the worker delivers the backlog after the submissions")
    ap.add_argument("--worker", choices=["embedded", "process"], default="embedded",
                    help="outbox worker inside the API process (default) or as `python -m pakn.worker`")
    args = ap.parse_args(argv)
    report = run(Config(requests=args.requests, backend=args.backend, concurrency=args.concurrency,
                        kills=args.kills, drain_kills=args.drain_kills, worker=args.worker))
    print("\n".join(report.lines()))
    problems = report.violations()
    if problems:
        print("INVARIANTS VIOLATED:\n  " + "\n  ".join(problems))
        return 1
    print("all invariants hold: every acknowledged submission stored exactly once; every delivery job done "
          "exactly once and accepted exactly once by Idempotency-Key at the endpoint")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
