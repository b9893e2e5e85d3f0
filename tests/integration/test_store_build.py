"""The knowledge store built from the real sources, on SQLite and on PostgreSQL."""
from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import func, select

from db import session_scope
from knowledge.build import build_store
from knowledge.deadlines import parse_period
from knowledge.duties import find_tasks
from knowledge.models import PlanRow, SectionRow, TaskOfficeRow, TaskRow

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def built(db_url):
    build_store(db_url, with_index=False, quiet=True)
    return db_url


def _counts(url):
    with session_scope(url) as s:
        return tuple(s.scalar(select(func.count()).select_from(t)) for t in (PlanRow, SectionRow, TaskRow,
                                                                              TaskOfficeRow))


def test_build_is_idempotent(built):
    before = _counts(built)
    build_store(built, with_index=False, quiet=True)
    assert _counts(built) == before
    assert before[0] == 5 and before[2] > 150


def test_task_31_in_store(built):
    with session_scope(built) as s:
        row = s.get(TaskRow, "tayninh-cchc-2024#task-31")
        assert row.deadline_raw == "Quý II/2024"
        assert (row.deadline_start, row.deadline_end) == (date(2024, 4, 1), date(2024, 6, 30))
        assert [o.office_id for o in row.offices if o.role == "lead"] == ["tay-ninh.so-noi-vu"]


def test_plan_metadata_in_store(built):
    with session_scope(built) as s:
        plan = s.get(PlanRow, "tayninh-cchc-2024")
        assert plan.decision_number == "140/QĐ-UBND" and plan.signer == "Võ Đức Trọng"
        assert plan.decision_date == date(2024, 1, 19)


def test_duty_lookup_by_office_and_quarter(built):
    with session_scope(built) as s:
        tasks = find_tasks(s, office_ids=["tay-ninh.so-tu-phap"], period=parse_period("2024-Q1", None))
    numbers = {t.number for t in tasks}
    assert {"11", "12", "14"} <= numbers
    assert all(t.plan_id == "tayninh-cchc-2024" for t in tasks)


def test_every_table_task_has_a_resolved_lead(built):
    with session_scope(built) as s:
        missing = s.scalars(select(TaskRow.id).where(TaskRow.origin == "table", ~TaskRow.id.in_(
            select(TaskOfficeRow.task_id).where(TaskOfficeRow.role == "lead")))).all()
    assert missing == []


def test_cli_build_makes_store_and_index(tmp_path):
    """`python -m knowledge build` (what `make demo` runs) builds the store and the retrieval index."""
    import os
    import subprocess
    import sys

    env = {**os.environ, "DATABASE_URL": f"sqlite:///{tmp_path / 'app.db'}", "INDEX_DIR": str(tmp_path / "index"),
           "CHROMA_PATH": str(tmp_path / "chroma"), "EMBEDDING_BACKEND": "none"}
    out = subprocess.run([sys.executable, "-m", "knowledge", "build"], check=False, capture_output=True, text=True, env=env,
                         timeout=600)
    assert out.returncode == 0, out.stderr[-2000:]
    assert "5 kế hoạch" in out.stdout and "đơn vị chỉ mục" in out.stdout
    assert any((tmp_path / "index").iterdir())
