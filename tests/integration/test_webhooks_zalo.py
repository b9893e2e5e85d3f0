"""Zalo OA webhook and sender against a real fake Zalo API server, with a stand-in bot.

The bot is replaced by `FakeService` (injected through `Channels(service=...)`) so these tests
check only the channel layer: signature and replay checks, durable inbox and dedupe, rendering
and splitting, token refresh. The real bot is exercised in tests/integration/test_channels.py.
"""
from __future__ import annotations

import json
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from bot.types import Citation, InboundMessage, Reply
from db import migrate, session_scope
from settings import Settings
from tests.fakes.zalo_api import FakeZaloAPI, signed
from webhooks.models import DONE, FAILED, ChannelInteractionRow, InboxEventRow, ZaloTokenRow
from webhooks.routes import Channels, router, start_channels, stop_channels

pytestmark = pytest.mark.integration

APP_ID = "1234567890"
OA_SECRET = "oa-secret-key"
APP_SECRET = "app-secret"
USER = "2468458835296117922"

ANSWER = Reply(reply="Đăng ký khai sinh cần tờ khai và giấy chứng sinh. Nộp tại UBND cấp xã.",
               intent="procedure", answered=True,
               citations=[Citation(source="1.001193", title="Đăng ký khai sinh", locator="Thành phần hồ sơ")],
               suggestions=["Lệ phí bao nhiêu?", "Thời hạn giải quyết?"])


class FakeService:
    """Stands in for ChatService: records calls, answers `reply` (or what `answer(msg)` returns)."""

    def __init__(self, reply: Reply = ANSWER) -> None:
        self.reply = reply
        self.messages: list[InboundMessage] = []
        self.forgotten: list[tuple[str, str]] = []
        self.lock = threading.Lock()

    def handle(self, msg: InboundMessage) -> Reply:
        with self.lock:
            self.messages.append(msg)
        return self.reply

    def forget(self, channel: str, user_id: str) -> None:
        self.forgotten.append((channel, user_id))


@pytest.fixture
def db(tmp_path) -> str:
    url = f"sqlite:///{tmp_path / 'ch.db'}"
    migrate(url)
    return url


@pytest.fixture
def zalo_api():
    with FakeZaloAPI(app_id=APP_ID, secret_key=APP_SECRET, access_token="access-1", refresh_token="refresh-1") as fake:
        yield fake


def make_settings(db: str, zalo_api: FakeZaloAPI, **over) -> Settings:
    values = {"database_url": db, "zalo_app_id": APP_ID, "zalo_oa_secret_key": OA_SECRET,
                  "zalo_app_secret_key": APP_SECRET, "zalo_access_token": "access-1", "zalo_refresh_token": "refresh-1",
                  "zalo_api_base": zalo_api.base_url, "zalo_oauth_base": zalo_api.base_url, "telegram_token": "",
                  "inbox_poll_interval_s": 0.1, "inbox_retry_base_s": 0.05, "max_body_bytes": 4000,
                  "zalo_max_event_age_s": 300}
    values.update(over)
    return Settings(**values)


def make_app(settings: Settings, service: FakeService) -> FastAPI:
    @asynccontextmanager
    async def lifespan(app: FastAPI):
        await start_channels(app, Channels(settings, service=lambda: service))
        yield
        await stop_channels(app)

    app = FastAPI(lifespan=lifespan)
    app.include_router(router)
    return app


@pytest.fixture
def service() -> FakeService:
    return FakeService()


@pytest.fixture
def client(db, zalo_api, service):
    with TestClient(make_app(make_settings(db, zalo_api), service)) as c:
        yield c


def post_event(client: TestClient, event: dict, *, secret: str = OA_SECRET, with_prefix: bool = True):
    raw, headers = signed(event, secret, with_prefix=with_prefix)
    return client.post("/webhooks/zalo", content=raw, headers=headers)


def inbox_rows(db: str) -> list[InboxEventRow]:
    with session_scope(db) as s:
        return list(s.scalars(select(InboxEventRow).order_by(InboxEventRow.id)))


def wait_until(predicate, timeout: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.02)
    return predicate()


class TestZaloAccepted:
    def test_text_event_is_answered_at_the_send_api(self, client, zalo_api, service, db):
        event = zalo_api.event("user_send_text", USER, text="đăng ký khai sinh cần gì", msg_id="m-1")
        resp = post_event(client, event)
        assert resp.status_code == 200 and resp.json() == {"status": "accepted"}
        sent = zalo_api.wait_for(1)
        assert len(sent) == 1
        assert sent[0]["user_id"] == USER and sent[0]["token"] == "access-1"
        assert sent[0]["text"].startswith("Đăng ký khai sinh cần tờ khai")
        assert "Nguồn: Đăng ký khai sinh (Thành phần hồ sơ)" in sent[0]["text"]
        buttons = sent[0]["attachment"]["payload"]["buttons"]
        assert [b["title"] for b in buttons] == ANSWER.suggestions
        assert all(b["type"] == "oa.query.show" and b["payload"] == b["title"] for b in buttons)
        msg = service.messages[0]
        assert (msg.channel, msg.user_id, msg.text, msg.message_id) == ("zalo", USER, "đăng ký khai sinh cần gì", "m-1")
        assert wait_until(lambda: inbox_rows(db)[0].status == DONE)

    def test_signature_header_without_mac_prefix_is_accepted(self, client, zalo_api):
        event = zalo_api.event("user_send_text", USER, text="xin chào", msg_id="m-2")
        assert post_event(client, event, with_prefix=False).status_code == 200
        assert len(zalo_api.wait_for(1)) == 1

    def test_location_becomes_a_location_attachment(self, client, zalo_api, service):
        event = zalo_api.event("user_send_location", USER, msg_id="m-loc", attachments=[
            {"type": "location", "payload": {"coordinates": {"latitude": "11.3101", "longitude": "106.0983"}}}])
        assert post_event(client, event).status_code == 200
        zalo_api.wait_for(1)
        att = service.messages[0].attachments
        assert [(a.kind, a.latitude, a.longitude) for a in att] == [("location", 11.3101, 106.0983)]

    def test_image_and_file_become_media_attachments(self, client, zalo_api, service):
        image = zalo_api.event("user_send_image", USER, msg_id="m-img", text="ổ gà", attachments=[
            {"type": "image", "payload": {"thumbnail": "https://z/t.jpg", "url": "https://z/full.jpg"}}])
        file = zalo_api.event("user_send_file", USER, msg_id="m-file", attachments=[
            {"type": "file", "payload": {"url": "https://z/d.pdf", "name": "don.pdf", "size": "1200"}}])
        assert post_event(client, image).status_code == 200
        assert post_event(client, file).status_code == 200
        zalo_api.wait_for(2)
        kinds = [(a.kind, a.url, a.name) for m in service.messages for a in m.attachments]
        assert kinds == [("image", "https://z/full.jpg", None), ("file", "https://z/d.pdf", "don.pdf")]
        assert service.messages[0].text == "ổ gà"

    def test_follow_greets_and_unfollow_forgets(self, client, zalo_api, service):
        assert post_event(client, zalo_api.event("follow", USER)).status_code == 200
        greeting = zalo_api.wait_for(1)[0]["text"]
        assert greeting.startswith("Xin chào!")
        assert service.messages == []  # greeting needs no question answered
        assert post_event(client, zalo_api.event("unfollow", USER)).status_code == 200
        assert wait_until(lambda: service.forgotten == [("zalo", USER)])
        time.sleep(0.2)
        assert len(zalo_api.messages) == 1  # nothing is sent to someone who left

    def test_messages_of_one_person_are_answered_in_order(self, client, zalo_api, service):
        for i in range(5):
            post_event(client, zalo_api.event("user_send_text", USER, text=f"câu {i}", msg_id=f"o-{i}"))
        zalo_api.wait_for(5)
        assert [m.text for m in service.messages] == [f"câu {i}" for i in range(5)]


class TestZaloRefused:
    """Each refused request gets its status and changes nothing: no row, no send, no bot call."""

    def assert_nothing_happened(self, db, zalo_api, service):
        time.sleep(0.3)  # give a (wrongly) woken worker the chance to act
        assert inbox_rows(db) == [] and zalo_api.messages == [] and service.messages == []

    def test_forged_signature_is_401(self, client, zalo_api, service, db):
        event = zalo_api.event("user_send_text", USER, text="x", msg_id="f-1")
        assert post_event(client, event, secret="not-the-secret").status_code == 401
        self.assert_nothing_happened(db, zalo_api, service)

    def test_tampered_body_is_401(self, client, zalo_api, service, db):
        event = zalo_api.event("user_send_text", USER, text="x", msg_id="f-2")
        raw, headers = signed(event, OA_SECRET)
        tampered = raw.replace(b'"x"', b'"y"')
        assert client.post("/webhooks/zalo", content=tampered, headers=headers).status_code == 401
        self.assert_nothing_happened(db, zalo_api, service)

    def test_missing_signature_is_401(self, client, zalo_api, service, db):
        raw, _ = signed(zalo_api.event("user_send_text", USER, text="x"), OA_SECRET)
        assert client.post("/webhooks/zalo", content=raw).status_code == 401
        self.assert_nothing_happened(db, zalo_api, service)

    def test_event_for_another_app_is_401(self, client, zalo_api, service, db):
        event = zalo_api.event("user_send_text", USER, app_id="999", text="x", msg_id="f-3")
        assert post_event(client, event).status_code == 401
        self.assert_nothing_happened(db, zalo_api, service)

    def test_replayed_stale_event_is_403(self, client, zalo_api, service, db):
        old = int(time.time() * 1000) - 301_000
        event = zalo_api.event("user_send_text", USER, text="x", msg_id="f-4", timestamp_ms=old)
        resp = post_event(client, event)
        assert resp.status_code == 403
        self.assert_nothing_happened(db, zalo_api, service)

    def test_event_from_the_far_future_is_403(self, client, zalo_api, service, db):
        future = int(time.time() * 1000) + 3_600_000
        event = zalo_api.event("user_send_text", USER, text="x", msg_id="f-5", timestamp_ms=future)
        assert post_event(client, event).status_code == 403
        self.assert_nothing_happened(db, zalo_api, service)

    def test_malformed_json_is_400(self, client, zalo_api, service, db):
        resp = client.post("/webhooks/zalo", content=b'{"event_name": "user_send_text", ',
                           headers={"X-ZEvent-Signature": "mac=00", "Content-Type": "application/json"})
        assert resp.status_code == 400
        self.assert_nothing_happened(db, zalo_api, service)

    def test_json_that_is_not_an_object_is_400(self, client, zalo_api, service, db):
        resp = client.post("/webhooks/zalo", content=b'["a"]', headers={"X-ZEvent-Signature": "mac=00"})
        assert resp.status_code == 400
        self.assert_nothing_happened(db, zalo_api, service)

    def test_oversized_body_is_413(self, client, zalo_api, service, db):
        event = zalo_api.event("user_send_text", USER, text="a" * 5000, msg_id="f-6")
        assert post_event(client, event).status_code == 413
        self.assert_nothing_happened(db, zalo_api, service)

    def test_unknown_event_is_acknowledged_and_ignored(self, client, zalo_api, service, db, caplog):
        event = zalo_api.event("user_send_text", USER, text="bí mật", msg_id="u-1")
        event["event_name"] = "user_submit_info"
        with caplog.at_level("INFO", logger="webhooks.routes"):
            resp = post_event(client, event)
        assert resp.status_code == 200 and resp.json() == {"status": "ignored"}
        self.assert_nothing_happened(db, zalo_api, service)
        assert "user_submit_info" in caplog.text
        assert USER not in caplog.text and "bí mật" not in caplog.text


class TestZaloDedupe:
    def test_retried_event_is_processed_once(self, client, zalo_api, service, db):
        event = zalo_api.event("user_send_text", USER, text="hỏi", msg_id="d-1")
        assert post_event(client, event).json() == {"status": "accepted"}
        zalo_api.wait_for(1)
        assert post_event(client, event).json() == {"status": "duplicate"}
        time.sleep(0.3)
        assert len(zalo_api.messages) == 1 and len(service.messages) == 1
        assert len(inbox_rows(db)) == 1

    def test_concurrent_retries_are_processed_once(self, client, zalo_api, service, db):
        event = zalo_api.event("user_send_text", USER, text="hỏi", msg_id="d-2")
        with ThreadPoolExecutor(8) as pool:
            statuses = list(pool.map(lambda _: post_event(client, event).json()["status"], range(8)))
        assert sorted(statuses) == ["accepted"] + ["duplicate"] * 7
        zalo_api.wait_for(1)
        time.sleep(0.3)
        assert len(zalo_api.messages) == 1 and len(service.messages) == 1
        assert len(inbox_rows(db)) == 1


class TestDurability:
    def test_event_stored_before_a_crash_is_answered_after_restart(self, db, zalo_api, service):
        settings = make_settings(db, zalo_api)
        event = zalo_api.event("user_send_text", USER, text="trước khi sập", msg_id="c-1")
        # The webhook stored the event, then the process died before the worker ran.
        Channels(settings, service=lambda: service).inbox.record(
            channel="zalo", event_id="c-1", kind="user_send_text", user_key=USER, payload=event)
        with TestClient(make_app(settings, service)):
            assert len(zalo_api.wait_for(1)) == 1
        assert [m.text for m in service.messages] == ["trước khi sập"]
        assert inbox_rows(db)[0].status == DONE

    def test_failed_send_is_retried_without_asking_the_bot_again(self, client, zalo_api, service, db):
        zalo_api.fail_next(-32, "rate limit")
        post_event(client, zalo_api.event("user_send_text", USER, text="hỏi", msg_id="r-1"))
        assert len(zalo_api.wait_for(1)) == 1
        assert len(service.messages) == 1  # the stored answer was re-sent
        row = inbox_rows(db)[0]
        assert wait_until(lambda: inbox_rows(db)[0].status == DONE)
        assert row.attempts >= 1

    def test_event_gives_up_after_max_attempts(self, db, zalo_api, service):
        settings = make_settings(db, zalo_api, inbox_max_attempts=2)
        for _ in range(4):
            zalo_api.fail_next(-32, "rate limit")
        with TestClient(make_app(settings, service)) as c:
            post_event(c, zalo_api.event("user_send_text", USER, text="hỏi", msg_id="g-1"))
            assert wait_until(lambda: inbox_rows(db)[0].status == FAILED)
        row = inbox_rows(db)[0]
        assert row.attempts == 2 and "ZaloApiError" in row.last_error


class TestZaloSending:
    def test_expired_token_is_refreshed_once_and_stored_before_use(self, client, zalo_api, db):
        zalo_api.expire_token()
        post_event(client, zalo_api.event("user_send_text", USER, text="hỏi", msg_id="t-1"))
        sent = zalo_api.wait_for(1)
        assert len(zalo_api.refreshes) == 1
        form = zalo_api.refreshes[0]["form"]
        assert form == {"refresh_token": "refresh-1", "app_id": APP_ID, "grant_type": "refresh_token"}
        assert zalo_api.refreshes[0]["secret_key"] == APP_SECRET
        assert sent[0]["token"] == zalo_api.access_token
        with session_scope(db) as s:
            row = s.get(ZaloTokenRow, APP_ID)
            assert (row.access_token, row.refresh_token) == (zalo_api.access_token, zalo_api.refresh_token)
            assert row.expires_at is not None
        # The next message uses the stored token and does not refresh again.
        post_event(client, zalo_api.event("user_send_text", USER, text="hỏi", msg_id="t-2"))
        zalo_api.wait_for(2)
        assert len(zalo_api.refreshes) == 1

    def test_long_reply_is_split_at_sentence_ends(self, db, zalo_api):
        sentence = "Câu trả lời dài về thủ tục hành chính số {}. "
        text = "".join(sentence.format(i) for i in range(120))
        service = FakeService(Reply(reply=text, intent="procedure", answered=True))
        with TestClient(make_app(make_settings(db, zalo_api), service)) as c:
            post_event(c, zalo_api.event("user_send_text", USER, text="hỏi", msg_id="l-1"))
            assert wait_until(lambda: len(zalo_api.messages) >= 3)
            time.sleep(0.2)
        texts = [m["text"] for m in zalo_api.messages]
        assert all(len(t) <= 2000 for t in texts) and len(texts) == 3
        assert all(t.endswith(".") for t in texts)
        assert " ".join(texts) == text.strip()

    def test_refused_buttons_fall_back_to_numbered_suggestions(self, client, zalo_api):
        zalo_api.reject_buttons = True
        post_event(client, zalo_api.event("user_send_text", USER, text="hỏi", msg_id="b-1"))
        sent = zalo_api.wait_for(1)
        assert sent[0]["attachment"] is None
        assert "1. Lệ phí bao nhiêu?\n2. Thời hạn giải quyết?" in sent[0]["text"]
        assert "Nguồn: Đăng ký khai sinh" in sent[0]["text"]

    def test_notification_sender_reaches_the_user(self, client, zalo_api):
        zalo_api.user_interacts(USER)
        channels = client.app.state.channels
        channels.zalo.send_text(USER, "Phản ánh PA-1 đã có trả lời.")
        assert zalo_api.texts_for(USER) == ["Phản ánh PA-1 đã có trả lời."]


def test_inbox_counts_are_per_channel_and_event(db):
    from webhooks.inbox import Inbox

    inbox = Inbox(db)
    assert inbox.record(channel="zalo", event_id="1", kind="k", user_key="u", payload={})
    assert inbox.record(channel="telegram", event_id="1", kind="k", user_key="u", payload={})
    assert not inbox.record(channel="zalo", event_id="1", kind="k", user_key="u", payload={"other": 1})
    with session_scope(db) as s:
        assert s.scalar(select(func.count()).select_from(InboxEventRow)) == 2
    assert json.dumps(inbox.due())  # plain tuples, serialisable


# ---------------------------------------------------------------------- office replies days later
OFFICE = "test-office"
DAY_S = 86400


def petition(db: str, user: str = USER) -> str:
    """A Zalo citizen's petition, being handled by OFFICE (stored directly: triage is not under test)."""
    from pakn.models import PaknRecord
    from pakn.service import new_code

    code = new_code()
    with session_scope(db) as s:
        s.add(PaknRecord(code=code, content="Đèn đường hỏng ở đầu hẻm", channel="zalo", channel_user_id=user,
                         fingerprint=code, category="ha_tang", confidence=0.9, status="in_progress",
                         office_id=OFFICE, office_name="Phòng Quản lý đô thị"))
    return code


def office_reply(db: str, code: str, text: str = "Đã thay bóng đèn ngày 01/12.") -> None:
    from pakn.service import add_reply

    with session_scope(db) as s:
        add_reply(s, code, OFFICE, text)


def run_outbox(db: str):
    from db import session_factory
    from pakn import outbox

    return outbox.run_once(session_factory(db), worker_id="test")


def reply_jobs(db: str, code: str) -> list:
    from pakn.models import CITIZEN_REPLY, OutboxJob

    with session_scope(db) as s:
        return list(s.scalars(select(OutboxJob).where(OutboxJob.kind == CITIZEN_REPLY,
                                                      OutboxJob.payload["code"].as_string() == code)
                              .order_by(OutboxJob.id)))


def event_kinds(db: str, code: str) -> list[str]:
    from pakn.models import PaknRecord

    with session_scope(db) as s:
        return [e.kind for e in s.scalars(select(PaknRecord).where(PaknRecord.code == code)).one().events]


def wrote_days_ago(channels: Channels, zalo_api: FakeZaloAPI, days: float, user: str = USER) -> None:
    """The citizen's last message was `days` ago, on Zalo's side and in our record."""
    from datetime import timedelta

    from webhooks.models import utcnow

    zalo_api.user_interacts(user, time.time() - days * DAY_S)
    with session_scope(channels.settings.database_url) as s:
        s.execute(ChannelInteractionRow.__table__.delete())
    channels.interactions.touch("zalo", user, utcnow() - timedelta(days=days))


def writes_now(client: TestClient, zalo_api: FakeZaloAPI, text: str, msg_id: str, user: str = USER) -> None:
    """The citizen writes to the OA; returns once the bot answered it (the interaction is recorded first)."""
    before = len(zalo_api.messages)
    assert post_event(client, zalo_api.event("user_send_text", user, text=text, msg_id=msg_id)).status_code == 200
    assert len(zalo_api.wait_for(before + 1)) == before + 1


@pytest.fixture
def app_with(db, zalo_api, service):
    """A TestClient over the channels with settings overridden (e.g. a transaction template)."""
    clients: list[TestClient] = []

    def make(**over) -> TestClient:
        c = TestClient(make_app(make_settings(db, zalo_api, **over), service))
        c.__enter__()
        clients.append(c)
        return c

    yield make
    for c in clients:
        c.__exit__(None, None, None)


class TestInteractions:
    def test_a_message_records_the_time_zalo_stamped_on_it(self, client, zalo_api, db):
        stamped = int(time.time() * 1000) - 90_000
        event = zalo_api.event("user_send_text", USER, text="xin chào", msg_id="i-1", timestamp_ms=stamped)
        assert post_event(client, event).status_code == 200
        zalo_api.wait_for(1)
        with session_scope(db) as s:
            row = s.get(ChannelInteractionRow, ("zalo", USER))
            assert abs(row.last_interaction_at.timestamp() * 1000 - stamped) < 2 and row.cs_sent == 0

    def test_a_sticker_counts_as_writing_but_gets_no_answer(self, client, zalo_api, service, db):
        event = zalo_api.event("user_send_sticker", USER, msg_id="i-2", attachments=[
            {"type": "sticker", "payload": {"id": "1", "url": "https://z/s.png"}}])
        assert post_event(client, event).json() == {"status": "accepted"}
        assert wait_until(lambda: inbox_rows(db) and inbox_rows(db)[0].status == DONE)
        with session_scope(db) as s:
            assert s.get(ChannelInteractionRow, ("zalo", USER)) is not None
        assert zalo_api.messages == [] and service.messages == []

    def test_refused_and_follow_events_record_nothing(self, client, zalo_api, db):
        forged = zalo_api.event("user_send_text", USER, text="x", msg_id="i-3")
        assert post_event(client, forged, secret="not-the-secret").status_code == 401
        assert post_event(client, zalo_api.event("follow", USER)).status_code == 200
        zalo_api.wait_for(1)  # the greeting
        with session_scope(db) as s:
            assert s.scalar(select(func.count()).select_from(ChannelInteractionRow)) == 0


class TestOfficeReplyWindow:
    def test_within_the_window_the_reply_goes_as_a_cs_message(self, client, zalo_api, db):
        writes_now(client, zalo_api, "đèn đường hỏng", "w-1")
        code = petition(db)
        office_reply(db, code)
        assert run_outbox(db).done == 1
        sent = zalo_api.messages[-1]
        assert sent["kind"] == "cs" and sent["user_id"] == USER
        assert code in sent["text"] and "Đã thay bóng đèn ngày 01/12." in sent["text"]
        job = reply_jobs(db, code)[0]
        assert job.status == "done" and job.payload["via"] == "zalo:cs"

    def test_outside_the_window_a_configured_transaction_message_is_used(self, app_with, zalo_api, db):
        c = app_with(zalo_transaction_template="transaction_event")
        wrote_days_ago(c.app.state.channels, zalo_api, 9)
        code = petition(db)
        office_reply(db, code)
        assert run_outbox(db).done == 1
        assert zalo_api.rejected == []  # cs was not even tried
        [sent] = zalo_api.messages
        assert sent["kind"] == "transaction" and sent["template_type"] == "transaction_event"
        assert sent["header"] == f"Trả lời phản ánh {code}"
        assert "Đã thay bóng đèn ngày 01/12." in sent["text"] and f"tra cứu {code}" in sent["text"]
        assert reply_jobs(db, code)[0].payload["via"] == "zalo:transaction"

    def test_outside_the_window_without_transaction_the_reply_waits_for_the_next_message(self, client, zalo_api,
                                                                                         db):
        wrote_days_ago(client.app.state.channels, zalo_api, 9)
        code = petition(db)
        office_reply(db, code)
        stats = run_outbox(db)
        assert stats.waiting == 1 and stats.dead == 0 and stats.retried == 0
        assert zalo_api.messages == [] and zalo_api.rejected == []
        job = reply_jobs(db, code)[0]
        assert job.status == "waiting" and "outside the cs window" in job.last_error
        assert event_kinds(db, code).count("delivery_waiting") == 1
        assert run_outbox(db).claimed == 0  # a waiting reply is not retried on a timer
        # Days later the citizen writes: the bot answers, and the office reply follows, once.
        writes_now(client, zalo_api, "cho hỏi phản ánh của tôi", "w-2")
        assert run_outbox(db).done == 1
        waited = [m["text"] for m in zalo_api.messages if code in m["text"]]
        expected = f"Cơ quan đã trả lời phản ánh {code} của bạn (Phòng Quản lý đô thị): Đã thay bóng đèn ngày 01/12."
        assert waited == [expected]
        assert zalo_api.messages[-1]["kind"] == "cs"
        writes_now(client, zalo_api, "cảm ơn", "w-3")
        assert run_outbox(db).claimed == 0
        assert [m["text"] for m in zalo_api.messages if code in m["text"]] == waited
        assert reply_jobs(db, code)[0].status == "done"

    def test_a_person_we_have_no_record_of_is_tried_and_zalo_s_refusal_means_waiting(self, client, zalo_api, db):
        zalo_api.user_interacts(USER, time.time() - 30 * DAY_S)  # wrote before our record existed
        code = petition(db)
        office_reply(db, code)
        assert run_outbox(db).waiting == 1
        assert [r["error"] for r in zalo_api.rejected] == [-230]
        assert "error -230" in reply_jobs(db, code)[0].last_error

    def test_quota_used_up_means_waiting(self, app_with, zalo_api, db):
        zalo_api.cs_quota = 2
        c = app_with(zalo_cs_quota=2)
        writes_now(c, zalo_api, "đèn đường hỏng", "q-1")  # the bot's answer is cs message 1 of 2
        first, second = petition(db), petition(db)
        office_reply(db, first)
        assert run_outbox(db).done == 1  # cs message 2 of 2
        office_reply(db, second)
        assert run_outbox(db).waiting == 1
        assert zalo_api.rejected == []  # our count knew; Zalo was not asked
        assert "cs quota used (2/2)" in reply_jobs(db, second)[0].last_error
        writes_now(c, zalo_api, "còn phản ánh kia?", "q-2")
        assert run_outbox(db).done == 1
        assert zalo_api.messages[-1]["text"].startswith(f"Cơ quan đã trả lời phản ánh {second}")

    def test_zalo_s_quota_refusal_means_waiting(self, client, zalo_api, db):
        zalo_api.cs_quota = 1  # Zalo counts what our settings do not (ZALO_CS_QUOTA=0)
        writes_now(client, zalo_api, "đèn đường hỏng", "q-3")
        code = petition(db)
        office_reply(db, code)
        assert run_outbox(db).waiting == 1
        assert [r["error"] for r in zalo_api.rejected] == [-311]

    def test_transaction_refused_for_an_old_interaction_means_waiting(self, app_with, zalo_api, db):
        c = app_with(zalo_transaction_template="transaction_event", zalo_transaction_window_h=24 * 3650)
        wrote_days_ago(c.app.state.channels, zalo_api, 400)
        code = petition(db)
        office_reply(db, code)
        assert run_outbox(db).waiting == 1
        assert [r["error"] for r in zalo_api.rejected] == [-232]

    def test_a_permanent_zalo_error_is_a_failed_delivery(self, client, zalo_api, db):
        writes_now(client, zalo_api, "đèn đường hỏng", "p-1")
        code = petition(db)
        office_reply(db, code)
        zalo_api.fail_next(-201, "text is invalid!")
        assert run_outbox(db).dead == 1
        assert reply_jobs(db, code)[0].last_error == "Zalo API error -201"
        assert "delivery_failed" in event_kinds(db, code)

    def test_an_oa_without_transaction_messages_is_a_failed_delivery_not_a_silent_wait(self, app_with, zalo_api,
                                                                                         db):
        zalo_api.transaction_enabled = False  # configured here, not enabled at Zalo: staff must see it
        c = app_with(zalo_transaction_template="transaction_event")
        wrote_days_ago(c.app.state.channels, zalo_api, 9)
        code = petition(db)
        office_reply(db, code)
        assert run_outbox(db).dead == 1
        assert [r["error"] for r in zalo_api.rejected] == [-212]

    def test_a_rate_limit_is_retried_later(self, client, zalo_api, db):
        writes_now(client, zalo_api, "đèn đường hỏng", "p-2")
        code = petition(db)
        office_reply(db, code)
        zalo_api.fail_next(-32, "Your application reached limit call api")
        assert run_outbox(db).retried == 1
        assert reply_jobs(db, code)[0].status == "pending"


class TestWindowPolicy:
    def test_choice_by_age_quota_and_template(self):
        from datetime import timedelta

        from webhooks.models import utcnow
        from webhooks.zalo_window import Interaction, WindowPolicy

        now = utcnow()
        plain, quota = WindowPolicy(), WindowPolicy(cs_quota=8, transaction_template="transaction_event")
        assert plain.choose(None, now) == "cs"  # unknown: Zalo decides
        assert plain.choose(Interaction(now - timedelta(days=6, hours=23), 50), now) == "cs"
        assert plain.choose(Interaction(now - timedelta(days=7, minutes=1), 0), now) == "wait"
        assert quota.choose(Interaction(now - timedelta(hours=1), 7), now, pieces=1) == "cs"
        assert quota.choose(Interaction(now - timedelta(hours=1), 7), now, pieces=2) == "transaction"
        assert quota.choose(Interaction(now - timedelta(days=366), 0), now) == "wait"

    def test_a_long_reply_is_cut_in_the_transaction_message_and_points_to_the_lookup(self):
        from webhooks.zalo_window import transaction_content

        out = transaction_content("Nội dung rất dài. " * 200, "PA-2612-ABCDE-FGHIJ", 500)
        assert len(out["body"]) <= 500 and out["body"].endswith("Nhắn “tra cứu PA-2612-ABCDE-FGHIJ” cho OA để xem "
                                                                "chi tiết.")
        assert "…" in out["body"] and out["table"] == [("Mã phản ánh", "PA-2612-ABCDE-FGHIJ")]
