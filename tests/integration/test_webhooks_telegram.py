"""Telegram webhook through python-telegram-bot against a real fake Bot API server, with a stand-in bot."""
from __future__ import annotations

import time
from contextlib import asynccontextmanager

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import select

from bot.types import Citation, InboundMessage, Reply
from db import migrate, session_scope
from settings import Settings
from tests.fakes.telegram_api import FakeTelegramAPI
from webhooks.models import InboxEventRow
from webhooks.routes import Channels, router, start_channels, stop_channels

pytestmark = pytest.mark.integration

TOKEN = "123456:TEST-TOKEN"
SECRET = "tg-secret-token"
CHAT = 777001

ANSWER = Reply(reply="Lệ phí chứng thực bản sao là 2.000 đồng/trang.", intent="procedure", answered=True,
               citations=[Citation(source="2.000815", title="Chứng thực bản sao", locator="Lệ phí")],
               suggestions=["Nộp ở đâu?", "Cần mang giấy tờ gì để được chứng thực bản sao từ bản chính?"])


class FakeService:
    def __init__(self) -> None:
        self.messages: list[InboundMessage] = []

    def handle(self, msg: InboundMessage) -> Reply:
        self.messages.append(msg)
        return ANSWER

    def forget(self, channel: str, user_id: str) -> None:  # pragma: no cover - Telegram has no unfollow
        pass


@pytest.fixture
def tg_api():
    with FakeTelegramAPI(token=TOKEN) as fake:
        yield fake


@pytest.fixture
def service() -> FakeService:
    return FakeService()


@pytest.fixture
def db(tmp_path) -> str:
    url = f"sqlite:///{tmp_path / 'tg.db'}"
    migrate(url)
    return url


def _webhook_client(db, tg_api, service):
    """The Telegram webhook router in an app whose channels answer with `service`."""
    settings = Settings(database_url=db, telegram_token=TOKEN, telegram_secret_token=SECRET,
                        telegram_api_base=tg_api.base_url, telegram_webhook_url="https://example.gov.vn/webhooks/telegram",
                        zalo_app_id="", inbox_poll_interval_s=0.1, max_body_bytes=4000)

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        await start_channels(app, Channels(settings, service=lambda: service))
        yield
        await stop_channels(app)

    app = FastAPI(lifespan=lifespan)
    app.include_router(router)
    with TestClient(app) as c:
        yield c


@pytest.fixture
def client(db, tg_api, service):
    yield from _webhook_client(db, tg_api, service)


def update(update_id: int, text: str | None = None, **extra) -> dict:
    message = {"message_id": update_id * 10, "date": int(time.time()),
               "chat": {"id": CHAT, "type": "private", "first_name": "An"},
               "from": {"id": CHAT, "is_bot": False, "first_name": "An"}, **extra}
    if text is not None:
        message["text"] = text
        if text.startswith("/"):
            message["entities"] = [{"type": "bot_command", "offset": 0, "length": len(text.split()[0])}]
    return {"update_id": update_id, "message": message}


def post(client: TestClient, body: dict, secret: str | None = SECRET):
    headers = {"X-Telegram-Bot-Api-Secret-Token": secret} if secret is not None else {}
    return client.post("/webhooks/telegram", json=body, headers=headers)


def rows(db: str) -> list[InboxEventRow]:
    with session_scope(db) as s:
        return list(s.scalars(select(InboxEventRow)))


class TestTelegram:
    def test_startup_initialises_ptb_and_registers_the_webhook(self, client, tg_api):
        methods = [c["method"] for c in tg_api.calls]
        assert methods[:2] == ["getMe", "setWebhook"]
        assert tg_api.webhook["url"] == "https://example.gov.vn/webhooks/telegram"
        assert tg_api.webhook["secret_token"] == SECRET

    def test_text_update_is_answered_with_sources_and_inline_keyboard(self, client, tg_api, service):
        resp = post(client, update(1, "lệ phí chứng thực"))
        assert resp.status_code == 200 and resp.json() == {"status": "accepted"}
        sent = tg_api.wait_for_sent(1)
        assert len(sent) == 1 and int(sent[0]["chat_id"]) == CHAT
        assert sent[0]["text"].startswith("Lệ phí chứng thực bản sao là 2.000 đồng/trang.")
        assert "Nguồn: Chứng thực bản sao (Lệ phí)" in sent[0]["text"]
        keyboard = sent[0]["reply_markup"]["inline_keyboard"]
        assert [row[0]["text"] for row in keyboard] == ANSWER.suggestions
        assert all(len(row[0]["callback_data"].encode()) <= 64 for row in keyboard)
        msg = service.messages[0]
        assert (msg.channel, msg.user_id, msg.text, msg.message_id) == ("telegram", str(CHAT), "lệ phí chứng thực", "10")

    def test_start_greets_without_asking_the_bot(self, client, tg_api, service):
        post(client, update(2, "/start"))
        sent = tg_api.wait_for_sent(1)
        assert sent[0]["text"].startswith("Xin chào!") and service.messages == []

    def test_tracuu_passes_the_code_to_the_bot(self, client, tg_api, service):
        post(client, update(3, "/tracuu PA-2024-000123"))
        tg_api.wait_for_sent(1)
        assert service.messages[0].text == "tra cứu PA-2024-000123"

    def test_tracuu_without_code_explains_usage(self, client, tg_api, service):
        post(client, update(4, "/tracuu"))
        sent = tg_api.wait_for_sent(1)
        assert "/tracuu" in sent[0]["text"] and service.messages == []

    def test_shared_location_becomes_an_attachment(self, client, tg_api, service):
        post(client, update(5, location={"latitude": 11.31, "longitude": 106.09}))
        tg_api.wait_for_sent(1)
        att = service.messages[0].attachments
        assert [(a.kind, a.latitude, a.longitude) for a in att] == [("location", 11.31, 106.09)]

    def test_tapping_a_suggestion_asks_it(self, client, tg_api, service):
        markup = {"inline_keyboard": [[{"text": s, "callback_data": f"s:{i}"}] for i, s in enumerate(ANSWER.suggestions)]}
        body = {"update_id": 6, "callback_query": {
            "id": "cbq-1", "chat_instance": "ci", "data": "s:1", "from": {"id": CHAT, "is_bot": False, "first_name": "An"},
            "message": {"message_id": 99, "date": int(time.time()), "chat": {"id": CHAT, "type": "private"},
                        "text": "…", "reply_markup": markup}}}
        assert post(client, body).status_code == 200
        tg_api.wait_for_sent(1)
        assert service.messages[0].text == ANSWER.suggestions[1]
        assert any(c["method"] == "answerCallbackQuery" for c in tg_api.calls)

    def test_wrong_or_missing_secret_is_401_and_changes_nothing(self, client, tg_api, service, db):
        assert post(client, update(7, "x"), secret="wrong").status_code == 401
        assert post(client, update(8, "x"), secret=None).status_code == 401
        time.sleep(0.3)
        assert rows(db) == [] and tg_api.sent() == [] and service.messages == []

    def test_malformed_update_is_400(self, client, tg_api, db):
        resp = client.post("/webhooks/telegram", content=b"{nope", headers={"X-Telegram-Bot-Api-Secret-Token": SECRET})
        assert resp.status_code == 400
        assert post(client, {"message": {}}).status_code == 400
        assert rows(db) == []

    def test_duplicate_update_is_answered_once(self, client, tg_api, service, db):
        assert post(client, update(9, "hỏi")).json() == {"status": "accepted"}
        tg_api.wait_for_sent(1)
        assert post(client, update(9, "hỏi")).json() == {"status": "duplicate"}
        time.sleep(0.3)
        assert len(tg_api.sent()) == 1 and len(service.messages) == 1 and len(rows(db)) == 1

    def test_updates_without_a_chat_are_ignored(self, client, tg_api, db):
        resp = post(client, {"update_id": 10, "poll": {"id": "p", "question": "?", "options": []}})
        assert resp.json() == {"status": "ignored"} and rows(db) == []

    def test_notification_sender_reaches_the_chat(self, client, tg_api):
        client.app.state.channels.telegram.send_text(str(CHAT), "Phản ánh PA-1 đã có trả lời.")
        assert [m["text"] for m in tg_api.sent(CHAT)] == ["Phản ánh PA-1 đã có trả lời."]


@pytest.fixture(scope="module")
def chat_service(bm25_engine):
    """The real bot (BM25-only retrieval), for what only the whole path shows: buttons that answer."""
    from datetime import date

    from bot.service import ChatService
    return ChatService(engine=bm25_engine, clock=lambda: date(2026, 12, 2), max_fact_age_days=180)


@pytest.fixture
def bot_client(db, tg_api, chat_service):
    yield from _webhook_client(db, tg_api, chat_service)


def test_a_variant_button_tapped_answers_that_variant(bot_client, tg_api, chat_service):
    """Which certification? The question's buttons reach Telegram, and the tapped one is answered."""
    chat_service.forget("telegram", str(CHAT))
    assert post(bot_client, update(11, "chung thuc het bao nhieu tien")).status_code == 200
    asked = tg_api.wait_for_sent(1)[-1]
    assert asked["text"].startswith("Bạn cần chứng thực loại nào?")
    markup = asked["reply_markup"]
    labels = [row[0]["text"] for row in markup["inline_keyboard"]]
    assert labels == ["Bản sao từ bản chính", "Chữ ký", "Hợp đồng, giao dịch", "Chữ ký người dịch"]
    body = {"update_id": 12, "callback_query": {
        "id": "cbq-2", "chat_instance": "ci", "data": markup["inline_keyboard"][1][0]["callback_data"],
        "from": {"id": CHAT, "is_bot": False, "first_name": "An"},
        "message": {"message_id": 120, "date": int(time.time()), "chat": {"id": CHAT, "type": "private"},
                    "text": asked["text"], "reply_markup": markup}}}
    assert post(bot_client, body).status_code == 200
    answer = tg_api.wait_for_sent(2)[-1]
    assert answer["text"].startswith("Thủ tục chứng thực chữ ký trong giấy tờ, văn bản:")
    assert "10.000 đồng" in answer["text"]
