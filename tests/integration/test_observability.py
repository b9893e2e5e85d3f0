"""/healthz, /readyz and /metrics over the real app on SQLite and PostgreSQL.

Readiness names exactly what is down (database, retrieval index, PAKN outbox) and shows the outbox
backlog without failing on it; metrics
count requests by route template and status and read PAKN numbers from the database on scrape.
"""
from __future__ import annotations

import uuid
from datetime import timedelta
from types import SimpleNamespace

import pytest
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import delete, func, select

from db import session_scope
from pakn.models import JOB_DEAD, JOB_PENDING, OutboxJob, PaknRecord
from settings import get_settings

pytestmark = pytest.mark.integration


def started(engine: object) -> SimpleNamespace:
    """Services as the lifespan leaves them, as far as the probe reads them: an engine, the real triage."""
    from runtime.services import default_triage

    return SimpleNamespace(engine=engine, triage=default_triage)


@pytest.fixture
def make_client(monkeypatch: pytest.MonkeyPatch, db_url: str, request: pytest.FixtureRequest, probe):
    def make(**env: str) -> TestClient:
        monkeypatch.setenv("DATABASE_URL", db_url)
        for k, v in env.items():
            monkeypatch.setenv(k, v)
        get_settings.cache_clear()
        from api.main import create_app
        from tests.fakes.triage import services_parts

        app = create_app(**services_parts(request))
        if probe.engine is not None:
            app.state.services = started(probe.engine)
        return TestClient(app)  # no lifespan: readiness must see the index as not loaded

    yield make
    get_settings.cache_clear()


def _loaded(value: object):
    from retrieval.singleflight import SingleFlight

    sf = SingleFlight(lambda: value)
    sf()
    return sf


@pytest.fixture
def loaded_classifier(monkeypatch: pytest.MonkeyPatch):
    """The PAKN classifier counts as loaded (a stand-in: these tests are about the probe)."""
    from pakn import classifier

    monkeypatch.setattr(classifier, "get_classifier", _loaded(SimpleNamespace(semantic_available=True)))


@pytest.fixture
def loaded_index(probe, loaded_classifier):
    probe.engine = SimpleNamespace(units=[1, 2, 3])


@pytest.fixture
def jobs(db_url: str):
    """Add outbox jobs with a given status; removed afterwards."""
    ids: list[int] = []

    def add(n: int, status: str = JOB_PENDING) -> None:
        with session_scope(db_url) as s:
            for _ in range(n):
                job = OutboxJob(kind="deliver_office", payload={}, status=status,
                                dedupe_key=f"obs-{uuid.uuid4().hex}")
                s.add(job)
                s.flush()
                ids.append(job.id)

    yield add
    with session_scope(db_url) as s:
        s.execute(delete(OutboxJob).where(OutboxJob.id.in_(ids)))


@pytest.fixture
def probe() -> SimpleNamespace:
    """The retrieval engine the apps of a test count as loaded (None: not loaded)."""
    return SimpleNamespace(engine=None)


def samples(text: str) -> dict[tuple[str, tuple], float]:
    """{(sample name, sorted labels): value} of a Prometheus exposition."""
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for fam in text_string_to_metric_families(text) for s in fam.samples}


def test_healthz(make_client) -> None:
    r = make_client().get("/healthz")
    assert r.status_code == 200 and r.json() == {"status": "ok"}


def test_readyz_503_names_the_index_until_it_is_loaded(make_client, loaded_classifier) -> None:
    client = make_client()
    r = client.get("/readyz")
    assert r.status_code == 503
    body = r.json()
    assert body["status"] == "unavailable" and body["down"] == ["retrieval"]
    assert body["checks"]["database"]["ok"] is True and body["checks"]["pakn_outbox"]["ok"] is True
    assert "chỉ mục" in body["checks"]["retrieval"]["error"]
    assert client.app.state.services is None  # the probe did not build the services (nor the index)
    assert not client.app.state.unstarted_services.loaded
    client.app.state.services = started(SimpleNamespace(units=[1, 2, 3]))
    r = client.get("/readyz")
    assert r.status_code == 200, r.text
    assert r.json()["down"] == [] and r.json()["checks"]["retrieval"] == {"ok": True, "units": 3}


def test_readyz_503_names_the_classifier_until_it_is_loaded(make_client, monkeypatch, probe) -> None:
    """A cold classifier build embeds the examples: the probe reports it, never builds it."""
    from pakn import classifier
    from retrieval.singleflight import SingleFlight

    probe.engine = SimpleNamespace(units=[1])
    cold = SingleFlight(lambda: pytest.fail("the readiness probe built the classifier"))
    monkeypatch.setattr(classifier, "get_classifier", cold)
    r = make_client().get("/readyz")
    assert r.status_code == 503 and r.json()["down"] == ["pakn_classifier"], r.text
    assert "phân loại" in r.json()["checks"]["pakn_classifier"]["error"] and not cold.loaded


def test_readyz_reports_the_outbox_backlog_without_going_unready(make_client, loaded_index, jobs, db_url) -> None:
    """A burst of petitions leaves a backlog: /readyz shows it but stays 200 (the API must keep taking
    submissions); the age of the oldest due job is what an operator alerts on, in /metrics."""
    with session_scope(db_url) as s:
        due = s.scalar(select(func.count()).select_from(OutboxJob)
                       .where(OutboxJob.status.in_(("pending", "running"))))
    client = make_client()
    jobs(3)
    with session_scope(db_url) as s:  # make one of them wait for an hour
        job = s.scalars(select(OutboxJob).where(OutboxJob.dedupe_key.like("obs-%"))).first()
        job.next_attempt_at = job.next_attempt_at - timedelta(hours=1)
    r = client.get("/readyz")
    assert r.status_code == 200, r.text
    out = r.json()["checks"]["pakn_outbox"]
    assert out["ok"] is True and out["depth"] == due + 3 and out["oldest_due_s"] >= 3600
    m = samples(client.get("/metrics").text)
    assert m[("pakn_outbox_oldest_due_seconds", ())] >= 3600


def test_readyz_names_the_database_when_it_is_down(make_client, loaded_index) -> None:
    # Nothing listens on port 1: the connection is refused at once.
    client = make_client(DATABASE_URL="postgresql+psycopg://nobody@127.0.0.1:1/none?connect_timeout=2")
    r = client.get("/readyz")
    assert r.status_code == 503
    body = r.json()
    assert "database" in body["down"] and body["checks"]["database"]["ok"] is False
    assert body["checks"]["retrieval"]["ok"] is True


def test_metrics_count_requests_by_route_template_and_status(make_client, fake_triage) -> None:
    client = make_client()
    before = samples(client.get("/metrics").text)
    for code in ("PA-0000-AAAAA", "PA-0000-BBBBB", "PA-0000-CCCCC"):
        assert client.get(f"/api/v1/pakn/{code}").status_code == 404
    assert client.get("/healthz").status_code == 200
    r = client.get("/metrics")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/plain")
    after = samples(r.text)
    key = ("http_requests_total", (("method", "GET"), ("route", "/api/v1/pakn/{code}"), ("status", "404")))
    assert after[key] - before.get(key, 0) == 3
    hist = ("http_request_duration_seconds_count", key[1])
    assert after[hist] - before.get(hist, 0) == 3
    assert not any("PA-0000" in str(labels) for _, labels in after)  # raw paths never become labels


def test_metrics_pakn_gauges_follow_the_database(make_client, fake_triage, jobs, db_url) -> None:
    client = make_client()
    r = client.post("/api/v1/pakn", json={"content": "Đèn đường hỏng trước chợ", "contact": "0912345678",
                                          "external_id": uuid.uuid4().hex})
    assert r.status_code == 201, r.text
    jobs(2, JOB_DEAD)
    with session_scope(db_url) as s:
        received = s.scalar(select(func.count()).select_from(PaknRecord).where(PaknRecord.status == "received"))
        dead = s.scalar(select(func.count()).select_from(OutboxJob).where(OutboxJob.status == JOB_DEAD))
        pending = s.scalar(select(func.count()).select_from(OutboxJob).where(OutboxJob.status == JOB_PENDING))
    m = samples(client.get("/metrics").text)
    assert m[("pakn_metrics_up", ())] == 1
    assert m[("pakn_records", (("status", "received"),))] == received >= 1
    assert m[("pakn_records", (("status", "closed"),))] >= 0
    assert m[("pakn_outbox_jobs", (("status", "dead"),))] == dead >= 2
    assert m[("pakn_outbox_jobs", (("status", "pending"),))] == pending >= 1  # the new petition's delivery
    assert m[("pakn_outbox_dead_jobs", ())] == dead
    assert ("pakn_delivery_failures", ()) in m


def test_metrics_survive_a_database_outage(make_client) -> None:
    client = make_client(DATABASE_URL="postgresql+psycopg://nobody@127.0.0.1:1/none?connect_timeout=2")
    r = client.get("/metrics")
    assert r.status_code == 200
    m = samples(r.text)
    assert m[("pakn_metrics_up", ())] == 0 and not any(name == "pakn_records" for name, _ in m)


SERVE_REQUESTS = """
import sys
from api.observability import REQUESTS
for _ in range(int(sys.argv[1])):
    REQUESTS.labels("GET", "/healthz", "200").inc()
"""
SCRAPE = """
from api.observability import metrics_payload
print(metrics_payload()[0].decode())
"""


def test_metrics_sum_every_server_process_when_multiprocess_dir_is_set(tmp_path) -> None:
    """uvicorn --workers N: a scrape reaches one process but must count the requests of all."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(tmp_path / "prom"),
           "DATABASE_URL": f"sqlite:///{tmp_path / 'm.db'}"}
    (tmp_path / "prom").mkdir()

    def run(code: str, *args: str, single: bool = False) -> str:
        run_env = {k: v for k, v in env.items() if not (single and k == "PROMETHEUS_MULTIPROC_DIR")}
        return subprocess.run([sys.executable, "-c", code, *args], cwd=root, env=run_env,
                              capture_output=True, text=True, check=True, timeout=120).stdout

    run(SERVE_REQUESTS, "3")
    run(SERVE_REQUESTS, "4")

    def healthz(text: str) -> float:
        for family in text_string_to_metric_families(text):
            for sample in family.samples:
                if sample.name == "http_requests_total" and sample.labels.get("route") == "/healthz":
                    return sample.value
        return 0.0

    assert healthz(run(SCRAPE)) == 7.0
    assert healthz(run(SCRAPE, single=True)) == 0.0  # without the directory a process sees only its own


def test_validation_errors_are_vietnamese_and_do_not_echo_the_input(make_client) -> None:
    client = make_client()
    secret = "0912345678 " * 500
    r = client.post("/api/v1/chat", json={"user_id": "u", "text": secret})
    assert r.status_code == 422
    [error] = r.json()["detail"]
    assert error == {"loc": ["body", "text"], "msg": "Quá dài: tối đa 5000 ký tự", "type": "string_too_long"}
    assert "0912345678" not in r.text
    r = client.post("/api/v1/chat", json={"text": "xin chào"})
    assert r.json()["detail"][0]["msg"] == "Thiếu trường bắt buộc"
