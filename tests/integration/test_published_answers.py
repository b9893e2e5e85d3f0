"""Published answers (issue 19, item 3) on SQLite and PostgreSQL: the page `/pakn/da-tra-loi`, the
API `/api/v1/pakn/answered` and Open311's closed listing show the same thing — the office's masked
answer, category, ward, office and dates; a petition's own words only when filed through Open311;
nothing of a complaint or denunciation — and the search matches folded text of what is shown only.
"""
from __future__ import annotations

import uuid

import pytest
from fastapi.testclient import TestClient

from settings import get_settings

pytestmark = pytest.mark.integration
TOKEN = "published-staff-token-123"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
WARD = "phường Bến Thành, TP. Hồ Chí Minh"


@pytest.fixture
def client(monkeypatch: pytest.MonkeyPatch, db_url: str, fake_triage):
    monkeypatch.setenv("DATABASE_URL", db_url)
    monkeypatch.setenv("STAFF_API_TOKEN", TOKEN)
    monkeypatch.setenv("RATE_LIMIT_PER_MINUTE", "1000")
    monkeypatch.setenv("LOOKUP_RATE_LIMIT_PER_MINUTE", "1000")
    get_settings.cache_clear()
    from api.main import create_app

    yield TestClient(create_app(triage=fake_triage))
    get_settings.cache_clear()


def file_rest(client: TestClient, content: str, location: str = "12 hẻm 5, " + WARD) -> str:
    r = client.post("/api/v1/pakn", json={"content": content, "location": location, "contact": "0912345678",
                                          "external_id": uuid.uuid4().hex})
    assert r.status_code == 201, r.text
    return r.json()["code"]


def reply(client: TestClient, code: str, text: str) -> None:
    r = client.post(f"/api/v1/pakn/{code}/reply", json={"office_id": "office-default", "text": text}, headers=AUTH)
    assert r.status_code == 200, r.text


@pytest.fixture
def answered(client, fake_triage) -> dict[str, str]:
    """A chat/REST petition, an Open311 one and a denunciation, all answered; one left unanswered.
    `tok` is in every text so each test finds only its own rows in the shared database."""
    tok = uuid.uuid4().hex[:8]
    rest = file_rest(client, f"Đèn đường trước nhà ông Ba hẻm 5 hỏng cả tháng, bí mật {tok}x")
    reply(client, rest, f"Đã thay bóng đèn đường tại khu phố (hồ sơ {tok}). Liên hệ 0912 345 678 nếu còn hỏng.")
    o311 = client.post("/open311/v2/requests.json", data={
        "service_code": "moi_truong", "address_string": WARD,
        "description": f"Rác tràn ra đường chợ {tok}o, gọi tôi 0987654321"}).json()[0]["service_request_id"]
    reply(client, o311, f"Đã thu gom rác (hồ sơ {tok}).")
    fake_triage.complaint = True
    secret = file_rest(client, f"Tôi tố cáo cán bộ địa chính nhận tiền {tok}c")
    reply(client, secret, f"Đã xác minh nội dung tố cáo ông Tư (hồ sơ {tok}).")
    fake_triage.complaint = False
    pending = file_rest(client, f"Cống thoát nước bị tắc {tok}p")
    return {"tok": tok, "rest": rest, "o311": o311, "secret": secret, "pending": pending}


def search(client: TestClient, q: str) -> dict:
    r = client.get("/api/v1/pakn/answered", params={"q": q, "limit": 50})
    assert r.status_code == 200, r.text
    return r.json()


def test_api_publishes_masked_answers_and_never_a_denunciation(client, answered) -> None:
    tok = answered["tok"]
    found = search(client, tok)
    by_code = {i["code"]: i for i in found["items"]}
    assert set(by_code) == {answered["rest"], answered["o311"]} and found["total"] == 2
    rest = by_code[answered["rest"]]
    assert rest["description"] is None  # sent by REST: not written to be published
    assert "Đã thay bóng đèn đường" in rest["answer"] and "345 678" not in rest["answer"] and "[đã ẩn]" in rest["answer"]
    assert rest["ward"] == WARD and "hẻm" not in str(rest)
    assert rest["category_name"] == "Môi trường" and rest["office"]["name"] == "UBND office-default"
    assert rest["status"] == "answered" and rest["answered_at"].endswith("+07:00")
    o311 = by_code[answered["o311"]]
    assert f"Rác tràn ra đường chợ {tok}o" in o311["description"] and "0987654321" not in o311["description"]
    assert "tố cáo" not in str(found) and "ông Tư" not in str(found)
    latest = client.get("/api/v1/pakn/answered", params={"limit": 2}).json()  # no query: paged by the database
    assert [i["code"] for i in latest["items"]] == [answered["o311"], answered["rest"]]  # newest answer first
    assert latest["total"] >= 2
    second = client.get("/api/v1/pakn/answered", params={"limit": 1, "offset": 1}).json()
    assert [i["code"] for i in second["items"]] == [answered["rest"]] and second["total"] == latest["total"]


def test_search_folds_accents_and_sees_only_what_is_shown(client, answered) -> None:
    tok = answered["tok"]
    assert [i["code"] for i in search(client, f"DEN DUONG {tok}")["items"]] == [answered["rest"]]
    assert [i["code"] for i in search(client, f"đèn   Đường {tok}")["items"]] == [answered["rest"]]
    assert [i["code"] for i in search(client, f"{tok}o")["items"]] == [answered["o311"]]  # Open311 text is shown
    assert search(client, f"{tok}x")["total"] == 0  # a REST petition's own words are not shown, nor searched
    assert search(client, f"ong ba {tok}")["total"] == 0
    assert search(client, f"{tok}c")["total"] == 0 and search(client, f"to cao {tok}")["total"] == 0
    assert search(client, f"{tok}p")["total"] == 0  # not answered
    assert search(client, f"0912345678 {tok}")["total"] == 0 and search(client, f"345 678 {tok}")["total"] == 0
    page = client.get("/api/v1/pakn/answered", params={"q": tok, "limit": 1, "offset": 1}).json()
    assert page["total"] == 2 and len(page["items"]) == 1


def test_the_page(client, answered) -> None:
    tok = answered["tok"]
    r = client.get("/pakn/da-tra-loi", params={"q": f"den duong {tok}"})
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    assert "script-src 'self'" in r.headers["content-security-policy"]
    html = r.text
    assert "<script" not in html and "onclick=" not in html and "style=" not in html
    assert 'lang="vi"' in html and "Phản ánh, kiến nghị đã được trả lời" in html
    assert answered["rest"] in html and "Đã thay bóng đèn đường" in html and "[đã ẩn]" in html
    assert "0912" not in html and "hẻm" not in html and "ông Ba" not in html and answered["o311"] not in html
    assert f'value="den duong {tok}"' in html
    everything = client.get("/pakn/da-tra-loi", params={"q": tok}).text
    assert answered["o311"] in everything and "Nội dung phản ánh" in everything
    assert answered["secret"] not in everything and "ông Tư" not in everything
    assert client.get("/pakn/da-tra-loi", params={"trang": "x' OR 1=1"}).status_code == 200


def test_the_page_escapes_what_people_and_offices_write(client, fake_triage) -> None:
    tok = uuid.uuid4().hex[:8]
    code = file_rest(client, f"Đèn đường hỏng {tok}")
    reply(client, code, f'<script>alert(1)</script><img src=x onerror=alert(2)> đã sửa {tok}')
    html = client.get("/pakn/da-tra-loi", params={"q": f'{tok}"><script>'}).text
    assert "<script>" not in html and "<img" not in html
    html = client.get("/pakn/da-tra-loi", params={"q": tok}).text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html and "<img" not in html


def test_open311_closed_listing_carries_the_public_answer_only(client, answered) -> None:
    closed = {x["service_request_id"]: x for x in client.get("/open311/v2/requests.json",
                                                             params={"status": "closed"}).json()}
    assert answered["secret"] not in closed and answered["pending"] not in closed
    rest = closed[answered["rest"]]
    assert rest["description"] is None and "Đã thay bóng đèn đường" in rest["status_notes"]
    assert "345 678" not in rest["status_notes"]
    assert "Đã thu gom rác" in closed[answered["o311"]]["status_notes"]
    [secret] = client.get(f"/open311/v2/requests/{answered['secret']}.json").json()
    assert secret["status"] == "closed" and secret["status_notes"] == "Đã có trả lời"
    assert secret["description"] is None and secret["address"] is None
    view = client.get(f"/api/v1/pakn/{answered['secret']}").json()
    assert view["replies"][0]["text"] is None  # the REST lookup agrees


def test_answered_is_not_read_as_a_tracking_code(client) -> None:
    r = client.get("/api/v1/pakn/answered", params={"q": "x" * 201})
    assert r.status_code == 422 and "tối đa 200" in str(r.json()["detail"])  # Vietnamese, not a 404 for a code
    assert client.get("/api/v1/pakn/answered", params={"limit": 0}).status_code == 422
