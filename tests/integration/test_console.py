"""Staff console on SQLite and PostgreSQL: login, inbox, reply, office isolation, CSRF, duties, admin.

The app is the real one (`api.main.create_app`) driven by Starlette's TestClient over
https://testserver, so the Secure session cookie is sent back as a browser would.
"""
from __future__ import annotations

import re
import uuid
from datetime import UTC, date, datetime, timedelta
from types import SimpleNamespace

import pytest
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from sqlalchemy import delete, select

from console import auth
from console.models import ConsoleSession, ConsoleUser, DutyProgress, LoginAttempt
from db import session_scope
from pakn import notify, outbox, service
from pakn.models import CITIZEN_REPLY, OutboxJob
from settings import get_settings

pytestmark = pytest.mark.integration

OFFICE_A = "tay-ninh.so-noi-vu"
OFFICE_B = "tay-ninh.so-tu-phap"
PASSWORD = "mat-khau-rat-dai-123"


def uid() -> str:
    return uuid.uuid4().hex[:8]


class StubTriage:
    """Deterministic triage: routes every petition to `office_id`."""

    def __init__(self) -> None:
        self.office_id = OFFICE_A

    def __call__(self, content: str, location: str | None = None, **_kw):
        return SimpleNamespace(
            category="moi_truong", category_name="Môi trường", confidence=0.9, needs_human=False,
            office_id=self.office_id, office_name=f"Cơ quan {self.office_id}", locality=None,
            due_at=datetime.now(UTC) + timedelta(hours=20), is_complaint_or_denunciation=False,
            notice=None, explanation="kiểm thử")


@pytest.fixture
def triage() -> StubTriage:
    return StubTriage()


@pytest.fixture
def app_env(monkeypatch: pytest.MonkeyPatch, db_url: str) -> str:
    monkeypatch.setenv("DATABASE_URL", db_url)
    get_settings.cache_clear()
    with session_scope(db_url) as db:  # each test starts without rate-limit history
        db.execute(delete(LoginAttempt))
    yield db_url
    get_settings.cache_clear()


@pytest.fixture
def client(app_env: str) -> TestClient:
    from api.main import create_app

    return TestClient(create_app(), base_url="https://testserver", follow_redirects=False)


def make_user(db_url: str, office: str | None = OFFICE_A, role: str = "staff") -> str:
    email = f"{role}-{uid()}@example.vn"
    with session_scope(db_url) as db:
        auth.create_user(db, email=email, password=PASSWORD, role=role, office_id=office)
    return email


def submit(db_url: str, triage: StubTriage, office: str, text: str = "Rác thải ùn ứ tại chợ", *,
           channel: str = "api", user_id: str | None = None) -> str:
    triage.office_id = office
    with session_scope(db_url) as db:
        rec = service.submit(db, content=f"{text} {uid()}", location=None, contact="0912345678", channel=channel,
                             channel_user_id=user_id, triage=triage)
        return rec.code


def csrf_of(html: str) -> str:
    m = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert m, "page has no CSRF field"
    return m.group(1)


def login(client: TestClient, email: str, password: str = PASSWORD) -> str:
    """Log in through the form; returns a CSRF token of the session."""
    page = client.get("/console/login")
    assert page.status_code == 200
    r = client.post("/console/login", data={"email": email, "password": password, "csrf_token": csrf_of(page.text)})
    assert r.status_code == 303, r.text
    inbox = client.get("/console/inbox")
    assert inbox.status_code == 200
    return csrf_of(inbox.text)


def all_routes(app) -> list[tuple[str, set[str]]]:
    """(path, methods) of every HTTP route, including those inside included routers."""
    out: list[tuple[str, set[str]]] = []

    def walk(routes, prefix: str = "") -> None:
        for r in routes:
            inner = getattr(r, "original_router", None)
            if inner is not None:  # FastAPI ≥ 0.120 wraps included routers
                ctx = getattr(r, "include_context", None)
                walk(inner.routes, prefix + (getattr(ctx, "prefix", "") or ""))
            elif isinstance(r, APIRoute) or hasattr(r, "methods"):
                out.append((prefix + r.path, set(r.methods or ())))

    walk(app.routes)
    return out


def concrete(path: str, code: str) -> str:
    return re.sub(r"\{user_id[^}]*\}", "1", re.sub(r"\{code[^}]*\}", code, path))


# ---------------------------------------------------------------- access control


def test_every_console_and_staff_route_refuses_anonymous(client: TestClient, app_env: str, triage) -> None:
    code = submit(app_env, triage, OFFICE_A)
    routes = all_routes(client.app)
    console = [(p, m) for p, m in routes if p.startswith("/console") and p != "/console/login"]
    staff_api = [(p, m) for p, m in routes if p.startswith("/api/v1/pakn/{code}/") and "POST" in m]
    assert len(console) >= 15 and {"/console/inbox", "/console/pakn/{code}/reply", "/console/duties.ics"} <= {
        p for p, _ in console}
    assert {"/api/v1/pakn/{code}/reply", "/api/v1/pakn/{code}/transition"} <= {p for p, _ in staff_api}
    for path, methods in console + staff_api:
        url = concrete(path, code)
        for method in methods & {"GET", "POST"}:
            r = client.request(method, url, data={"text": "x"} if method == "POST" else None)
            refused = r.status_code in (401, 403) or (r.status_code in (302, 303)
                                                        and r.headers["location"].startswith("/console/login"))
            assert refused, f"{method} {url} answered {r.status_code} without login"
    with session_scope(app_env) as db:
        assert service.get_by_code(db, code).status == "received"  # nothing happened


def test_office_b_cannot_see_or_act_on_office_a_petitions(client: TestClient, app_env: str, triage) -> None:
    code = submit(app_env, triage, OFFICE_A, "Đèn đường hỏng")
    login(client, make_user(app_env, OFFICE_B))
    inbox = client.get("/console/inbox")
    assert code not in inbox.text
    assert client.get(f"/console/pakn/{code}").status_code == 404
    token = csrf_of(inbox.text)
    for action, data in [("reply", {"text": "trả lời sai cơ quan"}), ("accept", {}), ("close", {}),
                         ("transfer", {"office_id": OFFICE_B, "reason": "x"}), ("reject", {"reason": "x"})]:
        r = client.post(f"/console/pakn/{code}/{action}", data={**data, "csrf_token": token})
        assert r.status_code == 404, action
    # The staff API (bearer token) refuses an office that is not responsible for the petition.
    bearer = {"Authorization": f"Bearer {get_settings().staff_api_token.get_secret_value()}"}
    r = client.post(f"/api/v1/pakn/{code}/reply", json={"office_id": OFFICE_B, "text": "x"}, headers=bearer)
    assert r.status_code in (403, 404)
    with session_scope(app_env) as db:
        rec = service.get_by_code(db, code)
        assert rec.status == "received" and not [e for e in rec.events if e.kind == "reply"]


def test_admin_sees_every_office(client: TestClient, app_env: str, triage) -> None:
    a, b = submit(app_env, triage, OFFICE_A), submit(app_env, triage, OFFICE_B)
    login(client, make_user(app_env, None, role="admin"))
    page = client.get("/console/inbox").text
    assert a in page and b in page
    assert client.get(f"/console/pakn/{b}").status_code == 200


def test_staff_cannot_use_admin_pages(client: TestClient, app_env: str) -> None:
    token = login(client, make_user(app_env))
    assert client.get("/console/admin/users").status_code == 403
    r = client.post("/console/admin/users", data={"email": f"x{uid()}@a.vn", "password": PASSWORD, "role": "admin",
                                                  "csrf_token": token})
    assert r.status_code == 403


# ---------------------------------------------------------------- CSRF and sessions


def test_post_without_or_with_wrong_csrf_token_is_refused(client: TestClient, app_env: str, triage) -> None:
    code = submit(app_env, triage, OFFICE_A)
    token = login(client, make_user(app_env))
    assert client.post(f"/console/pakn/{code}/reply", data={"text": "không có mã"}).status_code == 403
    assert client.post(f"/console/pakn/{code}/reply", data={"text": "sai mã", "csrf_token": "x" * 43}).status_code == 403
    cross = client.post(f"/console/pakn/{code}/reply", data={"text": "từ trang khác", "csrf_token": token},
                        headers={"Origin": "https://evil.example"})
    assert cross.status_code == 403
    assert client.post("/console/logout").status_code == 403  # logout needs the token too
    with session_scope(app_env) as db:
        assert service.get_by_code(db, code).status == "received"


def test_login_form_needs_its_token(client: TestClient, app_env: str) -> None:
    email = make_user(app_env)
    client.get("/console/login")
    r = client.post("/console/login", data={"email": email, "password": PASSWORD})
    assert r.status_code == 403 and "console_session" not in r.cookies


def test_session_cookie_flags_and_logout(client: TestClient, app_env: str) -> None:
    email = make_user(app_env)
    page = client.get("/console/login")
    r = client.post("/console/login", data={"email": email, "password": PASSWORD, "csrf_token": csrf_of(page.text)})
    cookie = r.headers["set-cookie"].lower()
    assert "console_session=" in cookie and "httponly" in cookie and "secure" in cookie and "samesite=lax" in cookie
    token = csrf_of(client.get("/console/inbox").text)
    assert client.post("/console/logout", data={"csrf_token": token}).status_code == 303
    again = TestClient(client.app, base_url="https://testserver", follow_redirects=False,
                       cookies={"console_session": r.cookies["console_session"]})
    assert again.get("/console/inbox").status_code == 302  # the server-side row is gone


def test_disabling_an_account_ends_its_sessions(client: TestClient, app_env: str) -> None:
    email = make_user(app_env)
    login(client, email)
    with session_scope(app_env) as db:
        user = db.scalars(select(ConsoleUser).where(ConsoleUser.email == email)).one()
        auth.set_active(db, user.id, False)
        assert db.scalars(select(ConsoleSession).where(ConsoleSession.user_id == user.id)).first() is None
    assert client.get("/console/inbox").status_code == 302


def test_login_rate_limit(client: TestClient, app_env: str) -> None:
    email = make_user(app_env)
    for _ in range(get_settings().console_login_max_failures):
        page = client.get("/console/login")
        r = client.post("/console/login", data={"email": email, "password": "sai-mat-khau-000",
                                                "csrf_token": csrf_of(page.text)})
        assert r.status_code == 401 and "không đúng" in r.text
    page = client.get("/console/login")
    r = client.post("/console/login", data={"email": email, "password": PASSWORD, "csrf_token": csrf_of(page.text)})
    assert r.status_code == 429 and "quá nhiều lần" in r.text


# ---------------------------------------------------------------- inbox, detail, actions


def test_login_inbox_reply_reaches_the_citizen(client: TestClient, app_env: str, triage) -> None:
    code = submit(app_env, triage, OFFICE_A, "Nước thải <script>alert(1)</script> chảy ra đường", channel="zalo",
                  user_id="zalo-user-1")
    login(client, make_user(app_env))
    inbox = client.get("/console/inbox", params={"q": code})
    assert code in inbox.text and "Sắp đến hạn" in inbox.text  # due in 20 hours
    assert "<script>alert(1)</script>" not in inbox.text and "&lt;script&gt;" in inbox.text
    detail = client.get(f"/console/pakn/{code}")
    assert detail.status_code == 200 and "&lt;script&gt;alert(1)&lt;/script&gt;" in detail.text
    assert "0912345678" in detail.text  # staff need the contact to answer
    token = csrf_of(detail.text)
    r = client.post(f"/console/pakn/{code}/accept", data={"csrf_token": token})
    assert r.status_code == 303
    r = client.post(f"/console/pakn/{code}/reply", data={"text": "UBND đã cho thông cống ngày 20/11.",
                                                         "csrf_token": token})
    assert r.status_code == 303 and r.headers["location"] == f"/console/pakn/{code}?done=reply"
    page = client.get(r.headers["location"]).text
    assert "Đã có trả lời" in page and "UBND đã cho thông cống ngày 20/11." in page
    with session_scope(app_env) as db:
        rec = service.get_by_code(db, code)
        assert rec.status == "answered"
        kinds = [(e.kind, e.to_status) for e in rec.events]
        assert ("transition", "in_progress") in kinds and ("reply", "answered") in kinds
        assert any(e.actor.startswith("console:") for e in rec.events)
        job = db.scalars(select(OutboxJob).where(OutboxJob.record_id == rec.id,
                                                 OutboxJob.kind == CITIZEN_REPLY)).one()
        db.execute(delete(OutboxJob).where(OutboxJob.id != job.id))  # only the reply is due for this drain
    sent: list[tuple[str, str]] = []
    notify.register_sender("zalo", lambda user, text: sent.append((user, text)))
    try:
        outbox.drain(worker_id="console-test")
    finally:
        notify.unregister_sender("zalo")
    assert sent and sent[0][0] == "zalo-user-1" and "thông cống" in sent[0][1]
    # Close after the answer; finished petitions offer no further actions.
    r = client.post(f"/console/pakn/{code}/close", data={"csrf_token": token})
    assert r.status_code == 303
    assert "không còn thao tác" in client.get(f"/console/pakn/{code}").text


def test_detail_shows_how_each_reply_reached_the_citizen(client: TestClient, app_env: str, triage) -> None:
    from pakn.errors import DeliveryDeferred, DeliveryError

    code = submit(app_env, triage, OFFICE_A, "Đèn đường hỏng", channel="zalo", user_id="zalo-user-2")
    login(client, make_user(app_env))
    texts = {"sent": "Đã thay bóng đèn.", "waiting": "Sẽ kiểm tra lại tuần sau.", "failed": "Đã lập biên bản."}
    with session_scope(app_env) as db:
        for text in texts.values():
            service.add_reply(db, code, OFFICE_A, text)
        db.execute(delete(OutboxJob).where(OutboxJob.kind != CITIZEN_REPLY))  # only the replies are due

    def zalo(user: str, text: str) -> str:
        if texts["waiting"] in text:
            raise DeliveryDeferred("outside the cs window")
        if texts["failed"] in text:
            raise DeliveryError("Zalo API error -201", permanent=True)
        return "zalo:cs"

    notify.register_sender("zalo", zalo)
    try:
        stats = outbox.drain(worker_id="console-test")
    finally:
        notify.unregister_sender("zalo")
    assert (stats.done, stats.waiting, stats.dead) == (1, 1, 1)
    page = client.get(f"/console/pakn/{code}").text
    history = page[page.index("Lịch sử xử lý"):]
    for state, label in (("sent", "Đã gửi (tin tư vấn Zalo)"), ("waiting", "Chờ người dân nhắn lại"),
                         ("failed", "Gửi lỗi")):
        at = history.index(texts[state])
        reply_item = history[history.rindex("<li", 0, at):history.index("</li>", at)]
        assert f'class="badge delivery d-{state}">{label}</span>' in reply_item, state
    assert history.count("Chờ người dân nhắn lại") == 2  # the badge and the history entry saying why


def test_inbox_filters(client: TestClient, app_env: str, triage) -> None:
    office = "tay-ninh.so-xay-dung"
    code = submit(app_env, triage, office, "Ổ gà trên đường")
    old = submit(app_env, triage, office, "Cống tắc lâu ngày")
    with session_scope(app_env) as db:
        service.get_by_code(db, old).due_at = datetime.now(UTC) - timedelta(days=2)
    login(client, make_user(app_env, office))
    overdue = client.get("/console/inbox", params={"due": "overdue"}).text
    assert old in overdue and code not in overdue and "Quá hạn" in overdue
    assert code in client.get("/console/inbox", params={"due": "soon"}).text
    assert client.get("/console/inbox", params={"q": "Ổ gà"}).text.count("/console/pakn/") == 1
    assert old not in client.get("/console/inbox", params={"status": "answered"}).text
    assert code in client.get("/console/inbox", params={"category": "moi_truong"}).text
    assert code not in client.get("/console/inbox", params={"category": "y_te"}).text
    tomorrow = (date.today() + timedelta(days=1)).isoformat()
    before = client.get("/console/inbox", params={"due_before": (date.today() - timedelta(days=1)).isoformat()}).text
    assert old in before and code not in before
    assert code in client.get("/console/inbox", params={"due_before": tomorrow}).text


def test_transfer_needs_reason_and_moves_the_petition(client: TestClient, app_env: str, triage) -> None:
    code = submit(app_env, triage, OFFICE_A)
    login(client, make_user(app_env))
    detail = client.get(f"/console/pakn/{code}")
    assert f'value="{OFFICE_B}"' in detail.text  # offer of current offices
    token = csrf_of(detail.text)
    r = client.post(f"/console/pakn/{code}/transfer", data={"office_id": OFFICE_B, "reason": "", "csrf_token": token})
    assert r.status_code == 422 and "lý do" in r.text
    r = client.post(f"/console/pakn/{code}/transfer", data={"office_id": OFFICE_B, "reason": "Thuộc thẩm quyền Sở Tư pháp",
                                                            "csrf_token": token})
    assert r.status_code == 303
    assert client.get(f"/console/pakn/{code}").status_code == 404  # no longer ours
    with session_scope(app_env) as db:
        rec = service.get_by_code(db, code)
        assert rec.office_id == OFFICE_B and rec.status == "transferred"
        assert rec.events[-1].note == "Thuộc thẩm quyền Sở Tư pháp"


def test_invalid_transition_shows_the_service_message(client: TestClient, app_env: str, triage) -> None:
    code = submit(app_env, triage, OFFICE_A)
    token = login(client, make_user(app_env))
    r = client.post(f"/console/pakn/{code}/close", data={"csrf_token": token})
    assert r.status_code == 409 and "Không thể chuyển" in r.text


# ---------------------------------------------------------------- duties, calendar, dashboard, admin


@pytest.fixture
def built(app_env: str) -> str:
    from knowledge.build import build_store

    build_store(app_env, with_index=False, quiet=True)
    return app_env


def test_duties_include_predecessor_offices_and_record_progress(client: TestClient, built: str) -> None:
    login(client, make_user(built, OFFICE_A))
    page = client.get("/console/duties")
    assert page.status_code == 200
    assert "Phòng Nội vụ" in page.text  # old district offices whose successor is today's Sở Nội vụ
    assert "Nhiệm vụ số 31" in page.text  # tayninh-cchc-2024#task-31 (lead: Sở Nội vụ)
    token = csrf_of(page.text)
    r = client.post("/console/duties/progress", data={"task_id": "tayninh-cchc-2024#task-31", "status": "done",
                                                      "note": "Đã ban hành <b>kế hoạch</b>", "csrf_token": token})
    assert r.status_code == 303
    page = client.get("/console/duties").text
    assert "Đã ban hành &lt;b&gt;kế hoạch&lt;/b&gt;" in page
    r = client.post("/console/duties/progress", data={"task_id": "tayninh-cchc-2024#task-11", "status": "done",
                                                      "csrf_token": token})
    assert r.status_code == 404  # Sở Tư pháp's task, not ours
    with session_scope(built) as db:
        rows = db.scalars(select(DutyProgress).where(DutyProgress.office_id == OFFICE_A)).all()
        assert [r.task_id for r in rows].count("tayninh-cchc-2024#task-31") >= 1


def test_duties_calendar_export(client: TestClient, built: str) -> None:
    from icalendar import Calendar

    login(client, make_user(built, OFFICE_B))
    r = client.get("/console/duties.ics")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/calendar")
    cal = Calendar.from_ical(r.content)
    events = [c for c in cal.walk("VEVENT")]
    assert events and all(str(e["UID"]).endswith("@trolyhanhchinh") for e in events)
    assert any("Nhiệm vụ số 11" in str(e["SUMMARY"]) for e in events)


def test_dashboard_renders_chart_data(client: TestClient, app_env: str, triage) -> None:
    submit(app_env, triage, OFFICE_A)
    login(client, make_user(app_env))
    r = client.get("/console/dashboard")
    assert r.status_code == 200
    assert r.text.count("<canvas") == 4 and "/console/static/chart.umd.min.js" in r.text
    assert "script-src 'self'" in r.headers["content-security-policy"]
    assert client.get("/console/static/chart.umd.min.js").status_code == 200


def test_admin_creates_and_disables_accounts(client: TestClient, app_env: str) -> None:
    token = login(client, make_user(app_env, None, role="admin"))
    email = f"moi-{uid()}@example.vn"
    r = client.post("/console/admin/users", data={"email": email, "password": "ngan", "role": "staff",
                                                  "office_id": OFFICE_A, "csrf_token": token})
    assert r.status_code == 422 and "ít nhất 10" in r.text
    r = client.post("/console/admin/users", data={"email": email, "password": PASSWORD, "role": "staff",
                                                  "office_id": "khong-co.co-quan", "csrf_token": token})
    assert r.status_code == 422 and "Không tìm thấy cơ quan" in r.text
    r = client.post("/console/admin/users", data={"email": email, "password": PASSWORD, "role": "staff",
                                                  "office_id": OFFICE_A, "csrf_token": token})
    assert r.status_code == 303
    assert email in client.get("/console/admin/users").text
    with session_scope(app_env) as db:
        user = db.scalars(select(ConsoleUser).where(ConsoleUser.email == email)).one()
        assert user.password_hash.startswith("$argon2id$") and user.office_id == OFFICE_A
        uid_ = user.id
    assert client.post(f"/console/admin/users/{uid_}/disable", data={"csrf_token": token}).status_code == 303
    other = TestClient(client.app, base_url="https://testserver", follow_redirects=False)
    page = other.get("/console/login")
    r = other.post("/console/login", data={"email": email, "password": PASSWORD, "csrf_token": csrf_of(page.text)})
    assert r.status_code == 401


@pytest.mark.parametrize("value,expected", [
    ("04/12/2026", date(2026, 12, 4)), ("4/12/2026", date(2026, 12, 4)), (" 04-12-2026 ", date(2026, 12, 4)),
    ("04.12.2026", date(2026, 12, 4)), ("2026-12-04", date(2026, 12, 4)),  # older links: yyyy-mm-dd
    ("13/25/2026", None), ("31/02/2026", None), ("12/04/26", None), ("01/01/9999", None), ("", None), ("x", None),
])
def test_due_date_filter_reads_day_month_year(value: str, expected: date | None) -> None:
    """Issue 16: the console's due-date box is read as Vietnamese write dates, dd/mm/yyyy."""
    from console.routes import _parse_date

    assert _parse_date(value) == expected
