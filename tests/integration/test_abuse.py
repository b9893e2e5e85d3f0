"""Authorization and abuse cases of the outside probe (issue 15), organised by route.

Each test is a case the probe ran against a live server, with the result it must have now; the
docstring names the finding. Chat cases run on the built default store (the bot needs its
knowledge); PAKN and Open311 cases on SQLite and PostgreSQL with a deterministic triage.
"""
from __future__ import annotations

import socket
import threading
import time
import unicodedata
import uuid

import httpx
import pytest
from fastapi.testclient import TestClient

from api.clients import SCOPE_OFFICE, create_client
from db import session_scope

pytestmark = pytest.mark.integration
DRAFT = "Bãi rác sau chợ Long Hoa bốc mùi cả tuần nay, đề nghị thu gom"


def new_key(db_url: str, scope: str = "chat", office: str | None = None) -> str:
    with session_scope(db_url) as db:
        return create_client(db, client_id=f"c-{uuid.uuid4().hex[:10]}", name="thử", scope=scope, office_id=office)


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


@pytest.fixture
def app_factory(app_with_env):
    def make(db_url: str, **env: str):
        return app_with_env(**{"DATABASE_URL": db_url, "STAFF_API_TOKEN": "abuse-staff-token-123",
                               "CONSOLE_COOKIE_SECURE": "false", **env})

    return make


@pytest.fixture
def chat_app(app_factory, default_store):
    return app_factory(default_store, RATE_LIMIT_PER_MINUTE="1000")


@pytest.fixture
def pakn_app(app_factory, db_url, fake_triage):
    return app_factory(db_url, RATE_LIMIT_PER_MINUTE="1000", RATE_LIMIT_PER_IP_PER_MINUTE="1000")


def say(client: TestClient, text: str, headers: dict[str, str] | None = None, **body) -> httpx.Response:
    return client.post("/api/v1/chat", json={"text": text, **body}, headers=headers or {})


# ---------------------------------------------------------------- POST /api/v1/chat (finding 1)


@pytest.mark.parametrize("channel", ["zalo", "telegram", "open311", "ZALO", "cli"])
def test_chat_refuses_channels_it_cannot_prove(chat_app, channel) -> None:
    r = say(TestClient(chat_app), "tra cứu phản ánh của tôi", user_id="z-victim", channel=channel)
    assert r.status_code == 422 and "webhook" in r.text


def test_a_draft_belongs_to_the_client_that_wrote_it(chat_app, default_store) -> None:
    victim, other = new_key(default_store), new_key(default_store)
    client = TestClient(chat_app)
    label = f"lan-{uuid.uuid4().hex[:6]}"
    for text in ("tôi muốn phản ánh", DRAFT, "phường Long Hoa, Tây Ninh"):
        assert say(client, text, user_id=label, channel="api", headers=bearer(victim)).status_code == 200
    # The victim, however the label is spelled, is at the confirmation step of their draft ...
    r = say(client, "0912345678", user_id=label.upper(), channel="api", headers=bearer(victim))
    assert "Long Hoa" in r.text and "0912345678" in r.text
    # ... the same label from another client, from the local client, or from the web is someone else.
    for headers, channel in ((bearer(other), "api"), ({}, "api"), ({}, "web")):
        r = say(TestClient(chat_app), "Gửi", user_id=label, channel=channel, headers=headers)
        assert r.status_code == 200 and "Long Hoa" not in r.text
    # A wrong key is refused, not read as the local client.
    r = say(client, "Gửi", user_id=label, channel="api", headers=bearer(victim[:-4] + "AAAA"))
    assert r.status_code == 401


def test_web_identity_is_the_session_cookie(chat_app) -> None:
    page = TestClient(chat_app)
    r = page.get("/")
    assert r.status_code == 200
    cookie = r.headers["set-cookie"]
    assert "hc_chat=" in cookie and "httponly" in cookie.lower() and "samesite=strict" in cookie.lower()
    say(page, "tôi muốn phản ánh", channel="web", user_id="ignored")
    say(page, DRAFT, channel="web", user_id="ignored")
    # Another browser naming the same body user_id, or presenting a forged cookie, is a stranger.
    stranger = TestClient(chat_app)
    assert "Long Hoa" not in say(stranger, "Gửi", channel="web", user_id="ignored").text
    forged = TestClient(chat_app, cookies={"hc_chat": page.cookies["hc_chat"].rsplit(".", 1)[0] + ".00"})
    r = say(forged, "Gửi", channel="web")
    assert "Long Hoa" not in r.text and "hc_chat=" in r.headers.get("set-cookie", "")


def test_a_zalo_users_petitions_are_not_listed_to_a_rest_caller(chat_app, default_store, fake_triage) -> None:
    from pakn.service import submit

    zalo_user = f"z-{uuid.uuid4().hex[:8]}"
    fake_triage.complaint = True
    with session_scope(default_store) as s:
        code = submit(s, content="Tôi tố cáo cán bộ địa chính đòi 20 triệu", location=None,
                      contact="0912345678", channel="zalo", channel_user_id=zalo_user, triage=fake_triage).code
    client = TestClient(chat_app)
    for body in ({"user_id": zalo_user, "channel": "api"}, {"user_id": f"zalo:{zalo_user}", "channel": "api"},
                 {"user_id": zalo_user, "channel": "web"}):
        r = say(client, "tra cứu phản ánh của tôi", **body)
        assert r.status_code == 200 and code not in r.text
    # Holding the code shows the status, never the office's answer to a denunciation.
    r = say(client, f"tra cứu {code}", user_id="someone", channel="api")
    assert code in r.text and "đòi" not in r.text


# ---------------------------------------------------------------- POST /api/v1/pakn (finding 3)


def test_rest_intake_cannot_file_as_a_zalo_user(pakn_app) -> None:
    client = TestClient(pakn_app)
    r = client.post("/api/v1/pakn", json={"content": DRAFT, "contact": "0912345678", "channel": "zalo",
                                          "channel_user_id": "z-victim"})
    assert r.status_code == 422 and "Kênh gửi không hợp lệ" in r.json()["detail"]


def test_repeat_keys_are_per_client(pakn_app, db_url) -> None:
    """Another client's Idempotency-Key or external_id must not hand back that client's code."""
    a, b = TestClient(pakn_app, headers=bearer(new_key(db_url))), TestClient(pakn_app, headers=bearer(new_key(db_url)))
    petition = {"content": DRAFT, "contact": "0912345678", "external_id": uuid.uuid4().hex}
    key = {"Idempotency-Key": uuid.uuid4().hex}
    first = a.post("/api/v1/pakn", json=petition, headers=key)
    assert first.status_code == 201
    second = b.post("/api/v1/pakn", json=petition, headers=key)
    assert second.status_code == 201 and second.json()["code"] != first.json()["code"]


# ---------------------------------------------------------------- lookups by code (finding 2)


def test_codes_are_long_and_every_lookup_shows_the_same_minimal_view(pakn_app, fake_triage) -> None:
    client = TestClient(pakn_app)
    fake_triage.complaint = True
    ack = client.post("/api/v1/pakn", json={"content": "Tôi tố cáo ông Tư ở tổ 3 nhận tiền để cấp phép",
                                            "location": "12 hẻm 5, phường Tân Ninh, Tây Ninh",
                                            "contact": "0912345678"}).json()
    code = ack["code"]
    assert len(code.replace("-", "")) == len("PA") + 4 + 10  # 50 random bits
    views = [client.get(f"/api/v1/pakn/{code}").json(),
             client.get(f"/open311/v2/requests/{code}.json").json()[0],
             *client.get("/open311/v2/requests.json", params={"service_request_id": code}).json()]
    for view in views:
        text = str(view)
        assert "ông Tư" not in text and "hẻm" not in text and "0912345678" not in text
    assert views[1] == views[2]
    assert views[1]["description"] is None and views[1]["address"] is None


def test_lookups_are_rate_limited_per_address(app_factory, db_url, fake_triage) -> None:
    app = app_factory(db_url, LOOKUP_RATE_LIMIT_PER_MINUTE="5")
    client = TestClient(app, client=("10.9.0.1", 5000))
    codes = [f"PA-2612-{uuid.uuid4().hex[:5].upper()}-AAAAA" for _ in range(5)]
    assert [client.get(f"/api/v1/pakn/{c}").status_code for c in codes[:3]] == [404] * 3
    assert client.get(f"/open311/v2/requests/{codes[3]}.json").status_code == 404
    r = client.get("/open311/v2/requests.json", params={"service_request_id": ",".join(codes)})
    assert r.status_code == 429 and r.json()[0]["code"] == 429
    assert client.get(f"/api/v1/pakn/{codes[0]}").status_code == 429
    assert TestClient(app, client=("10.9.0.2", 5000)).get(f"/api/v1/pakn/{codes[0]}").status_code == 404
    many = ",".join(codes * 5)
    r = TestClient(app, client=("10.9.0.3", 5000)).get("/open311/v2/requests.json",
                                                      params={"service_request_id": many})
    assert r.status_code == 400  # at most 20 codes a request


# ---------------------------------------------------------------- Open311 edges (findings 6, 10)


@pytest.mark.parametrize("params", [
    {"start_date": "9999-12-31T23:59:59", "end_date": "0001-01-01"},
    {"start_date": "0001-01-01T00:00:00+14:00"},
    {"end_date": "0001-01-01T00:00:00"},
    {"start_date": "2026-05-01T00:00:00", "end_date": "2026-01-01T00:00:00"},
    {"start_date": "not a date"},
])
def test_open311_date_edges_are_400_in_vietnamese(pakn_app, params) -> None:
    r = TestClient(pakn_app).get("/open311/v2/requests.json", params=params)
    assert r.status_code == 400 and r.json()[0]["description"]


@pytest.mark.parametrize("lat,lon", [("nan", "nan"), ("1e999", "1"), ("10.7", "inf"), ("91", "106"), ("-inf", "1")])
def test_open311_coordinates_must_be_real(pakn_app, lat, lon) -> None:
    r = TestClient(pakn_app).post("/open311/v2/requests.json",
                                  data={"service_code": "moi_truong", "description": DRAFT, "lat": lat, "long": lon})
    assert r.status_code == 400 and "tọa độ" in r.json()[0]["description"] or "số" in r.json()[0]["description"]


# ---------------------------------------------------------------- staff API (finding 10)


def test_an_office_key_acts_only_on_its_own_office(pakn_app, db_url, fake_triage) -> None:
    client = TestClient(pakn_app)
    fake_triage.office_id = "office-a"
    mine = client.post("/api/v1/pakn", json={"content": DRAFT, "contact": "0912345678"}).json()["code"]
    fake_triage.office_id = "office-b"
    theirs = client.post("/api/v1/pakn", json={"content": DRAFT + " nữa", "contact": "0912345678"}).json()["code"]
    key = bearer(new_key(db_url, SCOPE_OFFICE, "office-a"))
    assert client.post(f"/api/v1/pakn/{theirs}/reply", json={"office_id": "office-a", "text": "x"},
                       headers=key).status_code == 403
    assert client.post(f"/api/v1/pakn/{mine}/reply", json={"office_id": "office-b", "text": "x"},
                       headers=key).status_code == 403
    assert client.post(f"/api/v1/pakn/{mine}/reply", json={"office_id": "office-a", "text": "Đã xử lý."},
                       headers=key).status_code == 200
    chat_key = bearer(new_key(db_url))  # an integration's chat key is no staff credential
    assert client.post(f"/api/v1/pakn/{mine}/transition", json={"to_status": "closed", "actor": "x"},
                       headers=chat_key).status_code == 401


def test_production_hides_the_explorer_and_metrics(app_factory, sqlite_url) -> None:
    secrets = {"ENV": "production", "SECRET_KEY": "s" * 32, "STAFF_API_TOKEN": "t" * 32,
               "WEBHOOK_HMAC_SECRET": "w" * 32, "METRICS_TOKEN": "m" * 32}
    client = TestClient(app_factory(sqlite_url, **secrets))
    for path in ("/docs", "/redoc", "/openapi.json", "/metrics"):
        assert client.get(path).status_code == 404, path
    assert client.get("/metrics", headers=bearer("m" * 32)).status_code == 200
    # and in production the REST chat needs an integration's key
    r = client.post("/api/v1/chat", json={"user_id": "u1", "text": "xin chào", "channel": "api"})
    assert r.status_code == 401


# ---------------------------------------------------------------- GET / (finding 9)


def test_web_chat_page_has_security_headers(pakn_app) -> None:
    r = TestClient(pakn_app).get("/")
    assert "script-src 'self'" in r.headers["content-security-policy"]
    assert "frame-ancestors 'none'" in r.headers["content-security-policy"]
    assert r.headers["x-frame-options"] == "DENY" and r.headers["x-content-type-options"] == "nosniff"


# ---------------------------------------------------------------- console (findings 6, 7, 10)


def test_console_inbox_date_edges(app_factory, db_url) -> None:
    from tests.integration.test_console import login, make_user

    client = TestClient(app_factory(db_url), base_url="https://testserver", follow_redirects=False)
    login(client, make_user(db_url))
    for value in ("9999-12-31", "0001-01-01", "2026-02-30", "x"):
        assert client.get("/console/inbox", params={"due_before": value}).status_code == 200, value


@pytest.mark.parametrize("password", ["aaaaaaaaaa", "1111111111", "1234567890", "password123", "qwertyuiop"])
def test_trivial_staff_passwords_are_refused(db_url, password) -> None:
    from console import auth

    with pytest.raises(auth.AuthError, match="dễ đoán"), session_scope(db_url) as db:
        auth.create_user(db, email=f"weak-{uuid.uuid4().hex[:6]}@example.vn", password=password,
                         role="admin")


def test_wrong_passwords_from_one_address_do_not_lock_the_officer_out_elsewhere(app_factory, db_url) -> None:
    from console import auth
    from tests.integration.test_console import PASSWORD, make_user

    app_factory(db_url)
    email = make_user(db_url)
    with session_scope(db_url) as db:
        for _ in range(6):
            with pytest.raises(auth.AuthError):
                auth.authenticate(db, email, "sai-mat-khau-roi", "203.0.113.7")
    with session_scope(db_url) as db:
        with pytest.raises(auth.AuthError) as locked:
            auth.authenticate(db, email, PASSWORD, "203.0.113.7")  # that address stays locked
        assert locked.value.status == 429
    with session_scope(db_url) as db:
        assert auth.authenticate(db, email, PASSWORD, "198.51.100.4").email == email  # the office's own


# ---------------------------------------------------------------- X-Forwarded-For (finding 5)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _serve(app, *, proxy_headers: bool) -> tuple[object, str]:
    import uvicorn

    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning",
                                           proxy_headers=proxy_headers, lifespan="off"))
    threading.Thread(target=server.run, daemon=True).start()
    deadline = time.monotonic() + 60
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    return server, f"http://127.0.0.1:{port}"


def _entry_point_flags() -> bool:
    """Whether every entry point starts uvicorn the way this test does (no proxy headers)."""
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    return all("--no-proxy-headers" in (root / f).read_text() for f in ("Makefile", "docker/prestart.sh"))


def test_forwarded_for_is_believed_only_from_configured_proxies(app_factory, db_url) -> None:
    assert _entry_point_flags()
    app = app_factory(db_url, LOOKUP_RATE_LIMIT_PER_MINUTE="3")
    server, url = _serve(app, proxy_headers=False)
    try:
        codes = [httpx.get(f"{url}/api/v1/pakn/PA-2612-AAAAA-AAAAA",
                           headers={"X-Forwarded-For": f"198.51.100.{i}"}).status_code for i in range(5)]
        assert codes == [404, 404, 404, 429, 429]  # rotating the header does not make a new client
    finally:
        server.should_exit = True
    app = app_factory(db_url, LOOKUP_RATE_LIMIT_PER_MINUTE="3", FORWARDED_ALLOW_IPS="127.0.0.1")
    server, url = _serve(app, proxy_headers=False)
    try:
        codes = [httpx.get(f"{url}/api/v1/pakn/PA-2612-AAAAA-AAAAA",
                           headers={"X-Forwarded-For": f"198.51.100.{i}"}).status_code for i in range(5)]
        assert codes == [404] * 5  # behind a configured proxy, each forwarded address is its own client
    finally:
        server.should_exit = True


# ---------------------------------------------------------------- second probe (after the fixes above)

DENUNCIATIONS = [
    unicodedata.normalize("NFD", "Tôi tố cáo ông Ngô Văn K, phó chủ tịch phường, nhận hối lộ"),
    "Tôi tố giác ông Lê Văn D làm sai, nhà tôi ở số 21 đường Lê Duẩn",
    "Tôi tố-cáo cán bộ địa chính", "Tôi tố\u200bcáo cán bộ thuế", "Cán bộ đòi phong bì mới giải quyết hồ sơ",
]


@pytest.mark.parametrize("text", DENUNCIATIONS)
def test_a_denunciation_in_any_spelling_is_never_published(pakn_app, text) -> None:
    """Triage missed these spellings once, and Open311 listed them in full (probe 2, finding 1)."""
    client = TestClient(pakn_app)
    r = client.post("/open311/v2/requests.json", data={"service_code": "moi_truong", "description": text,
                                                       "lat": "10.77", "long": "106.70"})
    assert r.status_code == 201, r.text
    code = r.json()[0]["service_request_id"]
    listed = {x["service_request_id"] for x in client.get("/open311/v2/requests.json").json()}
    assert code not in listed
    [one] = client.get(f"/open311/v2/requests/{code}.json").json()
    assert one["description"] is None and one["address"] is None


def test_staff_notes_and_a_strangers_chat_lookup_stay_masked(pakn_app, db_url, fake_triage) -> None:
    """Transition notes are internal; an office's answer read by a code holder is masked (probe 2, 2 and 4)."""
    from bot.answers.pakn import status_reply

    client = TestClient(pakn_app)
    code = client.post("/api/v1/pakn", json={"content": DRAFT, "contact": "0912345678"}).json()["code"]
    staff = bearer("abuse-staff-token-123")
    note = "Nội bộ: người gửi ở số 5 hẻm 9 Lê Lợi, gọi 0912 / 345 / 678"
    assert client.post(f"/api/v1/pakn/{code}/transition", headers=staff,
                       json={"to_status": "in_progress", "actor": "can-bo", "note": note}).status_code == 200
    assert client.post(f"/api/v1/pakn/{code}/reply", headers=staff,
                       json={"office_id": "office-default",
                             "text": "Đã liên hệ chị Lan (0912/345/678, lan at gmail dot com) tại số 12 hẻm 5"}
                       ).status_code == 200
    view = client.get(f"/api/v1/pakn/{code}").text
    assert "Nội bộ" not in view and "345" not in view and "gmail" not in view and "hẻm 5" not in view
    seen_by_stranger = status_reply(code, channel="web", user_id="someone-else").reply
    assert "Đã liên hệ chị Lan" in seen_by_stranger
    assert "345" not in seen_by_stranger and "gmail" not in seen_by_stranger and "hẻm 5" not in seen_by_stranger


def test_open311_media_url_must_be_a_web_address(pakn_app) -> None:
    r = TestClient(pakn_app).post("/open311/v2/requests.json", data={
        "service_code": "moi_truong", "description": DRAFT, "lat": "10.77", "long": "106.70",
        "media_url": "javascript:alert(1)"})
    assert r.status_code == 400 and "media_url" in r.json()[0]["description"]


def test_reserved_client_ids_and_unknown_env(db_url) -> None:
    from api.clients import ClientError
    from settings import Settings

    with pytest.raises(ClientError), session_scope(db_url) as db:
        create_client(db, client_id="local", name="x")
    for value in ("Production", " production", "prod"):
        assert Settings(env=value, secret_key="s" * 32, staff_api_token="t" * 32,
                        webhook_hmac_secret="w" * 32).env == "production"
    with pytest.raises(ValueError):
        Settings(env="staging")


def test_over_https_the_web_session_is_a_host_only_cookie(chat_app) -> None:
    """A __Host- cookie cannot be planted by a sibling subdomain or a plain-HTTP page (probe 2, low)."""
    client = TestClient(chat_app, base_url="https://testserver")
    cookie = client.get("/").headers["set-cookie"]
    assert cookie.startswith("__Host-hc_chat=") and "secure" in cookie.lower() and "domain" not in cookie.lower()
    say(client, "tôi muốn phản ánh", channel="web")
    r = say(client, DRAFT, channel="web")
    assert "set-cookie" not in r.headers  # the same session continues
    planted = TestClient(chat_app, base_url="https://testserver",
                         cookies={"hc_chat": client.cookies["__Host-hc_chat"]})
    assert "__Host-hc_chat=" in say(planted, "Gửi", channel="web").headers["set-cookie"]  # not accepted
