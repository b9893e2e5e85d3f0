"""Pure parts of the channel layer: signature rules, text splitting and rendering, the demo script,
and the inbox's dedupe and claim rules on SQLite and PostgreSQL."""
from __future__ import annotations

import argparse
import hashlib
import json
import time

import pytest

from bot.types import Citation, Reply
from webhooks.base import citation_line, render_text, split_text
from webhooks.errors import BadSignature, StaleEvent
from webhooks.zalo import signature, verify

SECRET = "oa-secret"


def _event(ts_ms: int, app_id: str = "42") -> tuple[bytes, dict]:
    data = {"app_id": app_id, "event_name": "user_send_text", "timestamp": str(ts_ms),
            "sender": {"id": "1"}, "message": {"msg_id": "m", "text": "chào"}}
    return json.dumps(data, ensure_ascii=False).encode(), data


class TestZaloSignature:
    def test_signature_is_sha256_of_app_id_body_timestamp_secret(self):
        raw, _data = _event(1_700_000_000_000)
        expected = hashlib.sha256(("42" + raw.decode() + "1700000000000" + SECRET).encode()).hexdigest()
        assert signature("42", raw, "1700000000000", SECRET) == expected

    @pytest.mark.parametrize("prefix", ["mac=", "", "MAC="])
    def test_valid_signature_passes_with_or_without_prefix(self, prefix):
        now = int(time.time() * 1000)
        raw, data = _event(now)
        header = prefix + signature("42", raw, str(now), SECRET)
        verify(raw, data, header, app_id="42", oa_secret_key=SECRET, max_age_s=300, now_ms=now)

    @pytest.mark.parametrize("header", [None, "", "mac=", "mac=deadbeef"])
    def test_missing_or_wrong_signature_is_refused(self, header):
        now = int(time.time() * 1000)
        raw, data = _event(now)
        with pytest.raises(BadSignature):
            verify(raw, data, header, app_id="42", oa_secret_key=SECRET, max_age_s=300, now_ms=now)

    def test_unconfigured_secret_refuses_everything(self):
        now = int(time.time() * 1000)
        raw, data = _event(now)
        with pytest.raises(BadSignature):
            verify(raw, data, "mac=" + signature("42", raw, str(now), ""), app_id="42", oa_secret_key="",
                   max_age_s=300, now_ms=now)

    def test_replay_window_boundaries(self):
        now = 1_700_000_000_000
        for age_s, ok in ((299, True), (301, False), (-30, True), (-120, False)):
            raw, data = _event(now - age_s * 1000)
            header = signature("42", raw, data["timestamp"], SECRET)
            if ok:
                verify(raw, data, header, app_id="42", oa_secret_key=SECRET, max_age_s=300, now_ms=now)
            else:
                with pytest.raises(StaleEvent):
                    verify(raw, data, header, app_id="42", oa_secret_key=SECRET, max_age_s=300, now_ms=now)


class TestSplitText:
    def test_short_text_is_one_piece(self):
        assert split_text("Một câu.", 2000) == ["Một câu."]

    def test_splits_at_sentence_ends_within_limit(self):
        text = " ".join(f"Câu số {i} nói về thủ tục." for i in range(50))
        pieces = split_text(text, 100)
        assert all(len(p) <= 100 for p in pieces)
        assert all(p.endswith(".") for p in pieces)
        assert " ".join(pieces) == text

    def test_keeps_line_breaks_inside_pieces(self):
        text = "Hồ sơ gồm:\n1. Tờ khai.\n2. Giấy chứng sinh."
        assert split_text(text, 2000) == [text]
        assert split_text(text, 25) == ["Hồ sơ gồm:\n1. Tờ khai.", "2. Giấy chứng sinh."]

    def test_thousands_separator_and_list_numbers_are_not_sentence_ends(self):
        text = "Lệ phí 2.000 đồng. Hạn 5 ngày.\n1. Tờ khai.\n2. Bản sao."
        assert split_text(text, 22) == ["Lệ phí 2.000 đồng.", "Hạn 5 ngày.", "1. Tờ khai.", "2. Bản sao."]

    def test_overlong_sentence_is_cut_at_spaces_and_overlong_word_hard(self):
        pieces = split_text("chữ " * 30 + "x" * 45, 20)
        assert all(0 < len(p) <= 20 for p in pieces)
        assert "".join(pieces).replace(" ", "") == ("chữ" * 30 + "x" * 45)


class TestRendering:
    REPLY = Reply(reply="Lệ phí 2.000 đồng/trang.", intent="procedure", answered=True,
                  citations=[Citation(source="a", title="Chứng thực bản sao", locator="Lệ phí"),
                             Citation(source="a", title="Chứng thực bản sao", locator="Lệ phí"),
                             Citation(source="b", title="Thông tư 226/2016/TT-BTC", locator="")],
                  suggestions=["Nộp ở đâu?", "Mất bao lâu?"])

    def test_citations_become_one_short_line_without_repeats(self):
        assert citation_line(self.REPLY) == "Nguồn: Chứng thực bản sao (Lệ phí); Thông tư 226/2016/TT-BTC"

    def test_many_citations_are_summarised(self):
        many = self.REPLY.model_copy(update={"citations": [
            Citation(source=str(i), title=f"Văn bản {i}", locator="Điều 1") for i in range(5)]})
        assert citation_line(many).endswith("và 2 nguồn khác")

    def test_no_citation_no_line(self):
        assert citation_line(Reply(reply="Chào bạn", intent="greeting", answered=True)) is None

    def test_numbered_suggestions_for_channels_without_buttons(self):
        text = render_text(self.REPLY, numbered_suggestions=True)
        assert text.endswith("Bạn có thể hỏi tiếp:\n1. Nộp ở đâu?\n2. Mất bao lâu?")
        assert text.startswith("Lệ phí 2.000 đồng/trang.\n\nNguồn:")


def test_demo_script_signs_events_the_webhook_accepts():
    import importlib.util
    from pathlib import Path

    path = Path(__file__).resolve().parents[2] / "scripts" / "zalo_send_event.py"
    spec = importlib.util.spec_from_file_location("zalo_send_event", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    args = argparse.Namespace(event="user_send_text", user="9", oa_id="1", msg_id="x", text="chào", lat=0, lon=0,
                              url="")
    event = module.build_event(args, "42")
    raw = json.dumps(event, ensure_ascii=False)
    mac = signature("42", raw, event["timestamp"], SECRET)
    verify(raw.encode(), event, f"mac={mac}", app_id="42", oa_secret_key=SECRET, max_age_s=300)




def test_purge_drops_only_old_finished_events(tmp_path):
    from datetime import timedelta

    from sqlalchemy import update

    from db import migrate, session_scope
    from webhooks.inbox import Inbox
    from webhooks.models import InboxEventRow, utcnow

    url = f"sqlite:///{tmp_path / 'p.db'}"
    migrate(url)
    inbox = Inbox(url)
    for key in ("old-done", "new-done", "old-pending"):
        inbox.record(channel="zalo", event_id=key, kind="k", user_key="u", payload={})
    with session_scope(url) as s:
        s.execute(update(InboxEventRow).where(InboxEventRow.event_id.in_(["old-done", "new-done"]))
                  .values(status="done"))
        s.execute(update(InboxEventRow).where(InboxEventRow.event_id.in_(["old-done", "old-pending"]))
                  .values(received_at=utcnow() - timedelta(days=40)))
    assert inbox.purge(timedelta(days=30)) == 1
    assert inbox.find("zalo", "old-done") is None
    assert inbox.find("zalo", "new-done") and inbox.find("zalo", "old-pending")


async def test_worker_runs_at_most_max_active_people_and_leaves_the_rest_unclaimed(tmp_path):
    import asyncio

    from db import migrate
    from webhooks.inbox import Inbox
    from webhooks.models import PENDING, PROCESSING
    from webhooks.queue import InboxWorker

    url = f"sqlite:///{tmp_path / 'w.db'}"
    migrate(url)
    inbox = Inbox(url)
    for person in range(6):
        for n in range(2):
            inbox.record(channel="zalo", event_id=f"p{person}-{n}", kind="k", user_key=f"p{person}", payload={"n": n})
    running: set[str] = set()
    peak, seen = 0, []
    release = asyncio.Event()

    async def process(event) -> None:
        nonlocal peak
        running.add(event.user_key)
        peak = max(peak, len(running))
        seen.append((event.user_key, event.payload["n"]))
        await release.wait()
        running.discard(event.user_key)

    worker = InboxWorker(inbox, {"zalo": process}, poll_interval_s=0.05, max_active=2)
    await worker.start()
    try:
        for _ in range(100):
            if len(running) == 2:
                break
            await asyncio.sleep(0.01)
        await asyncio.sleep(0.1)  # time for a third person to start, if the bound did not hold
        from sqlalchemy import func, select

        from db import session_scope
        from webhooks.models import InboxEventRow

        with session_scope(url) as s:
            by_status = dict(s.execute(select(InboxEventRow.status, func.count()).group_by(InboxEventRow.status)).all())
        assert by_status == {PROCESSING: 2, PENDING: 10}  # waiting events are not claimed
        release.set()
        await worker.idle(timeout=10)
    finally:
        await worker.stop()
    assert peak == 2 and len(seen) == 12
    for person in range(6):  # each person's events still run in order
        assert [n for p, n in seen if p == f"p{person}"] == [0, 1]
