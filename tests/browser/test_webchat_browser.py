"""The web chat page in a real browser (Debian's chromium driven by Playwright) against the real app.

The app runs under uvicorn on a free port with a temporary store and BM25-only retrieval. The
test types a question as a person would, waits for the answer, checks its source and suggestion
buttons, the accessibility hooks (label, aria-live log) and the phone layout, and saves webchat.png
in the `screenshot_dir` (a temporary directory unless SCREENSHOT_DIR=docs).
"""
from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parents[2]
def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def server(tmp_path_factory) -> Iterator[str]:
    """The real app under uvicorn on 127.0.0.1:<free port>."""
    var = tmp_path_factory.mktemp("webchat")
    port = _free_port()
    env = {**os.environ, "DATABASE_URL": f"sqlite:///{var / 'app.db'}", "EMBEDDING_BACKEND": "none",
           "INDEX_DIR": str(var / "index"), "CHROMA_PATH": str(var / "chroma"), "LLM_BASE_URL": "",
           "TELEGRAM_TOKEN": "", "PAKN_WORKER_IN_API": "false", "HF_HUB_OFFLINE": "1", "ENV": "test"}
    with open(var / "uvicorn.log", "wb") as log:
        yield from _run(var, port, env, log)


def _run(var: Path, port: int, env: dict, log) -> Iterator[str]:
    proc = subprocess.Popen([sys.executable, "-m", "uvicorn", "api.main:app", "--host", "127.0.0.1",
                             "--port", str(port)], cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 240
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                pytest.fail("uvicorn exited:\n" + (var / "uvicorn.log").read_text()[-3000:])
            try:
                if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            time.sleep(0.3)
        else:
            pytest.fail("the app did not start in time")
        yield base
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()


@pytest.fixture
def page(chromium: str, chromium_args: list[str]):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, args=chromium_args)
        context = browser.new_context(viewport={"width": 390, "height": 844}, device_scale_factor=2,
                                      locale="vi-VN", is_mobile=True, has_touch=True)
        yield context.new_page()
        context.close()
        browser.close()


def test_question_gets_an_answer_with_a_source(server: str, page, screenshot_dir: Path) -> None:
    page.goto(server + "/")
    assert page.locator("html").get_attribute("lang") == "vi"
    log = page.locator("#log")
    assert log.get_attribute("aria-live") == "polite"
    textbox = page.get_by_label("Câu hỏi của bạn")
    textbox.fill("Đăng ký khai sinh cần giấy tờ gì?")
    textbox.press("Enter")

    answer = page.locator(".msg.bot").nth(1)
    answer.wait_for(timeout=20_000)
    assert page.locator(".msg.user").first.inner_text() == "Đăng ký khai sinh cần giấy tờ gì?"
    assert "khai sinh" in answer.inner_text().lower()
    sources = answer.locator(".sources li")
    assert sources.count() >= 1 and "khai sinh" in sources.first.inner_text().lower()
    suggestions = answer.locator(".suggestions button")
    assert suggestions.count() >= 1

    # Fits a phone: nothing scrolls sideways.
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 390

    # Who this browser is lives in a server-issued HttpOnly cookie that the page's script cannot read.
    [session] = [c for c in page.context.cookies() if c["name"] == "hc_chat"]
    assert session["httpOnly"] and session["sameSite"] == "Strict"
    assert "hc_chat" not in page.evaluate("document.cookie")

    page.set_viewport_size({"width": 390, "height": 1500})  # the whole exchange in one picture
    page.evaluate("window.scrollTo(0, 0)")
    page.screenshot(path=str(screenshot_dir / "webchat.png"))
    page.set_viewport_size({"width": 390, "height": 844})

    # A suggestion button asks its question.
    label = suggestions.first.inner_text()
    suggestions.first.click()
    page.locator(".msg.user").nth(1).wait_for(timeout=10_000)
    assert page.locator(".msg.user").nth(1).inner_text() == label
    page.locator(".msg.bot").nth(2).wait_for(timeout=20_000)
    assert [c["value"] for c in page.context.cookies() if c["name"] == "hc_chat"] == [session["value"]]


def test_keyboard_focus_is_visible_and_send_is_reachable(server: str, page) -> None:
    page.goto(server + "/")
    page.keyboard.press("Tab")  # skip link first
    assert page.evaluate("document.activeElement.className") == "skip-link"
    page.keyboard.press("Enter")  # lands in the question box
    assert page.evaluate("document.activeElement.id") == "message"
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.id") == "send"
    outline = page.evaluate("getComputedStyle(document.activeElement).outlineStyle")
    assert outline != "none"


# True when the newest reply is wholly in the window above the sticky composer, and nothing covers
# its last suggestion button (the point at its centre belongs to the button, not to the composer);
# a reply taller than the room above the composer shows from its start instead.
NEWEST_REPLY_VISIBLE = """() => {
  const bots = document.querySelectorAll('.msg.bot');
  const reply = bots[bots.length - 1];
  const box = reply.getBoundingClientRect();
  const composer = document.getElementById('composer').getBoundingClientRect();
  const buttons = reply.querySelectorAll('.suggestions button');
  if (!buttons.length) return false;
  const last = buttons[buttons.length - 1].getBoundingClientRect();
  const hit = document.elementFromPoint(last.left + last.width / 2, last.top + last.height / 2);
  if (box.height > composer.top) return box.top >= 0 && box.top < 120;  // taller than the room: its start shows
  return box.top >= 0 && box.bottom <= composer.top + 1 && hit === buttons[buttons.length - 1];  // 1 px: sub-pixel layout
}"""


@pytest.mark.parametrize("width,height", [(390, 844), (1280, 800)])
def test_newest_reply_is_not_hidden_under_the_composer(server: str, chromium: str, chromium_args: list[str],
                                                       screenshot_dir: Path, width: int, height: int) -> None:
    """Issue 16: each reply used to be scrolled under the sticky question box, hiding its last line
    and its suggestion buttons. The first, long answer makes the page scroll; the second must end
    up wholly above the composer."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, args=chromium_args)
        context = browser.new_context(viewport={"width": width, "height": height}, locale="vi-VN")
        page = context.new_page()
        page.goto(server + "/")
        textbox = page.get_by_label("Câu hỏi của bạn")
        for n, question in enumerate(("Đăng ký khai sinh cần giấy tờ gì?", "Cấp lại căn cước công dân"), start=1):
            textbox.fill(question)
            textbox.press("Enter")
            page.locator(".msg.bot").nth(n).locator(".suggestions button").first.wait_for(timeout=20_000)
        assert page.evaluate("document.documentElement.scrollHeight > window.innerHeight")  # the page did scroll
        page.wait_for_function(NEWEST_REPLY_VISIBLE, timeout=30_000)  # scrolling may be smooth: wait for it
        page.screenshot(path=str(screenshot_dir / f"webchat-newest-reply-{width}.png"))
        context.close()
        browser.close()


def test_favicon_is_served(server: str, page) -> None:
    """Issue 16: /favicon.ico was a 404 on every first visit; the pages link an SVG icon too."""
    icon = httpx.get(f"{server}/favicon.ico", timeout=10)
    assert icon.status_code == 200 and icon.headers["content-type"] == "image/x-icon"
    assert icon.content[:4] == b"\x00\x00\x01\x00"  # an ICO directory
    page.goto(server + "/")
    href = page.locator("link[rel=icon]").get_attribute("href")
    loaded = page.evaluate("""async (href) => { const r = await fetch(href);
                                return [r.status, r.headers.get('content-type')]; }""", href)
    assert loaded[0] == 200 and loaded[1].startswith("image/svg+xml")


@pytest.mark.parametrize("path,ready", [("/docs", ".swagger-ui .opblock"), ("/redoc", "[role=menuitem], li label")])
def test_api_docs_work_offline(server: str, page, path: str, ready: str, screenshot_dir: Path) -> None:
    """Issue 16: /docs and /redoc loaded Swagger UI, ReDoc and fonts from CDNs and were blank
    offline. Every request to another origin is refused here, as on an intranet server, and
    recorded: the page must render its operations and must not have tried any."""
    outside: list[str] = []

    def local_only(route) -> None:
        url = route.request.url
        if url.startswith((server, "data:")):
            route.continue_()
        else:
            outside.append(url)
            route.abort()

    page.set_viewport_size({"width": 1280, "height": 800})
    page.route("**/*", local_only)
    page.goto(server + path)
    page.locator(ready).first.wait_for(timeout=30_000)
    assert "/api/v1/chat" in page.locator("body").inner_text()
    page.screenshot(path=str(screenshot_dir / f"api{path.replace('/', '-')}.png"))
    assert outside == []
