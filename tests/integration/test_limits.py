"""Abuse limits over the real app: rate limits on chat and PAKN (in-process and Redis), one body-size
limit for every route, and hostile strings stored verbatim and returned escaped."""
from __future__ import annotations

import json
import socket
import uuid

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select, text

from api.identity import fold_label
from db import session_scope
from pakn.models import PaknRecord
from settings import get_settings

pytestmark = pytest.mark.integration

LIMIT = 3
SQLI = "'; DROP TABLE pakn_records; -- \" OR 1=1 --"
XSS = "<script>alert('x')</script><img src=x onerror=alert(1)>"


@pytest.fixture
def make_app(app_with_env, db_url: str):
    def make(**env: str):
        return app_with_env(**{"DATABASE_URL": db_url, "RATE_LIMIT_PER_MINUTE": str(LIMIT),
                               "RATE_LIMIT_PER_IP_PER_MINUTE": str(LIMIT), "MAX_BODY_BYTES": "4000", **env})

    return make


class Clock:
    """Replaces the limiter's clocks so the window can be crossed without sleeping."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        import api.limits

        self.now = 1_000_000.0
        monkeypatch.setattr(api.limits.time, "monotonic", lambda: self.now)
        monkeypatch.setattr(api.limits.time, "time", lambda: self.now)


def count_records(db_url: str) -> int:
    with session_scope(db_url) as s:
        return s.scalar(select(func.count()).select_from(PaknRecord))


def chat(client: TestClient, user: str) -> int:
    # Without a user: refused (422) after the per-address limiter counted it, so no answer is computed.
    # With one: a greeting, the cheapest answer; the per-user limit counts the verified user.
    body = {"user_id": "", "text": "x"} if not user else {"user_id": user, "text": "xin chào", "channel": "api"}
    return client.post("/api/v1/chat", json=body).status_code


def pakn(client: TestClient, user: str | None = None) -> int:
    body = {"content": "", "channel": "api"} | ({"channel_user_id": user} if user else {})
    return client.post("/api/v1/pakn", json=body).status_code  # 422: empty content, nothing stored


def _redis_up() -> bool:
    try:
        with socket.create_connection(("127.0.0.1", 6379), timeout=1):
            return True
    except OSError:
        return False


@pytest.fixture(params=["memory", "redis"])
def backend_env(request: pytest.FixtureRequest) -> dict[str, str]:
    if request.param == "memory":
        yield {}
        return
    if not _redis_up():
        pytest.skip("Redis at 127.0.0.1:6379 does not answer")
    prefix = f"test-{uuid.uuid4().hex[:10]}:"
    yield {"REDIS_URL": "redis://127.0.0.1:6379/0", "REDIS_KEY_PREFIX": prefix}
    import redis

    r = redis.Redis.from_url("redis://127.0.0.1:6379/0")
    keys = list(r.scan_iter(match=f"{prefix}*"))
    if keys:
        r.delete(*keys)
    r.close()


def test_per_address_limit_trips_at_the_limit_and_resets(make_app, backend_env, monkeypatch, db_url) -> None:
    clock = Clock(monkeypatch)
    app = make_app(**backend_env)
    client = TestClient(app, client=("10.1.1.1", 5000))
    before = count_records(db_url)
    assert [pakn(client) for _ in range(LIMIT)] == [422] * LIMIT
    clock.now += 10
    r = client.post("/api/v1/pakn", json={"content": "Đèn đường hỏng", "contact": "0912345678"})
    assert r.status_code == 429
    assert r.json()["detail"] == "Bạn đã gửi quá nhiều yêu cầu. Vui lòng thử lại sau 50 giây."
    assert r.headers["retry-after"] == "50"
    assert count_records(db_url) == before  # the refused petition was not stored
    # chat has its own budget; other routes are not limited
    assert [chat(client, "") for _ in range(LIMIT)] == [422] * LIMIT
    assert chat(client, "") == 429
    assert client.get("/healthz").status_code == 200
    assert client.post("/api/v1/pakn/classify", json={"content": ""}).status_code == 422
    # another address is unaffected
    assert pakn(TestClient(app, client=("10.1.1.2", 5000))) == 422
    # the window slides: a minute after the first hits, the address may post again
    clock.now += 50.5
    assert pakn(client) == 422 and chat(client, "") == 429  # chat's first hits were 10 s later
    clock.now += 10
    assert chat(client, "") == 422


def test_per_user_limit_across_addresses(make_app, backend_env, monkeypatch) -> None:
    Clock(monkeypatch)
    app = make_app(**backend_env)
    user = f"user-{uuid.uuid4().hex[:6]}"
    addresses = [TestClient(app, client=(f"10.2.0.{i}", 5000)) for i in range(LIMIT + 2)]
    assert [pakn(addresses[i], user) for i in range(LIMIT)] == [422] * LIMIT
    assert pakn(addresses[LIMIT], user) == 429  # a new address, same user
    assert pakn(addresses[LIMIT], "someone-else") == 422
    assert [chat(addresses[i], user) for i in range(LIMIT)] == [200] * LIMIT
    r = addresses[LIMIT + 1].post("/api/v1/chat", json={"user_id": user, "text": "xin chào"})
    assert r.status_code == 429 and "quá nhiều yêu cầu" in r.json()["detail"] and int(r.headers["retry-after"]) >= 1


@pytest.mark.parametrize("variant", [str.upper, lambda u: u[:3] + "\u200b" + u[3:], lambda u: f"  {u} "])
def test_per_user_limit_is_not_dodged_by_respelling_the_user(make_app, monkeypatch, variant) -> None:
    """Case, a zero-width character or spaces do not make a new person (probe finding 8)."""
    Clock(monkeypatch)
    app = make_app(RATE_LIMIT_PER_IP_PER_MINUTE="1000")
    client = TestClient(app, client=("10.3.0.1", 5000))
    user = f"user-{uuid.uuid4().hex[:6]}"
    assert [chat(client, user) for _ in range(LIMIT)] == [200] * LIMIT
    assert chat(client, variant(user)) == 429
    # nor does naming another channel: REST speaks only for its own
    r = client.post("/api/v1/chat", json={"user_id": user, "text": "xin chào", "channel": "zalo"})
    assert r.status_code == 422 and "webhook" in r.text
    assert [pakn(client, user) for _ in range(LIMIT)] == [422] * LIMIT
    assert pakn(client, variant(user)) == 429


def test_pakn_without_a_user_is_limited_per_contact(make_app, monkeypatch) -> None:
    """REST intake without channel_user_id was limited per address only (probe finding 8)."""
    Clock(monkeypatch)
    app = make_app(RATE_LIMIT_PER_IP_PER_MINUTE="1000")
    body = {"content": "", "contact": "Chị Lan 0912 345 678"}
    codes = [TestClient(app, client=(f"10.4.0.{i}", 5000)).post("/api/v1/pakn", json=body).status_code
             for i in range(LIMIT + 1)]
    assert codes == [422] * LIMIT + [429]


def test_limit_zero_disables_and_redis_outage_fails_open(make_app, monkeypatch) -> None:
    client = TestClient(make_app(RATE_LIMIT_PER_MINUTE="0"))
    assert {pakn(client) for _ in range(LIMIT + 2)} == {422}
    # Nothing listens on port 1: the limiter cannot answer, citizens are still served.
    client = TestClient(make_app(REDIS_URL="redis://127.0.0.1:1/0"))
    assert {pakn(client) for _ in range(LIMIT + 2)} == {422}


# ---------------------------------------------------------------- body size


BIG = "x" * 5000  # MAX_BODY_BYTES is 4000 in these tests


@pytest.mark.parametrize("method, path, kwargs", [
    ("POST", "/api/v1/pakn", {"json": {"content": BIG, "contact": "0912345678"}}),
    ("POST", "/api/v1/chat", {"json": {"user_id": "u", "text": BIG}}),
    ("POST", "/open311/v2/requests.json", {"data": {"service_code": "moi_truong", "description": BIG,
                                                     "phone": "0912345678"}}),
    ("POST", "/webhooks/zalo", {"json": {"event_name": "user_send_text", "message": {"text": BIG}}}),
    ("POST", "/console/login", {"data": {"email": "a@b.vn", "password": BIG}}),
    ("POST", "/api/v1/pakn/classify", {"json": {"content": BIG}}),
    ("PUT", "/api/v1/does-not-exist", {"content": BIG.encode()}),
])
def test_oversized_bodies_are_refused_everywhere(make_app, fake_triage, db_url, method, path, kwargs) -> None:
    client = TestClient(make_app(RATE_LIMIT_PER_MINUTE="1000", RATE_LIMIT_PER_IP_PER_MINUTE="1000"))
    before = count_records(db_url)
    r = client.request(method, path, **kwargs)
    assert r.status_code == 413, r.text
    assert r.json() == {"detail": "Dữ liệu gửi lên quá lớn (tối đa 4 KB)."}
    assert count_records(db_url) == before
    assert fake_triage.calls == 0


def test_chunked_body_without_length_is_cut_off(make_app, fake_triage, db_url) -> None:
    client = TestClient(make_app())
    before = count_records(db_url)
    payload = json.dumps({"content": BIG, "contact": "0912345678"}).encode()

    def chunks():
        for i in range(0, len(payload), 1000):
            yield payload[i:i + 1000]

    r = client.post("/api/v1/pakn", content=chunks(), headers={"content-type": "application/json"})
    assert r.status_code == 413 and "quá lớn" in r.json()["detail"]
    assert count_records(db_url) == before and fake_triage.calls == 0
    # just under the limit is accepted
    ok = client.post("/api/v1/pakn", json={"content": "y" * 3000, "contact": "0912345678"})
    assert ok.status_code == 201, ok.text
    assert count_records(db_url) == before + 1


# ---------------------------------------------------------------- hostile strings


def test_sql_and_script_in_pakn_are_stored_verbatim_and_returned_escaped(make_app, fake_triage, db_url,
                                                                          monkeypatch) -> None:
    from tests.integration.test_console import csrf_of, login, make_user

    office = "tay-ninh.so-noi-vu"
    fake_triage.office_id = office
    app = make_app(RATE_LIMIT_PER_MINUTE="1000", RATE_LIMIT_PER_IP_PER_MINUTE="1000", CONSOLE_COOKIE_SECURE="false")
    client = TestClient(app)
    content = f"Rác thải {SQLI} {XSS} ở chợ"
    r = client.post("/api/v1/pakn", json={"content": content, "contact": "0912345678",
                                          "channel_user_id": SQLI, "external_id": uuid.uuid4().hex})
    assert r.status_code == 201, r.text
    code = r.json()["code"]
    with session_scope(db_url) as s:
        row = s.scalars(select(PaknRecord).where(PaknRecord.code == code)).one()
        # stored verbatim, as a label in the local client's namespace (api.identity)
        assert row.content == content and row.channel_user_id == "local:" + fold_label(SQLI)
        assert s.execute(text("SELECT count(*) FROM pakn_records")).scalar() >= 1  # the table is still there
    # JSON: a REST petition's words are not public, even to its code's holder ...
    r = client.get(f"/open311/v2/requests/{code}.json")
    assert r.status_code == 200 and r.json()[0]["description"] is None
    # ... one filed through Open311 is, and parses back to exactly what was sent.
    r = client.post("/open311/v2/requests.json", data={"service_code": "moi_truong", "description": content,
                                                       "lat": "10.77", "long": "106.70"})
    assert r.status_code == 201, r.text
    r = client.get(f"/open311/v2/requests/{r.json()[0]['service_request_id']}.json")
    assert r.status_code == 200 and r.headers["content-type"].startswith("application/json")
    assert r.json()[0]["description"] == content
    # HTML: the staff console shows it escaped.
    console = TestClient(app, base_url="https://testserver", follow_redirects=False)
    login(console, make_user(db_url, office))
    page = console.get(f"/console/pakn/{code}")
    assert page.status_code == 200
    assert "<script>alert(" not in page.text and "<img src=x" not in page.text
    assert "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;" in page.text
    assert "&#39;; DROP TABLE pakn_records; --" in page.text
    assert csrf_of(page.text)


@pytest.fixture
def chat_client(monkeypatch: pytest.MonkeyPatch, default_store: str) -> TestClient:
    monkeypatch.setenv("DATABASE_URL", default_store)
    monkeypatch.setenv("RATE_LIMIT_PER_MINUTE", "1000")
    get_settings.cache_clear()
    from api.main import create_app

    yield TestClient(create_app())
    get_settings.cache_clear()


def test_hostile_chat_text_gets_a_normal_json_answer(chat_client, default_store) -> None:
    for user, text_ in ((f"u-{uuid.uuid4().hex[:6]}", SQLI), (f"u-{uuid.uuid4().hex[:6]}", XSS),
                        (SQLI, "thủ tục khai sinh"), (XSS, XSS)):
        r = chat_client.post("/api/v1/chat", json={"user_id": user, "text": text_, "channel": "api"})
        assert r.status_code == 200, r.text
        assert r.headers["content-type"].startswith("application/json")
        reply = r.json()
        assert isinstance(reply["reply"], str) and reply["reply"] and reply["intent"]
        if "<script>" in r.text:  # echoed input may only appear as JSON string data
            assert XSS in json.dumps(reply, ensure_ascii=False)
    with session_scope(default_store) as s:
        assert s.execute(text("SELECT 1")).scalar() == 1
