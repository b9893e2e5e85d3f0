"""Console building blocks without a server: passwords, signed cookies, deadline groups, iCalendar, scoping."""
from __future__ import annotations

from datetime import UTC, date, datetime
from types import SimpleNamespace

import pytest
from icalendar import Calendar

from console import auth
from console.auth import Principal
from console.duties import DutyItem, covered_offices, group_of, to_ics
from console.inbox import due_badge
from console.routes import _safe_next, _safe_url
from knowledge.duties import TaskView


def task(**kw) -> TaskView:
    base = {"id": "p#task-1", "plan_id": "p", "plan_title": "Kế hoạch CCHC 2024", "locality": "Tỉnh Tây Ninh",
            "number": "1", "origin": "table", "section": "I", "text": "Rà soát thủ tục", "product": None,
            "lead": ["Sở Nội vụ"], "support": [], "lead_ids": ["tay-ninh.so-noi-vu"], "support_ids": [],
            "deadline_raw": "Quý II/2024", "deadline_kind": "by_quarter", "deadline_start": date(2024, 4, 1),
            "deadline_end": date(2024, 6, 30), "role": "lead"}
    base.update(kw)
    return TaskView(**base)


def principal(role: str = "staff", office: str | None = "a.b") -> Principal:
    return Principal(user_id=1, email="x@y.vn", display_name=None, role=role, office_id=office, session_id="s",
                     csrf_token="t")


def test_password_hash_is_argon2id_and_verifies() -> None:
    h = auth.hash_password("mot-mat-khau-dai")
    assert h.startswith("$argon2id$")
    assert auth.verify_password(h, "mot-mat-khau-dai")
    assert not auth.verify_password(h, "sai")
    assert not auth.verify_password("not-a-hash", "x")  # never raises


def test_password_policy() -> None:
    with pytest.raises(auth.AuthError):
        auth.check_password_policy("ngan")
    auth.check_password_policy("du-muoi-ky-tu")


def test_signed_cookie_rejects_tampering() -> None:
    value = auth.sign("abc")
    assert auth.unsign(value) == "abc"
    assert auth.unsign(value[:-1] + ("0" if value[-1] != "0" else "1")) is None
    assert auth.unsign("abc") is None and auth.unsign(None) is None
    assert auth.unsign(auth.sign("abc", "prelogin")) is None  # keys are per purpose
    assert auth.unsign(auth.sign("abc", "prelogin"), "prelogin") == "abc"


def test_scope_rules() -> None:
    assert principal().can_see_office("a.b") and not principal().can_see_office("c.d")
    assert not principal().can_see_office(None)
    assert principal("admin", None).can_see_office("c.d") and principal("admin", None).can_see_office(None)


def test_deadline_groups() -> None:
    today = date(2024, 5, 10)
    assert group_of(task(deadline_start=date(2024, 5, 1), deadline_end=date(2024, 5, 31)), today) == "month"
    assert group_of(task(), today) == "month"  # Q2 overlaps May
    assert group_of(task(deadline_start=date(2024, 6, 1), deadline_end=date(2024, 6, 30)), today) == "quarter"
    assert group_of(task(deadline_start=date(2024, 10, 1), deadline_end=date(2024, 12, 31)), today) == "other"
    assert group_of(task(deadline_kind="recurring", deadline_start=date(2024, 1, 1), deadline_end=date(2024, 12, 31)),
                    today) == "recurring"
    assert group_of(task(deadline_kind=None, deadline_start=None, deadline_end=None), today) == "other"


def test_covered_offices_follow_successor_chains_backwards() -> None:
    covered = covered_offices("tay-ninh.so-noi-vu")
    assert covered[0] == "tay-ninh.so-noi-vu"
    assert "tay-ninh.tp-tay-ninh.phong-noi-vu" in covered  # Phòng Nội vụ TP Tây Ninh → Sở Nội vụ
    assert "long-an.so-noi-vu" in covered  # Long An merged into Tây Ninh
    assert "gia-lai.so-noi-vu" not in covered


def test_ics_export() -> None:
    items = [DutyItem(task(id="p#1")),
             DutyItem(task(id="p#2", deadline_kind="monthly", deadline_start=date(2024, 1, 1),
                           deadline_end=date(2024, 12, 31), deadline_raw="Hằng tháng")),
             DutyItem(task(id="p#3", deadline_kind="recurring", deadline_raw="Thường xuyên")),
             DutyItem(task(id="p#4"), status="done")]
    cal = Calendar.from_ical(to_ics(items, "Sở Nội vụ", datetime(2024, 1, 1, tzinfo=UTC)))
    events = {str(e["UID"]): e for e in cal.walk("VEVENT")}
    assert set(events) == {"p#1@trolyhanhchinh", "p#2@trolyhanhchinh"}
    assert events["p#1@trolyhanhchinh"].decoded("DTSTART") == date(2024, 6, 30)
    assert "FREQ=MONTHLY" in events["p#2@trolyhanhchinh"]["RRULE"].to_ical().decode()
    assert "Kế hoạch CCHC 2024" in str(events["p#1@trolyhanhchinh"]["DESCRIPTION"])


def test_due_badges() -> None:
    now = datetime(2024, 5, 10, 12, tzinfo=UTC)
    rec = lambda status, due: SimpleNamespace(status=status, due_at=due)
    assert due_badge(rec("forwarded", datetime(2024, 5, 9, tzinfo=UTC)), now) == "overdue"
    assert due_badge(rec("in_progress", datetime(2024, 5, 11, tzinfo=UTC)), now) == "soon"
    assert due_badge(rec("in_progress", datetime(2024, 5, 20, tzinfo=UTC)), now) is None
    assert due_badge(rec("answered", datetime(2024, 5, 9, tzinfo=UTC)), now) is None
    escalated = SimpleNamespace(status="forwarded", due_at=datetime(2024, 5, 1, tzinfo=UTC),
                                events=[SimpleNamespace(kind="overdue_reminder"), SimpleNamespace(kind="escalated")])
    assert due_badge(escalated, now) == "escalated"


def test_open_redirect_and_javascript_links_are_refused() -> None:
    assert _safe_next("/console/pakn/PA-2411-ABCDE") == "/console/pakn/PA-2411-ABCDE"
    for bad in ("https://evil.example", "//evil.example", "/console\\..", "", None, "/api/v1"):
        assert _safe_next(bad) == "/console/inbox"
    assert _safe_url({"url": "https://cdn.example/a.jpg"}) == "https://cdn.example/a.jpg"
    assert _safe_url("javascript:alert(1)") is None and _safe_url({"url": "data:text/html,x"}) is None
