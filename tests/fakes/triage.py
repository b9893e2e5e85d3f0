"""A deterministic stand-in for PAKN triage, for tests of pipeline mechanics (not of the classifier).

`pakn.service.TRIAGE` is the indirection it replaces; the `fake_triage` fixture in tests/conftest.py
installs it for one test.
"""
from __future__ import annotations

import time
from datetime import datetime, timedelta, timezone
from types import SimpleNamespace


class FakeTriage:
    """Always the same category and due date; `office_id`, `complaint` (a complaint or
    denunciation) and `delay_s` (slows it down) are set per test."""

    def __init__(self) -> None:
        self.office_id = "office-default"
        self.complaint = False
        self.delay_s = 0.0
        self.calls = 0

    def __call__(self, content: str, location: str | None = None, **_kw):
        self.calls += 1
        time.sleep(self.delay_s)
        return SimpleNamespace(
            category="moi_truong", category_name="Môi trường", confidence=0.9, needs_human=False,
            office_id=self.office_id, office_name=f"UBND {self.office_id}", locality={"province_slug": "ho-chi-minh"},
            due_at=datetime(2030, 1, 10, 17, 0, tzinfo=timezone(timedelta(hours=7))),
            is_complaint_or_denunciation=self.complaint, notice=None, explanation="kiểm thử")
