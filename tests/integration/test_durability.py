"""Crash durability (issue 10), smaller than `bench/durability.py` but the same code and invariants.

A real uvicorn server with its embedded outbox worker takes PAKN submissions over loopback while
it is killed with SIGKILL and restarted — once amid the submissions, once while the worker
delivers the backlog; clients retry with the same Idempotency-Key until acknowledged; a real
HTTP endpoint verifies signatures and records deliveries by key. Afterwards every acknowledged
submission must be stored exactly once and every delivery job done exactly once and accepted
exactly once by key.

Why not the `db_url` fixture: the server's worker takes every due job in its database, and
other tests leave jobs behind in the shared session database, so each run gets a throwaway
database of its own (a SQLite file, or a PostgreSQL database created and dropped by the run).
"""
from __future__ import annotations

import dataclasses

import pytest

from bench.durability import Config, Report, run
from tests.conftest import _pg_reachable

pytestmark = pytest.mark.integration


@pytest.mark.slow
@pytest.mark.timeout(3000)  # only a hang reaches it; the waits below are caps, not budgets
@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_sigkill_loses_and_doubles_nothing(backend: str, capsys: pytest.CaptureFixture[str]) -> None:
    """One SIGKILL amid the submissions, one while the worker delivers the backlog."""
    if backend == "postgresql" and not _pg_reachable():
        pytest.skip("PostgreSQL at 127.0.0.1:5432 does not answer")
    n = 150
    # A busy machine may take minutes to acknowledge 150 petitions; how long is bench/durability.py's
    # question, not this test's: it waits for every acknowledgement and asserts only what was kept.
    report = run(Config(requests=n, backend=backend, concurrency=16, kills=1, drain_kills=1,
                        load_timeout_s=1200, drain_cap_s=1200))
    with capsys.disabled():
        print("\n" + "\n".join(report.lines()))

    assert report.violations() == []
    assert report.kills == 2
    # The first kill hit a loaded server: requests were in flight, clients retried with the same key.
    assert report.in_flight_at_kills[0] > 0 and report.retried_submissions > 0
    # The second cut a delivery between "sent" and "marked done": the endpoint had the petition while
    # its job was still running, so only the lease brought the job back — and the key deduplicated it.
    assert report.sent_not_done_at_kills[1] > 0
    assert report.sent == report.acknowledged == report.rows == n
    assert report.duplicate_rows == 0 and report.acked_missing == 0
    assert report.delivery_jobs("done") == n and report.delivery_jobs("dead") == 0
    assert report.deliveries_unique == n
    assert n <= report.deliveries_raw <= n + report.kills * report.outbox_concurrency
    assert report.done_jobs_not_delivered == 0 and report.bad_signatures == 0


def healthy(n: int = 10) -> Report:
    """Counts of a run in which everything held."""
    return Report(backend="sqlite", worker="embedded", kills_planned=2, kills=2, sent=n, acknowledged=n,
                  acked_created=n, rows=n, records_forwarded=n, jobs={"deliver_office": {"done": n}},
                  deliveries_raw=n + 1, deliveries_unique=n, drained=True)


def test_a_healthy_report_has_no_violations() -> None:
    assert healthy().violations() == []


@pytest.mark.parametrize("change, words", [
    ({"kills": 1}, "killed 1 times"),
    ({"acknowledged": 9, "acked_created": 9}, "never acknowledged"),
    ({"rows": 11, "duplicate_rows": 1}, "duplicate rows"),
    ({"acked_missing": 1}, "missing from the database"),
    ({"acked_code_mismatch": 1}, "another code"),
    ({"bad_received_events": 1}, "'received' event"),
    ({"drained": False}, "did not drain"),
    ({"jobs": {"deliver_office": {"done": 9, "pending": 1}}}, "jobs done for 10 records"),
    ({"jobs": {"deliver_office": {"done": 9, "dead": 1}}}, "jobs dead"),
    ({"records_without_one_delivery_job": 1}, "exactly one deliver_office job"),
    ({"records_forwarded": 9}, "records forwarded"),
    ({"bad_forwarded_events": 1}, "'forwarded' transition"),
    ({"bad_signatures": 1}, "bad signature"),
    ({"done_jobs_not_delivered": 1}, "never reached the endpoint"),
    ({"deliveries_without_done_job": 1}, "match no done job"),
    ({"deliveries_unique": 9}, "unique deliveries"),
    ({"delivered_wrong_code": 1}, "wrong petition"),
    ({"deliveries_raw": 13}, "more than 2 crashes with 1 deliveries in flight explain"),
])
def test_each_broken_invariant_is_reported(change: dict, words: str) -> None:
    broken = dataclasses.replace(healthy(), **change)
    assert any(words in v for v in broken.violations()), broken.violations()
