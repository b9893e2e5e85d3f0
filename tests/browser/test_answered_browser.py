"""The page of answered petitions (`/pakn/da-tra-loi`) in a real browser (Debian's chromium driven by
Playwright): a person searches without accents, reads the masked answer, and the page raises no
Content-Security-Policy violation or script error (it runs no script at all). Saves answered.png
in the `screenshot_dir`.

The app runs under uvicorn in this process on a free loopback port (lifespan off: the page needs
no model), over a temporary SQLite store seeded through the real API with a deterministic triage.
"""
from __future__ import annotations

import socket
import threading
import time
import uuid
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from settings import get_settings

pytestmark = pytest.mark.browser
TOKEN = "answered-browser-staff-token"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def server(tmp_path, monkeypatch: pytest.MonkeyPatch, fake_triage):
    import uvicorn

    from db import migrate

    url = f"sqlite:///{tmp_path / 'answered.db'}"
    migrate(url)
    monkeypatch.setenv("DATABASE_URL", url)
    monkeypatch.setenv("STAFF_API_TOKEN", TOKEN)
    get_settings.cache_clear()
    from api.main import create_app

    app = create_app(triage=fake_triage)
    seed = TestClient(app)
    for content, answer in [
        ("Đèn đường trước nhà ông Ba ở hẻm 5 hỏng cả tháng",
         "Đã thay bóng đèn đường tại khu phố 3. Cần thêm thông tin xin gọi 0912 345 678."),
        ("Rác thải tồn đọng ở chợ phường", "Đã bố trí xe thu gom rác mỗi ngày lúc 18 giờ."),
    ]:
        r = seed.post("/api/v1/pakn", json={"content": content, "location": "12 hẻm 5, phường Bến Thành, "
                                             "TP. Hồ Chí Minh", "contact": "0912345678",
                                             "external_id": uuid.uuid4().hex})
        code = r.json()["code"]
        seed.post(f"/api/v1/pakn/{code}/reply", json={"office_id": "office-default", "text": answer},
                  headers={"Authorization": f"Bearer {TOKEN}"}).raise_for_status()
    port = _free_port()
    srv = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="off"))
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 60
    while not srv.started and time.monotonic() < deadline:
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    srv.should_exit = True
    thread.join(30)
    get_settings.cache_clear()


def test_search_the_published_answers(server: str, chromium: str, chromium_args: list[str],
                                      screenshot_dir: Path) -> None:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, args=chromium_args)
        context = browser.new_context(viewport={"width": 390, "height": 844}, device_scale_factor=2,
                                      locale="vi-VN", is_mobile=True, has_touch=True)
        page = context.new_page()
        problems: list[str] = []
        page.on("console", lambda m: problems.append(f"{m.text} @ {m.location.get('url')}")
                if m.type in ("error", "warning") else None)
        page.on("pageerror", lambda e: problems.append(str(e)))
        try:
            page.goto(server + "/pakn/da-tra-loi")
            assert page.locator("html").get_attribute("lang") == "vi"
            assert page.locator("article.item").count() == 2
            box = page.get_by_label("Tìm trong các trả lời (gõ có dấu hoặc không dấu)")
            box.fill("den duong")
            box.press("Enter")
            page.wait_for_url("**/pakn/da-tra-loi?q=den+duong")
            items = page.locator("article.item")
            assert items.count() == 1
            text = items.first.inner_text()
            assert "Đã thay bóng đèn đường" in text and "[đã ẩn]" in text and "0912" not in text
            assert "hẻm" not in text and "ông Ba" not in text  # a REST petition's own words stay private
            assert "phường Bến Thành, TP. Hồ Chí Minh" in text  # the ward, not the house
            assert page.evaluate("document.documentElement.scrollWidth") <= 390  # fits a phone
            assert page.evaluate("document.scripts.length") == 0
            page.screenshot(path=str(screenshot_dir / "answered.png"), full_page=True)
            # No CSP violation (a blocked style or script) and no error; the browser's own request for
            # /favicon.ico, which the app does not serve, is the one 404 it may report.
            problems = [m for m in problems if not m.endswith("/favicon.ico")]
            assert not problems, problems
        finally:
            context.close()
            browser.close()
