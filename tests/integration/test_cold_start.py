"""Cold start of a fresh install: empty VAR_DIR, `python -m knowledge build`, the API under uvicorn,
then 32 concurrent first requests mixed (chat, PAKN classify, petition intake) — every one is
answered with a 2xx. Before the classifier's example vectors shipped and its load was single-flight,
each first petition embedded all 569 examples at once and the burst took minutes. Timings are
measured by bench/cold_start.py; the cap here (120 s per request) only catches a hang."""
from __future__ import annotations

from pathlib import Path

import pytest

from bench.cold_start import run

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def test_32_concurrent_first_requests_after_a_cold_build_are_all_answered(tmp_path: Path) -> None:
    result = run(tmp_path / "var", n=32, timeout_s=120.0)
    answered = dict(zip(range(len(result.statuses)), zip(result.kinds, result.statuses)))
    assert all(200 <= status < 300 for _, status in answered.values()), answered
    assert set(result.kinds) == {"chat", "classify", "intake"}
