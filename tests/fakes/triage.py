"""A deterministic stand-in for PAKN triage, for tests of pipeline mechanics (not of the classifier).

The services of a test are built with it instead of the real triage (`Services.triage`, the
`triage=` parameter of pakn.service's intake); the `fake_triage` fixture in tests/conftest.py makes one.
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


def services_parts(request) -> dict:
    """The fakes a test asked for (its `fake_triage` fixture), as parts of its app's services
    (`create_app(**parts)`)."""
    return {"triage": request.getfixturevalue("fake_triage")} if "fake_triage" in request.fixturenames else {}
