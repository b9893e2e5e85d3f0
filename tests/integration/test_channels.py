"""End to end per channel over the real app and the real bot: signed event in → answer at the fake API.

The app is `api.main.create_app()` with its real lifespan (store build, ChatService warm-up,
channel worker, PAKN outbox worker); Zalo, Telegram and SMTP are real fake servers on 127.0.0.1.
Retrieval runs BM25-only (EMBEDDING_BACKEND=none) into a temporary index, so the test needs no
model files and does not touch the developer's var/.
"""
from __future__ import annotations

import re
import time

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from bot.models import ConversationRow
from db import session_scope
from settings import get_settings
from tests.fakes.smtp_server import FakeSMTPServer
from tests.fakes.telegram_api import FakeTelegramAPI
from tests.fakes.zalo_api import FakeZaloAPI, signed, zalo_event
from webhooks.models import InboxEventRow

pytestmark = [pytest.mark.integration, pytest.mark.slow]

APP_ID = "4321987654"
OA_SECRET = "e2e-oa-secret"
APP_SECRET = "e2e-app-secret"
TG_TOKEN = "654321:E2E-TOKEN"
TG_SECRET = "e2e-tg-secret"


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    """The real app wired to fake Zalo, Telegram and SMTP servers."""
    var = tmp_path_factory.mktemp("channels")
    with FakeZaloAPI(app_id=APP_ID, secret_key=APP_SECRET, access_token="e2e-access",
                     refresh_token="e2e-refresh") as zalo, FakeTelegramAPI(token=TG_TOKEN) as tg, \
            FakeSMTPServer() as smtp, pytest.MonkeyPatch.context() as mp:
        env = {
            "DATABASE_URL": f"sqlite:///{var / 'app.db'}", "EMBEDDING_BACKEND": "none",
            "INDEX_DIR": str(var / "index"), "CHROMA_PATH": str(var / "chroma"),
            "ZALO_APP_ID": APP_ID, "ZALO_OA_SECRET_KEY": OA_SECRET, "ZALO_APP_SECRET_KEY": APP_SECRET,
            "ZALO_ACCESS_TOKEN": "e2e-access", "ZALO_REFRESH_TOKEN": "e2e-refresh",
            "ZALO_API_BASE": zalo.base_url, "ZALO_OAUTH_BASE": zalo.base_url,
            "TELEGRAM_TOKEN": TG_TOKEN, "TELEGRAM_SECRET_TOKEN": TG_SECRET, "TELEGRAM_API_BASE": tg.base_url,
            "INBOX_POLL_INTERVAL_S": "0.1", "WORKER_POLL_INTERVAL_S": "0.1",
            "SMTP_HOST": "127.0.0.1", "SMTP_PORT": str(smtp.port), "LLM_BASE_URL": "",
        }
        for key, value in env.items():
            mp.setenv(key, value)
        _reset_process_caches()
        from api.main import create_app

        with TestClient(create_app()) as client:
            yield client, zalo, tg, env["DATABASE_URL"]
        _reset_process_caches()


def _reset_process_caches() -> None:
    """Settings are cached per process and the store build is done once; redo both for this module
    (the app's running parts are its own: runtime.services builds them in the lifespan)."""
    get_settings.cache_clear()
    from bot import setup

    setup._ready = False


def say(client: TestClient, zalo: FakeZaloAPI, user: str, text: str, **kw) -> str:
    """Send one signed user_send_text event and return the text the OA sent back."""
    before = len(zalo.texts_for(user))
    event = zalo.event("user_send_text", user, text=text, **kw)  # the fake notes that the person wrote
    raw, headers = signed(event, OA_SECRET)
    resp = client.post("/webhooks/zalo", content=raw, headers=headers)
    assert resp.status_code == 200, resp.text
    got = zalo.wait_for(before + 1, user_id=user)
    assert len(got) > before, f"no answer to {text!r}"
    time.sleep(0.05)  # a split reply arrives as several messages
    return "\n".join(zalo.texts_for(user)[before:])


def test_zalo_question_is_answered_with_a_source(stack):
    client, zalo, _tg, _db = stack
    answer = say(client, zalo, "8800000000000000001", "Đăng ký khai sinh cần giấy tờ gì?")
    assert "khai sinh" in answer.lower()
    assert re.search(r"^Nguồn: .*khai sinh", answer, re.MULTILINE | re.IGNORECASE)
    last = [m for m in zalo.messages if m["user_id"] == "8800000000000000001"][-1]
    assert last["attachment"]["payload"]["buttons"]  # the bot's suggestions as quick replies


def test_pakn_through_zalo_gets_a_code_and_the_office_reply_comes_back(stack):
    client, zalo, _tg, _db = stack
    user = "8800000000000000002"
    say(client, zalo, user, "Tôi muốn gửi phản ánh: đèn đường trước nhà văn hóa khu phố 3 bị hỏng hơn một tháng, "
                            "buổi tối rất tối và nguy hiểm")
    # The location step is answered with a shared location, as a phone user would.
    before = len(zalo.texts_for(user))
    event = zalo.event("user_send_location", user, attachments=[
        {"type": "location", "payload": {"coordinates": {"latitude": "10.7725", "longitude": "106.6980"}}}])
    raw, headers = signed(event, OA_SECRET)
    assert client.post("/webhooks/zalo", content=raw, headers=headers).status_code == 200
    zalo.wait_for(before + 1, user_id=user)
    say(client, zalo, user, "bỏ qua")
    done = say(client, zalo, user, "Gửi")
    code = re.search(r"PA-\d{4}-[0-9A-Z]{5}(?:-[0-9A-Z]{5})?", done)
    assert code, done
    code = code.group(0)

    from pakn.models import PaknRecord
    from pakn.service import add_reply

    with session_scope() as s:
        record = s.scalar(select(PaknRecord).where(PaknRecord.code == code))
        assert (record.channel, record.channel_user_id) == ("zalo", user)
        assert (record.latitude, record.longitude) == (10.7725, 106.698)
        add_reply(s, code, record.office_id, "Đơn vị đã thay bóng đèn ngày 02/12.")
    before = len(zalo.texts_for(user))
    got = zalo.wait_for(before + 1, timeout=15, user_id=user)
    pushed = got[-1]["text"]
    assert code in pushed and "Đơn vị đã thay bóng đèn ngày 02/12." in pushed


def test_unfollow_forgets_the_conversation(stack):
    client, zalo, _tg, db = stack
    user = "8800000000000000003"
    say(client, zalo, user, "Tôi muốn gửi phản ánh")
    with session_scope(db) as s:
        assert s.get(ConversationRow, ("zalo", user)) is not None
    raw, headers = signed(zalo_event("unfollow", user, app_id=APP_ID), OA_SECRET)
    assert client.post("/webhooks/zalo", content=raw, headers=headers).status_code == 200
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        with session_scope(db) as s:
            if s.get(ConversationRow, ("zalo", user)) is None:
                break
        time.sleep(0.05)
    with session_scope(db) as s:
        assert s.get(ConversationRow, ("zalo", user)) is None


def test_refused_zalo_requests_change_nothing(stack):
    client, zalo, _tg, db = stack
    user = "8800000000000000004"

    def inbox_count() -> int:
        with session_scope(db) as s:
            return s.scalar(select(func.count()).select_from(InboxEventRow))

    rows, sent = inbox_count(), len(zalo.messages)
    event = zalo_event("user_send_text", user, app_id=APP_ID, text="Lệ phí chứng thực?", msg_id="e2e-dup")
    raw, headers = signed(event, "forged")
    assert client.post("/webhooks/zalo", content=raw, headers=headers).status_code == 401
    stale = zalo_event("user_send_text", user, app_id=APP_ID, text="x",
                       timestamp_ms=int(time.time() * 1000) - 3_600_000)
    raw, headers = signed(stale, OA_SECRET)
    assert client.post("/webhooks/zalo", content=raw, headers=headers).status_code == 403
    assert client.post("/webhooks/zalo", content=b"{bad", headers=headers).status_code == 400
    big = zalo_event("user_send_text", user, app_id=APP_ID, text="x" * 70_000)
    raw, headers = signed(big, OA_SECRET)
    assert client.post("/webhooks/zalo", content=raw, headers=headers).status_code == 413
    unknown = dict(event, event_name="oa_send_text")
    raw, headers = signed(unknown, OA_SECRET)
    assert client.post("/webhooks/zalo", content=raw, headers=headers).json() == {"status": "ignored"}
    time.sleep(0.3)
    assert (inbox_count(), len(zalo.messages)) == (rows, sent)
    # The duplicate: processed once.
    say(client, zalo, user, "Lệ phí chứng thực?", msg_id="e2e-dup")
    raw, headers = signed(event, OA_SECRET)
    assert client.post("/webhooks/zalo", content=raw, headers=headers).json() == {"status": "duplicate"}
    time.sleep(0.3)
    assert (inbox_count(), len(zalo.messages)) == (rows + 1, sent + 1)


def test_telegram_update_is_answered_at_the_fake_bot_api(stack):
    client, _zalo, tg, _db = stack
    chat = 5550001
    update = {"update_id": 90001, "message": {
        "message_id": 1, "date": int(time.time()), "text": "Lệ phí chứng thực bản sao bao nhiêu?",
        "chat": {"id": chat, "type": "private"}, "from": {"id": chat, "is_bot": False, "first_name": "Bình"}}}
    resp = client.post("/webhooks/telegram", json=update, headers={"X-Telegram-Bot-Api-Secret-Token": TG_SECRET})
    assert resp.status_code == 200
    sent = tg.wait_for_sent(1, chat_id=chat)
    assert sent and "chứng thực" in sent[0]["text"].lower()
    assert "Nguồn:" in sent[-1]["text"]
    assert client.post("/webhooks/telegram", json=update).status_code == 401
