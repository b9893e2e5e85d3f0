"""The staff console in a real browser (Debian's chromium driven by Playwright) against the real app.

The app runs under uvicorn on a free port with a temporary SQLite store; the citizen's Zalo is the
fake Zalo OA API, so a reply typed in the console is followed all the way to the citizen's chat.
Screenshots console-inbox.png and console-dashboard.png (and the phone, date-filter and empty-chart
pictures of issue 16) land in the `screenshot_dir` (a temporary directory unless SCREENSHOT_DIR=docs).
"""
from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace
from zoneinfo import ZoneInfo

import httpx
import pytest

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parents[2]
OFFICE_A = "tay-ninh.so-noi-vu"
OFFICE_B = "tay-ninh.so-tu-phap"
OFFICE_EMPTY = "tay-ninh.cong-an-tinh"  # no petition and no plan task: every chart is empty
VN_TZ = ZoneInfo("Asia/Ho_Chi_Minh")
PASSWORD = "mat-khau-trinh-duyet-1"
CITIZEN = "zalo-citizen-42"
def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Triage:
    """Deterministic triage for seeding (the real classifier is tested elsewhere)."""

    def __init__(self) -> None:
        self.office_id, self.category, self.name, self.due = OFFICE_A, "moi_truong", "Môi trường", None

    def __call__(self, content: str, location: str | None = None, **_kw):
        return SimpleNamespace(
            category=self.category, category_name=self.name, confidence=0.9, needs_human=False,
            office_id=self.office_id, office_name="Sở Nội vụ tỉnh Tây Ninh" if self.office_id == OFFICE_A
            else "Sở Tư pháp tỉnh Tây Ninh", locality=None, is_complaint_or_denunciation=False, notice=None,
            due_at=self.due or datetime.now(UTC) + timedelta(days=5), explanation="kiểm thử giao diện")


def _create_user(env: dict, email: str, office: str, role: str = "staff") -> None:
    subprocess.run([sys.executable, "-m", "bot", "admin", "create-user", "--email", email, "--office", office,
                    "--role", role, "--password-stdin"], input=PASSWORD + "\n", text=True, env=env, cwd=ROOT,
                   check=True, capture_output=True)


def _seed(db_url: str) -> str:
    """Petitions for office A (one from a Zalo citizen, one overdue, two answered) and one for office B."""
    from db import session_scope
    from pakn import service

    triage = Triage()
    now = datetime.now(UTC)
    seeds = [
        (OFFICE_A, "can_bo_cong_vu", "Cán bộ, công vụ", None, "Cán bộ một cửa hẹn trả hồ sơ nhiều lần không đúng hẹn",
         "zalo", CITIZEN),
        (OFFICE_A, "thu_tuc_hanh_chinh", "Thủ tục hành chính", now - timedelta(days=1),
         "Hồ sơ đăng ký tuyển dụng viên chức nộp trực tuyến bị trả lại không rõ lý do", "api", None),
        (OFFICE_A, "thu_tuc_hanh_chinh", "Thủ tục hành chính", now + timedelta(hours=30),
         "Đề nghị hướng dẫn thủ tục công nhận ban vận động thành lập hội", "api", None),
        (OFFICE_A, "lao_dong_xa_hoi", "Lao động, xã hội", None,
         "Chưa nhận được trợ cấp thôi việc sau khi sáp nhập đơn vị", "api", None),
        (OFFICE_A, "can_bo_cong_vu", "Cán bộ, công vụ", None, "Thái độ tiếp dân chưa đúng mực tại bộ phận một cửa",
         "api", None),
        (OFFICE_B, "ho_tich_tu_phap", "Hộ tịch, tư pháp", None, "Cấp phiếu lý lịch tư pháp quá hạn", "api", None),
    ]
    codes = []
    with session_scope(db_url) as db:
        for office, cat, name, due, text, channel, user in seeds:
            triage.office_id, triage.category, triage.name, triage.due = office, cat, name, due
            rec = service.submit(db, content=text, location=None, contact="0912345678", channel=channel,
                                 channel_user_id=user, triage=triage)
            codes.append(rec.code)
        for code in codes[3:5]:  # answered in time: feeds the on-time chart
            service.add_reply(db, code, OFFICE_A, "Sở Nội vụ đã kiểm tra và trả lời.")
    return codes[0]


@pytest.fixture(scope="module")
def app_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SimpleNamespace]:
    from db import migrate
    from tests.fakes.zalo_api import FakeZaloAPI

    tmp = tmp_path_factory.mktemp("console-browser")
    db_url = f"sqlite:///{tmp / 'app.db'}"
    migrate(db_url)
    zalo = FakeZaloAPI()
    zalo.__enter__()
    port = _free_port()
    env = {**os.environ, "DATABASE_URL": db_url, "ENV": "test", "EMBEDDING_BACKEND": "none",
           "INDEX_DIR": str(tmp / "index"), "CHROMA_PATH": str(tmp / "chroma"), "HF_HUB_OFFLINE": "1",
           "ZALO_APP_ID": zalo.app_id, "ZALO_APP_SECRET_KEY": zalo.secret_key, "ZALO_OA_SECRET_KEY": "oa-secret",
           "ZALO_ACCESS_TOKEN": zalo.access_token or "", "ZALO_REFRESH_TOKEN": zalo.refresh_token,
           "ZALO_API_BASE": zalo.base_url, "ZALO_OAUTH_BASE": zalo.base_url, "PAKN_WORKER_IN_API": "true",
           "WORKER_POLL_INTERVAL_S": "0.3", "SMTP_PORT": str(_free_port())}
    log = open(tmp / "uvicorn.log", "w")  # noqa: SIM115 - must outlive this statement (the server's stdout)
    proc = subprocess.Popen([sys.executable, "-m", "uvicorn", "api.main:app", "--host", "127.0.0.1", "--port",
                             str(port)], env=env, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                pytest.fail("the app did not start:\n" + (tmp / "uvicorn.log").read_text()[-3000:])
            time.sleep(0.3)
        _create_user(env, "canbo.noivu@tayninh.gov.vn", OFFICE_A)
        _create_user(env, "canbo.tuphap@tayninh.gov.vn", OFFICE_B)
        _create_user(env, "canbo.congan@tayninh.gov.vn", OFFICE_EMPTY)
        code = _seed(db_url)
        zalo.user_interacts(CITIZEN)  # the Zalo citizen wrote to the OA today, so a cs reply is allowed
        yield SimpleNamespace(url=f"http://localhost:{port}", db_url=db_url, zalo=zalo, code=code, env=env,
                              log=tmp / "uvicorn.log")
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()
        zalo.__exit__(None, None, None)


@pytest.fixture(scope="module")
def browser(chromium: str, chromium_args: list[str]) -> Iterator[object]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=chromium, args=chromium_args)
        yield b
        b.close()


def _login(page, base: str, email: str) -> None:
    page.goto(f"{base}/console")
    assert "/console/login" in page.url
    page.get_by_label("Email").fill(email)
    page.get_by_label("Mật khẩu").fill(PASSWORD)
    page.get_by_role("button", name="Đăng nhập").click()
    page.wait_for_url(f"{base}/console/inbox")


def _push_replies_if_no_embedded_worker(app_server: SimpleNamespace) -> None:
    """When the API process runs no outbox worker, run one here with the product's Zalo sender."""
    from db import session_factory
    from pakn import notify, outbox
    from settings import get_settings
    from webhooks.routes import Channels

    old = dict(os.environ)
    os.environ.update({k: v for k, v in app_server.env.items() if k.startswith(("ZALO_", "DATABASE_URL"))})
    get_settings.cache_clear()
    try:
        channels = Channels(get_settings(), service=lambda: None)  # type: ignore[arg-type,return-value]  # no bot: senders only
        channels.zalo.client.tokens.seed(app_server.zalo.access_token, app_server.zalo.refresh_token)
        channels.register_senders()
        outbox.drain(session_factory(app_server.db_url), worker_id="browser-test")
        notify.unregister_sender("zalo")
        channels.zalo.client.close()
    finally:
        os.environ.clear()
        os.environ.update(old)
        get_settings.cache_clear()


def test_staff_reply_reaches_the_citizen_and_other_offices_cannot_see_it(app_server, browser,
                                                                       screenshot_dir) -> None:
    errors: list[str] = []
    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="vi-VN")
    page = context.new_page()
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.on("response", lambda r: errors.append(f"{r.status} {r.url}") if r.status >= 400 else None)
    base, code = app_server.url, app_server.code

    _login(page, base, "canbo.noivu@tayninh.gov.vn")
    page.get_by_role("heading", name="Hộp thư phản ánh, kiến nghị").wait_for()
    rows = page.locator("table.inbox tbody tr")
    assert rows.count() == 5
    assert page.get_by_text("Quá hạn", exact=True).count() >= 1 and page.get_by_text("Sắp đến hạn", exact=True).count() >= 1
    page.screenshot(path=str(screenshot_dir / "console-inbox.png"), full_page=True)

    page.get_by_role("link", name=code).click()
    page.get_by_role("heading", name=f"Phản ánh {code}").wait_for()
    page.get_by_label("Nội dung trả lời người dân").fill("Sở Nội vụ đã làm việc với bộ phận một cửa; hồ sơ của "
                                                        "ông/bà được trả ngày 25/11.")
    page.get_by_role("button", name="Gửi trả lời").click()
    page.wait_for_url(f"{base}/console/pakn/{code}?done=reply")
    assert page.get_by_role("status").inner_text().startswith("Đã ghi nhận trả lời")
    history = page.locator("ol.history").inner_text()
    assert "Trả lời" in history and "hồ sơ của ông/bà được trả ngày 25/11" in history
    assert "Đã có trả lời" in page.locator("dl.facts").inner_text()

    got = app_server.zalo.wait_for(1, timeout=15, user_id=CITIZEN)
    if not got:
        _push_replies_if_no_embedded_worker(app_server)
        got = app_server.zalo.wait_for(1, timeout=10, user_id=CITIZEN)
    assert got, "the reply did not reach the citizen's Zalo:\n" + app_server.log.read_text()[-2000:]
    assert code in got[0]["text"] and "trả ngày 25/11" in got[0]["text"]

    other = browser.new_context(locale="vi-VN")
    page_b = other.new_page()
    _login(page_b, base, "canbo.tuphap@tayninh.gov.vn")
    assert code not in page_b.locator("main").inner_text()
    assert page_b.locator("table.inbox tbody tr").count() == 1
    resp = page_b.goto(f"{base}/console/pakn/{code}")
    assert resp.status == 404 and "Không tìm thấy" in page_b.locator("main").inner_text()
    other.close()

    page.goto(f"{base}/console/dashboard")
    page.wait_for_function("() => window.Chart && Object.keys(Chart.instances).length === 4")
    assert page.locator("canvas").count() == 4
    sizes = page.eval_on_selector_all("canvas", "els => els.map(e => [e.width, e.height])")
    assert all(w > 100 and h > 100 for w, h in sizes)
    page.screenshot(path=str(screenshot_dir / "console-dashboard.png"), full_page=True)
    assert not errors, errors
    context.close()


def test_keyboard_user_can_skip_to_content_and_log_out(app_server, browser) -> None:
    context = browser.new_context(locale="vi-VN")
    page = context.new_page()
    _login(page, app_server.url, "canbo.noivu@tayninh.gov.vn")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.textContent") == "Bỏ qua thanh điều hướng"
    page.get_by_role("button", name="Đăng xuất").click()
    page.wait_for_url(f"{app_server.url}/console/login")
    page.goto(f"{app_server.url}/console/inbox")
    assert "/console/login" in page.url
    context.close()


def _watch_errors(page) -> list[str]:
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.on("response", lambda r: errors.append(f"{r.status} {r.url}") if r.status >= 400 else None)
    return errors


def test_inbox_reads_on_a_phone(app_server, browser, screenshot_dir) -> None:
    """Issue 16: at 390 px the seven-column table left the content one word a line. On a phone each
    petition is a card: the content gets the card's width and each other cell names its column."""
    context = browser.new_context(viewport={"width": 390, "height": 844}, device_scale_factor=2, is_mobile=True,
                                  has_touch=True, locale="vi-VN")
    page = context.new_page()
    errors = _watch_errors(page)
    _login(page, app_server.url, "canbo.noivu@tayninh.gov.vn")
    assert page.evaluate("document.documentElement.scrollWidth") <= 390  # nothing scrolls sideways
    widths = page.eval_on_selector_all("table.inbox td.content", "els => els.map(e => e.getBoundingClientRect().width)")
    assert len(widths) == 5 and min(widths) >= 250, widths  # was about 40 px: one word a line
    lines = page.eval_on_selector_all("table.inbox td.content", """els => els.map(e =>
        Math.round(e.getBoundingClientRect().height / parseFloat(getComputedStyle(e).lineHeight)))""")
    assert max(lines) <= 3, lines  # 140 characters at most: three lines, not fifteen
    assert not page.locator("table.inbox thead").is_visible() or page.locator("table.inbox thead").bounding_box()[
        "height"] <= 1
    label = page.eval_on_selector("table.inbox td[data-label='Hạn xử lý']", "e => getComputedStyle(e, '::before').content")
    assert label == '"Hạn xử lý"'
    page.screenshot(path=str(screenshot_dir / "console-inbox-390.png"), full_page=True)
    assert not errors, errors
    context.close()


def test_due_date_filter_reads_day_month_year(app_server, browser, screenshot_dir) -> None:
    """Issue 16: the due-date filter was `<input type="date">`, which chromium draws in the browser's
    own locale (mm/dd/yyyy in an English chromium, even on a `lang="vi"` page). It is a text box
    read as dd/mm/yyyy. The day is two days ahead, so read as mm/dd it would be another date (or none)
    and the list would differ: two petitions are due by then (the overdue one and the one due in 30 h)."""
    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="en-US")
    page = context.new_page()
    errors = _watch_errors(page)
    base = app_server.url
    _login(page, base, "canbo.noivu@tayninh.gov.vn")
    box = page.get_by_label("Hạn đến ngày")
    assert box.get_attribute("type") == "text" and box.get_attribute("placeholder") == "ngày/tháng/năm"
    day = (datetime.now(VN_TZ) + timedelta(days=2)).date()
    box.fill(f"{day:%d/%m/%Y}")
    page.get_by_role("button", name="Lọc").click()
    page.wait_for_url("**/console/inbox?*due_before=*")
    assert page.locator("table.inbox tbody tr").count() == 2
    assert box.input_value() == f"{day:%d/%m/%Y}"  # the field still reads day/month/year
    page.screenshot(path=str(screenshot_dir / "console-inbox-due-filter.png"))
    # A link from before the change carries yyyy-mm-dd: it still filters, and shows dd/mm/yyyy.
    page.goto(f"{base}/console/inbox?due_before={day.isoformat()}")
    assert page.locator("table.inbox tbody tr").count() == 2
    assert page.get_by_label("Hạn đến ngày").input_value() == f"{day:%d/%m/%Y}"
    assert not errors, errors
    context.close()


def test_empty_charts_say_there_is_no_data(app_server, browser, screenshot_dir) -> None:
    """Issue 16: a chart with no data was an empty frame. An office with nothing yet sees
    "Chưa có dữ liệu" in each; office B (one open petition, none answered) in the on-time one only."""
    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="vi-VN")
    page = context.new_page()
    errors = _watch_errors(page)
    base = app_server.url
    _login(page, base, "canbo.congan@tayninh.gov.vn")
    page.goto(f"{base}/console/dashboard")
    empty = page.locator(".charts figure .chart-empty")
    assert empty.count() == 4 and set(empty.all_inner_texts()) == {"Chưa có dữ liệu"}
    assert page.locator("canvas").count() == 0
    page.screenshot(path=str(screenshot_dir / "console-dashboard-empty.png"), full_page=True)
    page.get_by_role("button", name="Đăng xuất").click()
    page.wait_for_url(f"{base}/console/login")

    _login(page, base, "canbo.tuphap@tayninh.gov.vn")
    page.goto(f"{base}/console/dashboard")
    page.wait_for_function("() => window.Chart && Object.keys(Chart.instances).length === 3")
    assert page.locator(".charts figure .chart-empty").count() == 1
    ontime = page.locator("figure", has_text="Tỷ lệ trả lời đúng hạn")
    assert ontime.locator(".chart-empty").inner_text() == "Chưa có dữ liệu" and ontime.locator("canvas").count() == 0
    assert not errors, errors
    context.close()
