"""The outbox worker's core: claim due jobs, run them outside any transaction, record the outcome.

Why this shape:

* **Safe claiming for concurrent workers.** PostgreSQL: `SELECT … FOR UPDATE SKIP LOCKED` so
  workers never wait on or double-take each other's rows. SQLite (one writer at a time): a single
  `UPDATE … WHERE id IN (…) AND status='pending' RETURNING id`, atomic by construction.
* **A lease, not a lock, while running.** Network I/O happens with no transaction open; the job
  row says `running` with `locked_by/locked_at`. A worker that dies leaves the lease to expire
  (`settings.outbox_lease_s`), after which another worker re-runs the job — with the same
  dedupe key, so receivers that honour it do not see a second delivery.
* **Exponential backoff with jitter** (tenacity's `wait_exponential_jitter`), dead-lettering after
  `settings.delivery_max_attempts`; permanent errors (4xx from a webhook) go dead at once.
* **Waiting, for replies no channel message may carry now.** Zalo accepts a consultation message
  only for a while after the citizen's last message (`webhooks/zalo_window.py`); an office reply
  days later may have no allowed message type at all. Retrying on a timer cannot help and would
  dead-letter the reply, so the sender's `DeliveryDeferred` parks the job as `waiting` (never
  claimed). The citizen's next message calls `release_waiting`, which makes it due again, once:
  the conditional UPDATE lets only one release win, and the worker's claim runs it once.

Logs carry job ids, kinds and tracking codes only.
"""
from __future__ import annotations

import logging
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Self

import tenacity
from sqlalchemy import and_, or_, select, update
from sqlalchemy.orm import Session, sessionmaker

from db.engine import factory_write_gate
from pakn.errors import DeliveryDeferred, DeliveryError
from pakn.models import (
    CITIZEN_REPLY,
    CLASSIFY,
    DELIVER_OFFICE,
    ESCALATE,
    FORWARDED,
    JOB_DEAD,
    JOB_DONE,
    JOB_PENDING,
    JOB_RUNNING,
    JOB_WAITING,
    OVERDUE_REMINDER,
    RECEIVED,
    TRANSFERRED,
    OutboxJob,
    PaknEvent,
    PaknRecord,
    utcnow,
)
from settings import get_settings

log = logging.getLogger(__name__)


@dataclass
class RunStats:
    """What one `run_once` did."""

    claimed: int = 0
    done: int = 0
    retried: int = 0
    dead: int = 0
    skipped: int = 0
    waiting: int = 0

    def __iadd__(self, other: RunStats) -> Self:
        for f in ("claimed", "done", "retried", "dead", "skipped", "waiting"):
            setattr(self, f, getattr(self, f) + getattr(other, f))
        return self


@dataclass(frozen=True)
class Outcome:
    ok: bool
    note: str | None = None
    error: str | None = None
    permanent: bool = False
    skipped: bool = False
    waiting: bool = False  # no message type may reach the citizen now: park the job
    result: object | None = None  # what a `classify` job computed, applied in `_finish`


def backoff_seconds(attempts: int) -> float:
    """Delay before the next attempt after `attempts` failures: base·2^(n-1) + jitter, capped."""
    s = get_settings()
    wait = tenacity.wait_exponential_jitter(initial=s.delivery_base_delay_s, max=s.delivery_max_delay_s,
                                            exp_base=2, jitter=s.delivery_base_delay_s / 2)
    state = tenacity.RetryCallState(retry_object=None, fn=None, args=(), kwargs={})  # type: ignore[arg-type]
    state.attempt_number = max(1, attempts)
    return float(wait(state))


def _due(now: datetime, lease_s: float):
    return or_(
        and_(OutboxJob.status == JOB_PENDING, OutboxJob.next_attempt_at <= now),
        and_(OutboxJob.status == JOB_RUNNING, OutboxJob.locked_at < now - timedelta(seconds=lease_s)),
    )


def claim(factory: sessionmaker[Session], worker_id: str, *, limit: int = 10, now: datetime | None = None,
          kinds: tuple[str, ...] | None = None) -> list[int]:
    """Atomically take up to `limit` due jobs for `worker_id`; returns their ids."""
    now = now or utcnow()
    lease = get_settings().outbox_lease_s
    cond = _due(now, lease)
    if kinds:
        cond = and_(cond, OutboxJob.kind.in_(kinds))
    values = {"status": JOB_RUNNING, "locked_by": worker_id, "locked_at": now, "attempts": OutboxJob.attempts + 1,
              "updated_at": now}
    with factory_write_gate(factory), factory() as session, session.begin():
        if session.get_bind().dialect.name == "postgresql":
            ids = list(session.scalars(
                select(OutboxJob.id).where(cond).order_by(OutboxJob.next_attempt_at, OutboxJob.id)
                .limit(limit).with_for_update(skip_locked=True)))
            if ids:
                session.execute(update(OutboxJob).where(OutboxJob.id.in_(ids)).values(**values)
                                .execution_options(synchronize_session=False))
            return ids
        sub = select(OutboxJob.id).where(cond).order_by(OutboxJob.next_attempt_at, OutboxJob.id).limit(limit)
        stmt = (update(OutboxJob).where(OutboxJob.id.in_(sub.scalar_subquery()), cond).values(**values)
                .returning(OutboxJob.id).execution_options(synchronize_session=False))
        return sorted(session.scalars(stmt))


def _execute(factory: sessionmaker[Session], job_id: int) -> Outcome:
    """Run one claimed job; no transaction is held during network I/O."""
    from pakn import delivery, notify

    with factory() as session:
        job = session.get(OutboxJob, job_id)
        if job is None:
            return Outcome(ok=False, error="job vanished", permanent=True)
        kind, payload, key = job.kind, dict(job.payload or {}), job.dedupe_key
        record = session.get(PaknRecord, job.record_id) if job.record_id else None
        if kind in (DELIVER_OFFICE, CLASSIFY, OVERDUE_REMINDER, ESCALATE) and record is None:
            return Outcome(ok=False, error="record missing", permanent=True)
        if kind == DELIVER_OFFICE and record is not None and payload.get("office_id") != record.office_id:
            return Outcome(ok=True, skipped=True, note="superseded by transfer")  # transferred since enqueued
        if record is not None:
            session.expunge(record)
        session.rollback()  # end the read transaction before any I/O
    try:
        if kind == CLASSIFY and record is not None:
            return _classify(record)
        if kind == DELIVER_OFFICE and record is not None:
            with factory() as session:  # office lookup may read the offices table
                route = delivery.deliver_to_office(session, record, key)
            return Outcome(ok=True, note=route)
        if kind in (OVERDUE_REMINDER, ESCALATE) and record is not None:
            from pakn import escalation

            with factory() as session:  # office lookup may read the offices table
                sent, route = escalation.deliver(session, kind, record, payload, key)
            return Outcome(ok=True, note=route, skipped=not sent)
        if kind == CITIZEN_REPLY:
            via = notify.push(payload.get("channel", ""), payload.get("user_id"), citizen_text(payload),
                              code=payload.get("code"))
            return Outcome(ok=True, note=via or "no push channel")
        return Outcome(ok=False, error=f"unknown job kind {kind}", permanent=True)
    except DeliveryDeferred as exc:
        return Outcome(ok=False, error=f"waiting: {str(exc)[:480]}", waiting=True)
    except DeliveryError as exc:
        return Outcome(ok=False, error=str(exc)[:500], permanent=exc.permanent)
    except Exception as exc:  # a bug or an unexpected library error: retry, keep only the type
        log.exception("outbox job %s crashed", job_id)
        return Outcome(ok=False, error=f"unexpected {type(exc).__name__}")


def citizen_text(payload: dict) -> str:
    """The message of a `citizen_reply` job. A reply that waited for the citizen to write again says
    so, since days may have passed and it arrives in the middle of another conversation."""
    if payload.get("waited") and payload.get("reply"):
        office = f" ({payload['office']})" if payload.get("office") else ""
        return f"Cơ quan đã trả lời phản ánh {payload.get('code', '')} của bạn{office}: {payload['reply']}"
    return payload.get("text", "")


def release_waiting(factory: sessionmaker[Session], channel: str, user_id: str, *,
                    now: datetime | None = None) -> int:
    """The citizen wrote on `channel`: their waiting replies become due now. Returns how many.

    Each job moves with `UPDATE … WHERE status='waiting'`, so concurrent releases (two messages
    processed at once) move it once; attempts start afresh, the waiting time was not a failure.
    """
    now = now or utcnow()
    cond = and_(OutboxJob.status == JOB_WAITING, OutboxJob.kind == CITIZEN_REPLY,
                OutboxJob.payload["channel"].as_string() == channel,
                OutboxJob.payload["user_id"].as_string() == str(user_id))
    with factory() as session:  # the common case, nothing waits, costs no write (nor SQLite's write lock)
        ids = list(session.scalars(select(OutboxJob.id).where(cond)))
    if not ids:
        return 0
    with factory_write_gate(factory), factory() as session, session.begin():
        result = session.execute(update(OutboxJob).where(OutboxJob.id.in_(ids), cond)
                                 .values(status=JOB_PENDING, next_attempt_at=now, attempts=0, updated_at=now)
                                 .execution_options(synchronize_session=False))
        return getattr(result, "rowcount", 0) or 0


def _classify(record: PaknRecord) -> Outcome:
    """Run the full (semantic) triage of a provisionally stored petition, dated from its receipt."""
    from pakn.triage import triage

    if not record.triage_pending:
        return Outcome(ok=True, skipped=True, note="already classified")
    return Outcome(ok=True, result=triage(record.content, record.location, now=record.created_at))


def _finish(factory: sessionmaker[Session], job_id: int, worker_id: str, outcome: Outcome, now: datetime) -> str:
    """Record the outcome if this worker still holds the lease; returns the job's new status."""
    s = get_settings()
    with factory_write_gate(factory), factory() as session, session.begin():
        stmt = select(OutboxJob).where(OutboxJob.id == job_id)
        if session.get_bind().dialect.name == "postgresql":
            stmt = stmt.with_for_update()
        job = session.scalars(stmt).first()
        if job is None or job.status != JOB_RUNNING or job.locked_by != worker_id:
            log.warning("outbox job %s: lease lost, outcome discarded", job_id)
            return "lost"
        job.locked_by = job.locked_at = None
        job.updated_at = now
        record = session.get(PaknRecord, job.record_id) if job.record_id else None
        if outcome.ok:
            job.status, job.done_at, job.last_error = JOB_DONE, now, None
            if job.kind == CITIZEN_REPLY and outcome.note:  # how it went out: the console shows it
                job.payload = {**(job.payload or {}), "via": outcome.note}
            if job.kind == DELIVER_OFFICE and record is not None and not outcome.skipped \
                    and record.status in (RECEIVED, TRANSFERRED):
                record.events.append(PaknEvent(kind="transition", from_status=record.status, to_status=FORWARDED,
                                               actor="system:outbox", at=now,
                                               note=f"Đã chuyển đến {record.office_name or 'cơ quan xử lý'} "
                                                    f"{outcome.note or ''}".strip()))
                record.status, record.updated_at = FORWARDED, now
            if job.kind == CLASSIFY and record is not None and outcome.result is not None:
                from pakn.service import apply_classification

                apply_classification(session, record, outcome.result, now)
            log.info("outbox job done", extra={"job_id": job_id, "kind": job.kind,
                                               "pakn_code": record.code if record else None})
            return JOB_DONE
        job.last_error = outcome.error
        if outcome.waiting:
            first = not (job.payload or {}).get("waited")
            job.status = JOB_WAITING
            job.payload = {**(job.payload or {}), "waited": True}
            if record is not None and first:
                record.events.append(PaknEvent(kind="delivery_waiting", actor="system:outbox", at=now,
                                               note="Chưa gửi được trả lời: kênh của người dân chỉ cho phép nhắn "
                                                    "trong một thời gian sau tin nhắn cuối của họ. Hệ thống sẽ "
                                                    "gửi khi người dân nhắn tin lại."))
            log.info("outbox job waiting for the citizen", extra={"job_id": job_id, "kind": job.kind,
                                                                  "error": outcome.error})
            return JOB_WAITING
        if outcome.permanent or job.attempts >= s.delivery_max_attempts:
            job.status = JOB_DEAD
            if record is not None:
                what = {DELIVER_OFFICE: "chuyển đến cơ quan xử lý", OVERDUE_REMINDER: "gửi nhắc hạn đến cơ quan",
                        ESCALATE: "báo cáo cơ quan cấp trên"}.get(job.kind, "gửi trả lời đến người dân")
                record.events.append(PaknEvent(kind="delivery_failed", actor="system:outbox", at=now,
                                               note=f"Chưa {what} được sau {job.attempts} lần thử; "
                                                    "cán bộ sẽ xử lý thủ công."))
            log.error("outbox job dead", extra={"job_id": job_id, "kind": job.kind, "attempts": job.attempts,
                                                "error": outcome.error})
            return JOB_DEAD
        job.status = JOB_PENDING
        job.next_attempt_at = now + timedelta(seconds=backoff_seconds(job.attempts))
        log.warning("outbox job retry", extra={"job_id": job_id, "kind": job.kind, "attempts": job.attempts,
                                               "error": outcome.error})
        return JOB_PENDING


def run_once(factory: sessionmaker[Session] | None = None, *, worker_id: str = "worker", limit: int = 10,
             now: datetime | None = None, clock: Callable[[], datetime] | None = None,
             kinds: tuple[str, ...] | None = None, concurrency: int | None = None) -> RunStats:
    """Claim and run one batch of due jobs (of `kinds`, default all), up to `concurrency` at a time
    (default `settings.outbox_concurrency`): deliveries wait on mail and web servers, so one slow
    office must not hold up the rest. `now` (claiming) and `clock` (outcomes) are for tests."""
    from db import session_factory

    factory = factory or session_factory()
    stats = RunStats()
    ids = claim(factory, worker_id, limit=limit, now=now, kinds=kinds)
    stats.claimed = len(ids)

    def run(job_id: int) -> tuple[str, Outcome]:
        outcome = _execute(factory, job_id)
        finished_at = (clock() if clock else None) or now or utcnow()
        return _finish(factory, job_id, worker_id, outcome, finished_at), outcome

    workers = max(1, min(concurrency or get_settings().outbox_concurrency, len(ids)))
    if workers == 1:
        results = [run(job_id) for job_id in ids]
    else:
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="outbox") as pool:
            results = list(pool.map(run, ids))
    for status, outcome in results:
        if status == JOB_DONE:
            stats.done += 1
            stats.skipped += int(outcome.skipped)
        elif status == JOB_DEAD:
            stats.dead += 1
        elif status == JOB_PENDING:
            stats.retried += 1
        elif status == JOB_WAITING:
            stats.waiting += 1
    return stats


def drain(factory: sessionmaker[Session] | None = None, *, worker_id: str = "worker", now: datetime | None = None,
          max_batches: int = 100) -> RunStats:
    """Run batches until nothing is due (tests, `python -m pakn.worker --once`)."""
    total = RunStats()
    for _ in range(max_batches):
        stats = run_once(factory, worker_id=worker_id, now=now)
        total += stats
        if stats.claimed == 0:
            break
    return total


__all__ = ["RunStats", "backoff_seconds", "citizen_text", "claim", "drain", "release_waiting", "run_once"]
