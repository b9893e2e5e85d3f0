"""`make demo` completes the petition path: in development the API runs a local SMTP sink on the
configured mail port, so a filed petition is e-mailed to its office (saved as an .eml file) and
moves from "Đã tiếp nhận" to "Đã chuyển đến cơ quan xử lý" instead of retrying forever."""
from __future__ import annotations

import time
from email import message_from_bytes, policy
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from bench._server import free_port
from pakn.mailsink import DevMailSink, start_dev_mail_sink
from settings import Settings, get_settings

pytestmark = pytest.mark.integration


def test_a_petition_filed_in_development_reaches_the_sink_and_is_forwarded(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    port = free_port()
    for key, value in {"ENV": "development", "SMTP_PORT": str(port), "DEV_MAIL_DIR": str(tmp_path / "mail"),
                       "WORKER_POLL_INTERVAL_S": "0.2", "RATE_LIMIT_PER_MINUTE": "0"}.items():
        monkeypatch.setenv(key, value)
    get_settings.cache_clear()
    try:
        from api.main import create_app

        with TestClient(create_app()) as client:  # the lifespan starts the sink and the outbox worker
            r = client.post("/api/v1/pakn", json={
                "content": "Đèn đường trước nhà văn hóa khu phố hỏng hơn một tháng, buổi tối rất tối",
                "location": "phường Bến Thành, TP. Hồ Chí Minh", "contact": "0912345678",
                "channel": "api"})
            assert r.status_code == 201, r.text
            code = r.json()["code"]
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:
                status = client.get(f"/api/v1/pakn/{code}").json()["status"]
                if status == "forwarded":
                    break
                time.sleep(0.2)
            assert status == "forwarded", "the petition never left 'Đã tiếp nhận'"
        mails = sorted((tmp_path / "mail").glob("*.eml"))
        bodies = [message_from_bytes(p.read_bytes(), policy=policy.default) for p in mails]
        assert any(code in str(m["Subject"]) or code in m.get_body().get_content() for m in bodies), \
            [str(m["Subject"]) for m in bodies]
    finally:
        get_settings.cache_clear()


def test_the_sink_starts_only_in_development_on_a_free_loopback_port(tmp_path: Path) -> None:
    base = {"smtp_host": "127.0.0.1", "dev_mail_dir": tmp_path}
    assert start_dev_mail_sink(Settings(env="test", smtp_port=free_port(), **base)) is None
    assert start_dev_mail_sink(Settings(env="development", dev_mail_sink=False, smtp_port=free_port(), **base)) is None
    assert start_dev_mail_sink(Settings(env="development", smtp_port=free_port(), smtp_host="mail.example.gov.vn",
                                        dev_mail_dir=tmp_path)) is None
    port = free_port()
    real = DevMailSink("127.0.0.1", port, tmp_path / "real")
    real.start()
    try:  # something already listens (a real sink, another instance): leave it alone
        assert start_dev_mail_sink(Settings(env="development", smtp_port=port, **base)) is None
    finally:
        real.stop()
    sink = start_dev_mail_sink(Settings(env="development", smtp_port=port, **base))
    assert sink is not None
    sink.stop()
