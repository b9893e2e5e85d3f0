"""Readiness checks and Prometheus metrics.

* `readiness()` — what `/readyz` reports: the database answers `SELECT 1`, the retrieval index
  and the PAKN classifier are loaded in this process (checked without building them: building
  takes seconds and a probe must not), and the PAKN outbox can be read. The backlog (due jobs, age of the oldest) is
  reported but never makes the instance unready: a burst of petitions leaves thousands of jobs
  for the worker, and taking the API out of the load balancer then would refuse the very
  submissions the outbox exists to absorb. A stuck worker is an alert on
  `pakn_outbox_oldest_due_seconds`, not a readiness failure.
* `MetricsMiddleware` — request count and latency by method, route *template* (never the raw
  path: tracking codes in paths would explode the label set) and status.
* `PipelineCollector` — PAKN records by status and outbox jobs by status, computed from the
  database on each scrape, so they are right however many API and worker processes run.
* `retrieval_dense_queries_total` — how hybrid search's dense lookups went (retrieval/budget.py),
  `shed` being answers ranked by BM25 alone under a burst.
* Several server processes: see `metrics_payload` (PROMETHEUS_MULTIPROC_DIR).

Metrics live in their own `REGISTRY` (not prometheus-client's global one) so that building the
app twice in one process (tests) never registers a metric twice.
"""
from __future__ import annotations

import logging
import os
import time
from typing import Any

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    disable_created_metrics,
    generate_latest,
    multiprocess,
)
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from retrieval import budget

log = logging.getLogger(__name__)

disable_created_metrics()  # no *_created series: they double the output and nobody here reads them
REGISTRY = CollectorRegistry(auto_describe=True)
REQUESTS = Counter("http_requests_total", "HTTP requests by method, route template and status",
                   ["method", "route", "status"], registry=REGISTRY)
LATENCY = Histogram("http_request_duration_seconds", "HTTP request latency by method, route template and status",
                    ["method", "route", "status"], registry=REGISTRY,
                    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0))
UNMATCHED = "<unmatched>"


def route_label(scope: dict[str, Any], root_path: str) -> str:
    """The route template of a routed request ('/api/v1/pakn/{code}'), a mount ('/console/static/*')
    or '<unmatched>' — after the router has run (FastAPI puts the route into the scope)."""
    route = scope.get("route")
    path = getattr(route, "path", None)
    if path:
        return path
    mounted = scope.get("root_path", "")
    if mounted != root_path and mounted.startswith(root_path):
        return mounted[len(root_path):] + "/*"
    # Refused before routing (413, 429): find the template the router would have chosen.
    method, path = scope.get("method"), scope.get("path", "")
    for regex, methods, template in _leaf_routes(scope.get("app")):
        if regex.match(path) and (not methods or method in methods):
            return template
    return UNMATCHED


def _walk(routes: Any) -> Any:
    for r in routes or ():
        inner = getattr(r, "original_router", None)  # FastAPI's included-router wrapper
        if inner is not None:
            yield from _walk(inner.routes)
        elif getattr(r, "path_regex", None) is not None and getattr(r, "path", None):
            yield r.path_regex, getattr(r, "methods", None), r.path


_LEAVES: dict[int, list] = {}


def _leaf_routes(app: Any) -> list:
    if app is None:
        return []
    leaves = _LEAVES.get(id(app))
    if leaves is None:
        leaves = _LEAVES[id(app)] = list(_walk(getattr(app, "routes", ())))
        if len(_LEAVES) > 64:  # apps built and dropped by tests
            _LEAVES.clear()
            _LEAVES[id(app)] = leaves
    return leaves


class MetricsMiddleware:
    """Pure ASGI middleware (no BaseHTTPMiddleware: it would buffer streaming responses)."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        root_path = scope.get("root_path", "")
        status = {"code": 500}
        start = time.perf_counter()

        async def send_wrapper(message: dict) -> None:
            if message["type"] == "http.response.start":
                status["code"] = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        finally:
            labels = (scope["method"], route_label(scope, root_path), str(status["code"]))
            REQUESTS.labels(*labels).inc()
            LATENCY.labels(*labels).observe(time.perf_counter() - start)


# ---------------------------------------------------------------- database-derived numbers


def _counts(column: Any, where: Any = None) -> dict[str, int]:
    from sqlalchemy import func, select

    from db import session_factory

    stmt = select(column, func.count()).group_by(column)
    if where is not None:
        stmt = stmt.where(where)
    with session_factory()() as session:
        return {str(k): int(n) for k, n in session.execute(stmt)}


def pakn_status_counts() -> dict[str, int]:
    """Number of petitions per lifecycle status (every status present, zeros included)."""
    from pakn.models import STATUSES, PaknRecord

    counts = dict.fromkeys(STATUSES, 0)
    counts.update(_counts(PaknRecord.status))
    return counts


def outbox_counts() -> dict[str, int]:
    """Outbox jobs per status (pending, running, done, dead, waiting for the citizen to write)."""
    from pakn.models import JOB_DEAD, JOB_DONE, JOB_PENDING, JOB_RUNNING, JOB_WAITING, OutboxJob

    counts = dict.fromkeys((JOB_PENDING, JOB_RUNNING, JOB_DONE, JOB_DEAD, JOB_WAITING), 0)
    counts.update(_counts(OutboxJob.status))
    return counts


def delivery_failures() -> int:
    """Failed delivery attempts recorded in petition histories (one event per failed attempt)."""
    from sqlalchemy import func, select

    from db import session_factory
    from pakn.models import PaknEvent

    with session_factory()() as session:
        return int(session.scalar(select(func.count()).select_from(PaknEvent)
                                  .where(PaknEvent.kind == "delivery_failed")) or 0)


class PipelineCollector(Collector):
    """PAKN gauges computed on scrape. A database error yields `pakn_metrics_up 0`, never a 500."""

    def describe(self):
        return []  # nothing to query at registration time

    def collect(self):
        up = GaugeMetricFamily("pakn_metrics_up", "1 when the PAKN numbers below could be read")
        try:
            records, jobs, failures = pakn_status_counts(), outbox_counts(), delivery_failures()
            _depth, oldest_due = outbox_backlog()
        except Exception as exc:  # noqa: BLE001 - a scrape must not fail because the database is down
            log.warning("metrics: cannot read PAKN numbers (%s)", type(exc).__name__)
            up.add_metric([], 0)
            yield up
            return
        up.add_metric([], 1)
        yield up
        g = GaugeMetricFamily("pakn_records", "PAKN petitions by status", labels=["status"])
        for status, n in records.items():
            g.add_metric([status], n)
        yield g
        g = GaugeMetricFamily("pakn_outbox_jobs", "PAKN outbox jobs by status", labels=["status"])
        for status, n in jobs.items():
            g.add_metric([status], n)
        yield g
        yield GaugeMetricFamily("pakn_outbox_dead_jobs", "Outbox jobs given up after their last attempt",
                                value=jobs.get("dead", 0))
        yield GaugeMetricFamily("pakn_delivery_failures", "Failed delivery attempts recorded so far",
                                value=failures)
        yield GaugeMetricFamily("pakn_outbox_oldest_due_seconds", "How long the oldest due outbox job has waited "
                                "(alert when it grows: the worker is stuck or down)", value=oldest_due)


PIPELINE = PipelineCollector()
REGISTRY.register(PIPELINE)


DENSE_QUERIES = Counter("retrieval_dense_queries_total", "Dense lookups of hybrid search by outcome (cached, "
                        "embedded, decisive = BM25 clear, shed = over the embedding budget: ranked by BM25 alone)",
                        ["outcome"], registry=REGISTRY)


def count_dense_query(outcome: str) -> None:
    """An observer of the retrieval engine's dense lookups (handed to it by the app's lifespan)."""
    DENSE_QUERIES.labels(outcome).inc()


for _outcome in budget.OUTCOMES:  # every series exists from the start, so rates work from the first scrape
    DENSE_QUERIES.labels(_outcome)


def metrics_payload() -> tuple[bytes, str]:
    """The exposition text and its content type.

    With several server processes (uvicorn `--workers`, as docker runs it) each process counts its
    own requests, and a scrape reaches only one of them. When PROMETHEUS_MULTIPROC_DIR is set (it
    must be, before the processes start; docker/prestart.sh does it), every process writes its
    counters there and a scrape sums all of them; the PAKN gauges come from the database either way.
    """
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        registry.register(PIPELINE)
        return generate_latest(registry), CONTENT_TYPE_LATEST
    return generate_latest(REGISTRY), CONTENT_TYPE_LATEST


# ---------------------------------------------------------------- readiness


def check_database() -> dict[str, Any]:
    from sqlalchemy import text

    from db import session_factory

    with session_factory()() as session:
        session.execute(text("SELECT 1"))
    return {"ok": True}


def check_retrieval(services: Any) -> dict[str, Any]:
    """Loaded means the services' engine exists; never builds it."""
    current = services.engine if services is not None else None  # a reference read is atomic
    if current is None:
        return {"ok": False, "error": "chỉ mục tra cứu chưa được nạp"}
    return {"ok": True, "units": len(getattr(current, "units", ()) or ())}


def check_classifier(services: Any) -> dict[str, Any]:
    """Loaded means the PAKN classifier exists; never builds it (a cold build embeds). A triage the
    services were built with instead of the real one (tests, benches) loads nothing: ready."""
    from pakn.classifier import get_classifier
    from runtime.services import default_triage

    if services is not None and services.triage is not default_triage:
        return {"ok": True, "semantic": False}

    if not get_classifier.loaded:
        return {"ok": False, "error": "bộ phân loại phản ánh chưa được nạp"}
    return {"ok": True, "semantic": get_classifier().semantic_available}


def outbox_backlog() -> tuple[int, float]:
    """(jobs pending or running, seconds the oldest due pending job has waited; 0 when none)."""
    from sqlalchemy import func, select

    from db import session_factory
    from pakn.models import JOB_PENDING, JOB_RUNNING, OutboxJob, utcnow

    now = utcnow()
    with session_factory()() as session:
        depth = session.scalar(select(func.count()).select_from(OutboxJob)
                               .where(OutboxJob.status.in_((JOB_PENDING, JOB_RUNNING))))
        oldest = session.scalar(select(func.min(OutboxJob.next_attempt_at))
                                .where(OutboxJob.status == JOB_PENDING, OutboxJob.next_attempt_at <= now))
    if oldest is not None and oldest.tzinfo is None:  # SQLite hands back naive UTC through some paths
        from datetime import UTC

        oldest = oldest.replace(tzinfo=UTC)
    return int(depth or 0), max(0.0, (now - oldest).total_seconds()) if oldest is not None else 0.0


def check_outbox() -> dict[str, Any]:
    """The outbox is readable; its backlog is reported for operators, not judged (module docstring)."""
    depth, oldest = outbox_backlog()
    return {"ok": True, "depth": depth, "oldest_due_s": round(oldest, 1), "dead": outbox_counts()["dead"]}


def readiness(services: Any = None) -> tuple[bool, dict[str, Any]]:
    """Run every check against the app's services (None before the lifespan built them); returns
    (all ok, body). A check that raises is reported down with the error type."""
    checks: dict[str, Any] = {}
    for name, fn in (("database", check_database), ("retrieval", lambda: check_retrieval(services)),
                     ("pakn_classifier", lambda: check_classifier(services)), ("pakn_outbox", check_outbox)):
        try:
            checks[name] = fn()
        except Exception as exc:  # noqa: BLE001 - a probe reports, it does not crash
            log.warning("readiness check %s failed (%s)", name, type(exc).__name__)
            checks[name] = {"ok": False, "error": type(exc).__name__}
    down = [name for name, c in checks.items() if not c["ok"]]
    return not down, {"status": "ok" if not down else "unavailable", "down": down, "checks": checks}
