"""Structured logs with personal data masked.

A petition carrying a phone number (national and +84 forms), a CCCD and a CMND number, e-mail
addresses and a street address goes through the real API; every captured log line — pytest's
caplog records and the JSON lines of the app's own root handler — is scanned, and none carries
them. Direct log calls with personal data in the message, in %-args (str and int) and in extras
prove the masking itself, not just the product's discretion.
"""
from __future__ import annotations

import io
import json
import logging
import uuid

import pytest
from fastapi.testclient import TestClient

from api.logging import JsonFormatter, json_handler, mask_record
from settings import get_settings

pytestmark = pytest.mark.integration

PHONE, PHONE_INTL, PHONE_SPACED = "0912345678", "+84 903 111 222", "0903 111 222"
CCCD, CMND, CCCD_INT = "079123456789", "123456789", 201234567890
EMAIL, EMAIL2 = "chi.lan@gmail.com", "nguyen.van.a@example.vn"
STREET = "12 Nguyễn Huệ"
SECRETS = [PHONE, PHONE_INTL, PHONE_SPACED, "0903111222", "903111222", CCCD, CMND, str(CCCD_INT), EMAIL, EMAIL2,
           STREET]


@pytest.fixture
def client_and_stream(monkeypatch: pytest.MonkeyPatch, db_url: str):
    monkeypatch.setenv("DATABASE_URL", db_url)
    get_settings.cache_clear()
    from api.main import create_app

    client = TestClient(create_app())
    handler = json_handler()
    assert handler is not None, "create_app did not install the JSON log handler"
    stream = io.StringIO()
    old = handler.setStream(stream)
    yield client, stream
    handler.setStream(old)
    get_settings.cache_clear()


def test_no_personal_data_in_any_log_line(client_and_stream, fake_triage, caplog) -> None:
    client, stream = client_and_stream
    caplog.set_level(logging.DEBUG)
    content = (f"Tôi là Lan, CCCD {CCCD}, CMND cũ {CMND}, nhà ở {STREET}, gọi {PHONE_SPACED} hoặc {PHONE_INTL}, "
               f"email {EMAIL2}: rác không được thu gom cả tuần")
    r = client.post("/api/v1/pakn", json={"content": content, "location": f"{STREET}, phường Bến Thành, TP. Hồ Chí Minh",
                                          "contact": f"Chị Lan {PHONE} {EMAIL}", "channel": "api",
                                          "channel_user_id": "z-log-1", "external_id": uuid.uuid4().hex})
    assert r.status_code == 201, r.text
    code = r.json()["code"]
    assert client.post("/api/v1/pakn", json={"content": content, "contact": "0123"}).status_code == 422
    assert client.post("/open311/v2/requests.json", data={
        "service_code": "moi_truong", "description": content, "address_string": STREET,
        "phone": PHONE, "email": EMAIL}).status_code in (200, 201)
    assert client.get(f"/api/v1/pakn/{code}").status_code == 200
    # The masking itself: personal data handed straight to a logger, in every position.
    log = logging.getLogger("pakn.test_masking")
    log.warning("citizen %s wrote from %s (CCCD %d) about %s", EMAIL, PHONE_INTL, CCCD_INT, code)
    log.info("contact: %(phone)s / %(email)s", {"phone": PHONE, "email": EMAIL})
    log.error(f"raw f-string {PHONE} {CMND}", extra={"contact": f"{EMAIL} {PHONE_SPACED}"})

    records = caplog.records
    assert any(rec.name.startswith("pakn") for rec in records)
    for rec in records:
        line = rec.getMessage() + " " + " ".join(str(v) for k, v in vars(rec).items()
                                                  if k not in ("msg", "args", "message", "contact"))
        for secret in SECRETS:
            assert secret not in line, f"{secret!r} in caplog record {rec.name}: {line[:300]}"
    masked = [rec.getMessage() for rec in records if rec.name == "pakn.test_masking"]
    assert masked[0] == f"citizen [đã ẩn] wrote from [đã ẩn] (CCCD [đã ẩn]) about {code}"
    assert masked[1] == "contact: [đã ẩn] / [đã ẩn]"
    assert masked[2] == "raw f-string [đã ẩn] [đã ẩn]"

    lines = [ln for ln in stream.getvalue().splitlines() if ln.strip()]
    assert len(lines) >= 4
    objects = [json.loads(ln) for ln in lines]  # one JSON object per line
    assert all({"ts", "level", "logger", "message"} <= set(o) for o in objects)
    for ln in lines:
        for secret in SECRETS:
            assert secret not in ln, f"{secret!r} in handler line: {ln[:300]}"
    by_logger = [o for o in objects if o["logger"] == "pakn.test_masking"]
    assert [o["level"] for o in by_logger] == ["WARNING", "INFO", "ERROR"]
    assert by_logger[2]["contact"] == "[đã ẩn] [đã ẩn]"  # extras are masked in the JSON line too
    assert any(o["message"].startswith("HTTP Request: POST") or o["logger"].startswith(("pakn", "api"))
               for o in objects)


@pytest.mark.parametrize("msg, args, expected", [
    ("gọi %s", ("0912345678",), "gọi [đã ẩn]"),
    ("gọi %s", ("+84912345678",), "gọi [đã ẩn]"),
    ("gọi %s", ("+84 91 234 5678",), "gọi [đã ẩn]"),
    ("cccd %d", (201234567890,), "cccd [đã ẩn]"),
    ("cmnd %s", ("123456789",), "cmnd [đã ẩn]"),
    ("mail %s", ("a.b-c@sub.gov.vn",), "mail [đã ẩn]"),
    ("job %d attempts %d of %s", (17, 3, "PA-2411-7KQ3M"), "job 17 attempts 3 of PA-2411-7KQ3M"),
    ("%s", ({"phone": "0912345678"},), "{'phone': '[đã ẩn]'}"),
])
def test_mask_record(msg, args, expected) -> None:
    rec = logging.LogRecord("t", logging.INFO, __file__, 1, msg, args, None)
    assert mask_record(rec).getMessage() == expected
    out = json.loads(JsonFormatter().format(rec))
    assert out["message"] == expected and out["level"] == "INFO"
