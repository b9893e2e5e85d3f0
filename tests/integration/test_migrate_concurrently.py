"""Several processes migrating one fresh database at once (`uvicorn --workers 2`, API and worker
containers starting together) take turns instead of racing on `alembic_version`."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from bench.pakn import pg_database
from tests.conftest import _pg_reachable

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[2]


def _migrate_at_once(url: str, processes: int = 3) -> list[subprocess.CompletedProcess]:
    code = "import sys; from db import migrate; migrate(sys.argv[1])"
    procs = [subprocess.Popen([sys.executable, "-c", code, url], cwd=ROOT, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True) for _ in range(processes)]
    return [subprocess.CompletedProcess(p.args, p.wait(120), *p.communicate()) for p in procs]


def _heads(url: str) -> set[str]:
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return {r[0] for r in conn.execute(text("SELECT version_num FROM alembic_version"))}
    finally:
        engine.dispose()


def _assert_all_migrated(url: str) -> None:
    results = _migrate_at_once(url)
    assert all(r.returncode == 0 for r in results), [r.stderr[-600:] for r in results if r.returncode]
    assert _heads(url) == {"0007_petition_clusters"}  # one line of history from 0004_api_clients on


def test_sqlite(tmp_path: Path) -> None:
    _assert_all_migrated(f"sqlite:///{tmp_path / 'fresh' / 'app.db'}")


def test_postgresql() -> None:
    if not _pg_reachable():
        pytest.skip("PostgreSQL at 127.0.0.1:5432 does not answer")
    url, drop = pg_database("t_mig")
    try:
        _assert_all_migrated(url)
    finally:
        drop()
