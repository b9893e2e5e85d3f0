"""Load: /api/v1/chat and the channel webhooks under concurrent load over loopback (issue 10).

Starts the real app (`api.main:app`) with uvicorn on a free 127.0.0.1 port (`bench._server`), rate
limits lifted, then for each target keeps `--concurrency` keep-alive connections busy for
`--seconds` and prints requests, successes, throughput, p50/p95 latency and the CPU the server and
the load generator used. Goal (issue 10): ≥ 200 chat answers/s and ≥ 500 acknowledged webhooks/s
on 2 cores.

    python bench/load.py [--seconds 20] [--concurrency 32] [--target chat,zalo,telegram] [--questions fresh|pool]
                         [--inbox-worker off|on] [--workers 1] [--access-log] [--profile DIR [--profile-gil]]

* chat — by default every request a question never sent before (`FreshQuestions`: a question or
  turn of tests/data/eval/*.jsonl rewritten as people type it), so no per-text cache flatters the
  number; `--questions pool` sends the evaluation questions verbatim, repeating. A random user out
  of a few thousand per request; a success is a 200 whose `reply` is not empty. Afterwards the
  bench reads `retrieval_dense_queries_total` from /metrics (summed over the server processes) and
  prints how many questions were embedded, cached, BM25-decisive or shed over the embedding budget.
* zalo — `user_send_text` events signed like Zalo signs them (`tests.fakes.zalo_api.signed`),
  a unique `msg_id` each; telegram — updates with the secret-token header and a unique
  `update_id`. A success is an acknowledged 200 (`accepted`). Afterwards the bench reads the inbox
  table and counts the acknowledged events that really have a durable row, then re-posts a few
  acknowledged events byte for byte (a platform retry) and checks they are answered `duplicate`
  and add no row.

Why the load generator is aiohttp and not httpx: client and server share the same two cores, and
every millisecond the client spends is taken from the server; aiohttp's C parser costs a fraction
of httpx's per request. The client's CPU time is printed so the share it took is visible.

Why `--inbox-worker off` is the default: the webhook's promise is the acknowledgement (the event
is durable); answering is asynchronous by design and, with the worker inside the API process,
the bot's answers compete with intake for the same cores — at 500 events/s the worker could never
keep up anyway. `off` starts the real app with only the inbox worker's start replaced by a no-op
(`inbox_paused_app`), so the number is the intake path alone (like `bench/pakn.py` switches off
the PAKN outbox worker); `on` runs it unchanged, answering every event and sending the replies to
a fake Zalo API in a subprocess.

`--workers N` runs N uvicorn processes like docker/prestart.sh (the store is built first, as there);
`--access-log` runs uvicorn at log level info, i.e. with one JSON access-log line per request as
`make demo` and docker do (off by default, like the other benches); `--profile DIR` records a
py-spy profile of the server per target (`-f raw`, collapsed stacks), `--profile-gil` only of
the thread holding the GIL. Server warnings and errors logged during a target are summarised.

The knowledge store and retrieval index: a fresh throwaway SQLite database per run unless
DATABASE_URL is set (it builds in about a second); the dense index (CHROMA_PATH, INDEX_DIR, by
default the product's var/chroma and var/index, as `make demo` builds them) is reused when it was
built before — a cold build takes about two minutes on two cores, so build it once with
`python -m knowledge build`.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import re
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from bench._server import api_process, cpu_seconds, free_port, stop_process
from bench.answers import load_cases

ZALO_APP_ID = "4567890123"
TELEGRAM_TOKEN = "123456:BENCH-TOKEN"
CHAT_GOAL, WEBHOOK_GOAL = 200, 500
TARGETS = ("chat", "zalo", "telegram")
RETRIES_CHECKED = 25
EXCEPTION_LINE = re.compile(r"^[A-Za-z_][\w.]*(Error|Exception)\b")  # "sqlite3.IntegrityError: …" in a traceback
USERS = 5000


def inbox_paused_app() -> Any:
    """The real app with the inbox worker not started (`--inbox-worker off`; uvicorn `--factory`).

    Webhooks still store and acknowledge every event exactly as in production; nothing answers
    them, so the measurement is the intake path alone.
    """
    from webhooks.queue import InboxWorker

    async def start_paused(self: InboxWorker) -> None:
        self._loop = None  # notify() becomes a no-op; stop() finds no task

    InboxWorker.start = start_paused  # type: ignore[method-assign]
    from api.main import app

    return app


# ---------------------------------------------------------------- requests


def questions() -> list[str]:
    """Every distinct question text of the evaluation sets (single questions and each turn)."""
    seen: dict[str, None] = {}
    for case in load_cases(None):
        for text in case.get("turns") or [case.get("q")]:
            if isinstance(text, str) and text.strip():
                seen.setdefault(text.strip(), None)
    return list(seen)


OPENERS = ("", "", "", "cho mình hỏi ", "cho em hỏi ", "ad ơi ", "xin hỏi ", "chào bạn, ", "hỏi chút: ")
CLOSERS = ("", "", "", " ạ", " với", " nhé", " vậy", "?", " ??", " ad", " được không")


class FreshQuestions:
    """Each call returns a question never sent before in this run, written the ways people write it.

    A question of the evaluation sets, with each word's accents dropped or kept at random (phone
    keyboards), abbreviations from the lexicon put in at random ("tthc", "ubnd"), lower-cased at
    random, and a chat-style opener and closer. No two texts repeat, so the server's per-text caches
    only help where its own normalisation (accent restoration, abbreviation rewriting) maps two
    spellings to one query — as it would for real users.
    """

    def __init__(self, texts: list[str], rng: random.Random) -> None:
        from retrieval.normalize import lexicon_entries
        from vntext import fold

        self.texts, self.rng, self.fold = texts, rng, fold
        self.seen: set[str] = set()
        self.abbreviations = [(e.canonical, e.variants[0]) for e in lexicon_entries() if e.scope == "both"]

    def __call__(self) -> str:
        for _ in range(50):
            text = self.variant(self.rng.choice(self.texts))
            if text not in self.seen:
                self.seen.add(text)
                return text
        raise RuntimeError("could not make a new question variant")

    def variant(self, text: str) -> str:
        rng = self.rng
        for canonical, short in self.abbreviations:
            if canonical in text.lower() and rng.random() < 0.5:
                text = re.sub(re.escape(canonical), short, text, flags=re.IGNORECASE)
        mode = rng.random()  # all accents, none, or word by word
        words = [w if (mode < 0.3 or (mode < 0.7 and rng.random() < 0.5)) else self.fold(w) for w in text.split()]
        text = " ".join(words)
        if rng.random() < 0.5:
            text = text.lower()
        return f"{rng.choice(OPENERS)}{text.rstrip('?')}{rng.choice(CLOSERS)}"


Request = tuple[bytes, dict[str, str], str | None]  # body, headers, event id (webhooks)


@dataclass
class Target:
    """How to make the n-th request of one target and judge its answer."""

    name: str
    path: str
    build: Callable[[int], Request]
    ok: Callable[[int, bytes], bool]
    goal: int
    accepted: list[str] = field(default_factory=list)  # event ids acknowledged as new (webhooks)
    retries: list[tuple[bytes, dict[str, str]]] = field(default_factory=list)  # first requests, re-posted


def chat_target(rng: random.Random, texts: list[str], run_id: str, fresh: FreshQuestions | None) -> Target:
    headers = {"Content-Type": "application/json"}

    def build(n: int) -> Request:
        text = fresh() if fresh is not None else rng.choice(texts)
        body = {"user_id": f"load-{run_id}-{rng.randrange(USERS)}", "text": text, "channel": "api"}
        return json.dumps(body, ensure_ascii=False).encode(), headers, None

    def answered(status: int, raw: bytes) -> bool:
        if status != 200:
            return False
        reply = json.loads(raw).get("reply")
        return isinstance(reply, str) and bool(reply.strip())

    return Target("chat", "/api/v1/chat", build, answered, CHAT_GOAL)


def zalo_target(rng: random.Random, texts: list[str], run_id: str, oa_secret: str) -> Target:
    """Signed the way Zalo signs (the helper the tests use), so the real signature check runs."""
    from tests.fakes.zalo_api import signed, zalo_event

    def build(n: int) -> Request:
        user = str(2_000_000_000_000_000_000 + rng.randrange(USERS))
        msg_id = f"{run_id}-{n}"
        event = zalo_event("user_send_text", user, app_id=ZALO_APP_ID, text=rng.choice(texts), msg_id=msg_id)
        raw, headers = signed(event, oa_secret)
        return raw, headers, msg_id

    return Target("zalo", "/webhooks/zalo", build, _acknowledged, WEBHOOK_GOAL)


def telegram_target(rng: random.Random, texts: list[str], secret: str) -> Target:
    base = rng.randrange(10**9, 2 * 10**9)
    headers = {"Content-Type": "application/json", "X-Telegram-Bot-Api-Secret-Token": secret}

    def build(n: int) -> Request:
        chat = 700_000_000 + rng.randrange(USERS)
        update = {"update_id": base + n, "message": {
            "message_id": n + 1, "date": int(time.time()), "text": rng.choice(texts),
            "chat": {"id": chat, "type": "private", "first_name": "Dân"},
            "from": {"id": chat, "is_bot": False, "first_name": "Dân"}}}
        return json.dumps(update, ensure_ascii=False).encode(), headers, str(base + n)

    return Target("telegram", "/webhooks/telegram", build, _acknowledged, WEBHOOK_GOAL)


def _acknowledged(status: int, raw: bytes) -> bool:
    return status == 200 and json.loads(raw).get("status") == "accepted"


# ---------------------------------------------------------------- load loop


@dataclass
class Result:
    requests: int = 0
    ok: int = 0
    seconds: float = 0.0
    latencies: list[float] = field(default_factory=list)
    statuses: Counter = field(default_factory=Counter)
    server_cpu_s: float = 0.0
    client_cpu_s: float = 0.0


async def drive(url: str, target: Target, seconds: float, concurrency: int, pid: int) -> Result:
    """`concurrency` loops, each posting on its own keep-alive connection until the deadline."""
    result = Result()
    counter = iter(range(10**9))
    connector = aiohttp.TCPConnector(limit=concurrency, force_close=False)
    timeout = aiohttp.ClientTimeout(total=60)
    async with aiohttp.ClientSession(url, connector=connector, timeout=timeout) as session:
        # A few requests first, so every connection is open before the clock starts.
        await asyncio.gather(*(one(session, target, next(counter), Result()) for _ in range(concurrency)))
        cpu0, ccpu0, t0 = cpu_seconds(pid), time.process_time(), time.perf_counter()
        deadline = t0 + seconds

        async def loop() -> None:
            while time.perf_counter() < deadline:
                await one(session, target, next(counter), result)

        await asyncio.wait_for(asyncio.gather(*(loop() for _ in range(concurrency))), seconds + 90)
        result.seconds = time.perf_counter() - t0
        result.server_cpu_s = cpu_seconds(pid) - cpu0
        result.client_cpu_s = time.process_time() - ccpu0
    return result


async def one(session: aiohttp.ClientSession, target: Target, n: int, result: Result) -> None:
    raw, headers, event_id = target.build(n)
    if event_id is not None and len(target.retries) < RETRIES_CHECKED:
        target.retries.append((raw, headers))
    t = time.perf_counter()
    try:
        async with session.post(target.path, data=raw, headers=headers) as response:
            body = await response.read()
            status = response.status
    except (aiohttp.ClientError, TimeoutError) as exc:
        result.requests += 1
        result.statuses[type(exc).__name__] += 1
        return
    result.latencies.append(time.perf_counter() - t)
    result.requests += 1
    result.statuses[status] += 1
    try:
        good = target.ok(status, body)
    except ValueError:
        good = False
    if good:
        result.ok += 1
        if event_id is not None:
            target.accepted.append(event_id)


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * (len(ordered) - 1) + 0.5))] * 1000 if ordered else float("nan")


# ---------------------------------------------------------------- durability checks


def statuses(database_url: str, channel: str, since: datetime) -> dict[str, int]:
    """Inbox rows of `channel` since `since` by status: how far the inbox worker got (`on`)."""
    from sqlalchemy import func, select

    from db import session_scope
    from webhooks.models import InboxEventRow

    with session_scope(database_url) as session:
        return dict(session.execute(select(InboxEventRow.status, func.count()).where(
            InboxEventRow.channel == channel, InboxEventRow.received_at >= since).group_by(InboxEventRow.status)).all())


def durable_ids(database_url: str, channel: str, since: datetime) -> set[str]:
    """Event ids of the inbox rows of `channel` received since `since` (what survived the 200)."""
    from sqlalchemy import select

    from db import session_scope
    from webhooks.models import InboxEventRow

    with session_scope(database_url) as session:
        return set(session.scalars(select(InboxEventRow.event_id).where(
            InboxEventRow.channel == channel, InboxEventRow.received_at >= since)))


async def repost(url: str, target: Target) -> Counter:
    """Post the first requests again, byte for byte, as a platform retry would."""
    answers: Counter = Counter()
    async with aiohttp.ClientSession(url) as session:
        for raw, headers in target.retries:
            async with session.post(target.path, data=raw, headers=headers) as response:
                body = await response.read()
            answers[json.loads(body).get("status") if response.status == 200 else response.status] += 1
    return answers


# ---------------------------------------------------------------- server


def prepare_store(env: dict[str, str]) -> None:
    """Migrate and build the store before several server processes start, as docker/prestart.sh does:
    every process migrates in its lifespan, and on a fresh database they would race."""
    print("building the knowledge store first (several server processes) …", flush=True)
    subprocess.run([sys.executable, "-m", "knowledge", "build"], cwd=ROOT, env={**os.environ, **env},
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True, timeout=900)


@contextmanager
def fake_zalo(port: int) -> Iterator[None]:
    """The fake Zalo API (tests/fakes) in its own process, so the worker's sends succeed (`on`)."""
    proc = subprocess.Popen([sys.executable, "-m", "tests.fakes.zalo_api", "--port", str(port), "--app-id",
                             ZALO_APP_ID], cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 20
        while True:  # until it listens, so the worker's first sends do not fail
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("the fake Zalo API did not start") from None
                time.sleep(0.1)
        yield
    finally:
        stop_process(proc, 5)


@contextmanager
def profiler(pid: int, out: Path | None, seconds: float, gil: bool = False) -> Iterator[None]:
    """py-spy on the server while a target runs (raw collapsed stacks), when `--profile` is given.

    `gil`: sample only the thread holding the GIL — where the Python CPU goes, without threads that
    merely wait (py-spy cannot always tell a thread blocked in C from a running one).
    """
    if out is None:
        yield
        return
    spy = shutil.which("py-spy", path=str(Path(sys.executable).parent)) or shutil.which("py-spy")
    if spy is None:
        raise SystemExit("--profile needs py-spy")
    proc = subprocess.Popen([spy, "record", "-p", str(pid), "-f", "raw", "-o", str(out), "-r", "100",
                             "-d", str(int(seconds) + 2), "--nonblocking", "--subprocesses", *(["--gil"] if gil else [])],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        yield
    finally:
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.terminate()
            proc.wait(5)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=20)
    ap.add_argument("--concurrency", type=int, default=32)
    ap.add_argument("--target", default="chat,zalo,telegram",
                    help="comma-separated: chat, zalo, telegram (a repeated target runs again on the same server)")
    ap.add_argument("--inbox-worker", choices=("off", "on"), default="off")
    ap.add_argument("--profile", type=Path, help="record a py-spy profile of the server per target into DIR")
    ap.add_argument("--profile-gil", action="store_true", help="with --profile: sample only the GIL holder")
    ap.add_argument("--access-log", action="store_true", help="run uvicorn at --log-level info (access log on)")
    ap.add_argument("--workers", type=int, default=1, help="uvicorn worker processes (docker runs 2)")
    ap.add_argument("--questions", choices=("fresh", "pool"), default="fresh",
                    help="chat: fresh = every text new, written as people type (default); "
                         "pool = the evaluation questions verbatim, repeating")
    ap.add_argument("--seed", type=int, default=10)
    a = ap.parse_args()
    targets = [t.strip() for t in a.target.split(",") if t.strip()]
    if unknown := [t for t in targets if t not in TARGETS]:
        raise SystemExit(f"unknown target(s): {', '.join(unknown)}")
    a.seconds = min(a.seconds, 120.0)  # a bounded run, whatever is asked
    rng = random.Random(a.seed)
    texts = questions()
    rng.shuffle(texts)
    fresh = FreshQuestions(texts, random.Random(a.seed + 1)) if a.questions == "fresh" else None
    run_id = secrets.token_hex(4)
    oa_secret, tg_secret = secrets.token_hex(16), secrets.token_hex(16)

    with ExitStack() as stack:
        tmp = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="load-bench-")))
        database_url = os.environ.get("DATABASE_URL") or f"sqlite:///{tmp / 'load.db'}"
        zalo_base = f"http://127.0.0.1:{free_port()}"  # nothing listens there unless the fake is started
        if a.inbox_worker == "on":
            stack.enter_context(fake_zalo(int(zalo_base.rsplit(":", 1)[1])))
        env = {"DATABASE_URL": database_url, "RATE_LIMIT_PER_MINUTE": "0", "RATE_LIMIT_PER_IP_PER_MINUTE": "0",
               "ZALO_APP_ID": ZALO_APP_ID, "ZALO_OA_SECRET_KEY": oa_secret, "ZALO_APP_SECRET_KEY": "app-secret",
               "ZALO_ACCESS_TOKEN": "access-1", "ZALO_REFRESH_TOKEN": "refresh-1",
               "ZALO_API_BASE": zalo_base, "ZALO_OAUTH_BASE": zalo_base,
               "TELEGRAM_TOKEN": TELEGRAM_TOKEN, "TELEGRAM_SECRET_TOKEN": tg_secret,
               "TELEGRAM_API_BASE": f"http://127.0.0.1:{free_port()}/bot",
               "PROMETHEUS_MULTIPROC_DIR": str(tmp / "prometheus")}
        (tmp / "prometheus").mkdir()
        app, args = ("api.main:app", []) if a.inbox_worker == "on" else ("bench.load:inbox_paused_app", ["--factory"])
        if a.workers > 1:
            args.extend(["--workers", str(a.workers)])
            prepare_store(env)
        print(f"starting {app} (database {database_url.split('://')[0]}, inbox worker {a.inbox_worker}) …",
              flush=True)
        t = time.perf_counter()
        log_path = tmp / "server.log"
        log = stack.enter_context(log_path.open("wb"))
        try:
            url, proc = stack.enter_context(api_process(env, timeout_s=600, app=app, args=args, log=log,
                                                        log_level="info" if a.access_log else "warning"))
        except RuntimeError:
            sys.stderr.write(log_path.read_text(errors="replace")[-4000:])
            raise
        print(f"server ready in {time.perf_counter() - t:.1f} s at {url}; {os.cpu_count()} CPUs "
              f"(usable {len(os.sched_getaffinity(0))}), load average {os.getloadavg()[0]:.2f}; "
              f"{len(texts)} distinct questions; {a.workers} server process(es), concurrency {a.concurrency}, "
              f"{a.seconds:.0f} s per target", flush=True)
        if a.profile:
            a.profile.mkdir(parents=True, exist_ok=True)
        for i, name in enumerate(targets):
            if name == "chat":
                target = chat_target(rng, texts, run_id, fresh)
            elif name == "zalo":
                target = zalo_target(rng, texts, run_id, oa_secret)
            else:
                target = telegram_target(rng, texts, tg_secret)
            since = datetime.now(UTC).replace(microsecond=0)
            out = a.profile / (f"{name}.txt" if targets.count(name) == 1 else f"{name}-{i + 1}.txt") \
                if a.profile else None
            offset = log_path.stat().st_size
            dense_before = dense_outcomes(url) if name == "chat" else None
            with profiler(proc.pid, out, a.seconds, a.profile_gil):
                r = asyncio.run(drive(url, target, a.seconds, a.concurrency, proc.pid))
            report(target, r)
            if dense_before is not None:
                report_dense(dense_before, dense_outcomes(url))
            server_problems(log_path, offset)
            if name != "chat":
                check_durable(url, target, database_url, since)


def dense_outcomes(url: str) -> Counter:
    """`retrieval_dense_queries_total` by outcome, summed over the server processes (the bench sets
    PROMETHEUS_MULTIPROC_DIR, as docker/prestart.sh does)."""
    from prometheus_client.parser import text_string_to_metric_families

    with urllib.request.urlopen(url + "/metrics", timeout=30) as response:
        text = response.read().decode()
    counts: Counter = Counter()
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == "retrieval_dense_queries_total":
                counts[sample.labels["outcome"]] += int(sample.value)
    return counts


def report_dense(before: Counter, after: Counter) -> None:
    d = after - before
    undecided = d["embedded"] + d["cached"] + d["shed"]
    shed = f"{d['shed'] / undecided:.0%}" if undecided else "–"
    print(f"{'':8s} dense path: embedded {d['embedded']}, cached {d['cached']}, skipped as BM25 was decisive "
          f"{d['decisive']}, shed over the embedding budget {d['shed']} ({shed} of the questions that wanted it)",
          flush=True)


def report(target: Target, r: Result) -> None:
    rate = r.ok / r.seconds if r.seconds else 0.0
    what = "answers" if target.name == "chat" else "acknowledged"
    statuses = ", ".join(f"{k}: {v}" for k, v in sorted(r.statuses.items(), key=lambda kv: str(kv[0])))
    verdict = "met" if rate >= target.goal else "MISSED"
    print(f"{target.name:8s} requests {r.requests}, {what} {r.ok} ({statuses}) in {r.seconds:.1f} s → "
          f"{rate:.0f} {what}/s (goal ≥ {target.goal}: {verdict}); latency p50 {pct(r.latencies, 0.5):.0f} ms, "
          f"p95 {pct(r.latencies, 0.95):.0f} ms; CPU server {r.server_cpu_s / r.seconds:.2f} cores, "
          f"load generator {r.client_cpu_s / r.seconds:.2f} cores", flush=True)


def server_problems(log_path: Path, offset: int, shown: int = 5) -> None:
    """The server's warnings and errors logged while a target ran (counted; the first kinds shown)."""
    with log_path.open("rb") as f:
        f.seek(offset)
        lines = [line.decode("utf-8", "replace").rstrip() for line in f]
    kinds: Counter = Counter()
    for line in lines:
        try:
            record = json.loads(line)
        except ValueError:
            if line.startswith(("ERROR", "WARNING", "CRITICAL")):
                kinds[line[:200]] += 1
            continue
        if isinstance(record, dict) and record.get("level") in ("WARNING", "ERROR", "CRITICAL"):
            tail = [x for x in (record.get("exc_info") or "").splitlines() if EXCEPTION_LINE.match(x)][-1:]
            kinds[" | ".join([f"{record['level']} {record.get('logger')}: {record.get('message', '')}".strip(),
                              *tail])[:300]] += 1
    if kinds:
        print(f"{'':8s} server logged {sum(kinds.values())} warnings/errors meanwhile:", flush=True)
        for text, n in kinds.most_common(shown):
            print(f"{'':10s}{n} × {text}", flush=True)


def check_durable(url: str, target: Target, database_url: str, since: datetime) -> None:
    stored = durable_ids(database_url, target.name, since)
    acked = set(target.accepted)
    missing = len(acked - stored)
    retried = asyncio.run(repost(url, target))
    after = durable_ids(database_url, target.name, since)
    extra = len(after) - len(stored)
    print(f"{'':8s} durable inbox rows for acknowledged events: {len(acked & stored)}/{len(acked)}"
          f"{f' — {missing} MISSING' if missing else ''}; {len(target.retries)} retried deliveries answered "
          f"{dict(retried)}, new rows {extra}; rows by status {statuses(database_url, target.name, since)}",
          flush=True)


if __name__ == "__main__":
    main()
