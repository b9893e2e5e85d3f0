"""The channel inbox's dedupe and claims on SQLite and PostgreSQL (moved from tests/unit: it uses PostgreSQL)."""
from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor

import pytest

pytestmark = pytest.mark.integration


class TestInboxOnBothDatabases:
    """Dedupe and claim rely on the database, so they are checked on SQLite and PostgreSQL."""

    def test_parallel_inserts_of_one_event_store_one_row(self, db_url):
        from webhooks.inbox import Inbox

        inbox = Inbox(db_url)
        key = f"par-{time.time_ns()}"
        with ThreadPoolExecutor(8) as pool:
            results = list(pool.map(lambda _: inbox.record(channel="zalo", event_id=key, kind="k", user_key="u",
                                                           payload={"n": 1}), range(8)))
        assert results.count(True) == 1

    def test_a_batch_stores_new_events_and_reports_repeats_as_duplicates(self, db_url):
        from webhooks.inbox import Inbox, new_event

        inbox = Inbox(db_url)
        key = f"batch-{time.time_ns()}"
        assert inbox.record(channel="zalo", event_id=f"{key}-old", kind="k", user_key="u", payload={})
        batch = [new_event("zalo", f"{key}-a", "k", "u", {"n": 1}),
                 new_event("zalo", f"{key}-old", "k", "u", {}),  # stored before
                 new_event("zalo", f"{key}-a", "k", "u", {"n": 1}),  # twice in the batch
                 new_event("telegram", f"{key}-a", "k", "u", {}),  # same id, other channel
                 new_event("zalo", f"{key}-b", "k", "u", {"text": "chào"})]
        assert inbox.record_many(batch) == [True, False, False, True, True]
        assert inbox.record_many([]) == []
        rows = [inbox.find(c, f"{key}-{s}") for c, s in (("zalo", "a"), ("telegram", "a"), ("zalo", "b"))]
        assert all(rows) and len(set(rows)) == 3

    async def test_writer_answers_each_concurrent_delivery_once_after_commit(self, db_url):
        import asyncio

        from webhooks.inbox import Inbox, InboxWriter

        inbox = Inbox(db_url)
        writer = InboxWriter(inbox)
        key = f"w-{time.time_ns()}"
        try:
            # 40 distinct events, each delivered three times at once: one "stored" per event.
            results = await asyncio.gather(*(
                writer.record(channel="zalo", event_id=f"{key}-{i % 40}", kind="k", user_key=f"u{i % 7}",
                              payload={"i": i % 40}) for i in range(120)))
        finally:
            writer.stop()
        per_event: dict[int, list[bool]] = {}
        for i, stored in enumerate(results):
            per_event.setdefault(i % 40, []).append(stored)
        assert all(v.count(True) == 1 for v in per_event.values())
        assert all(inbox.find("zalo", f"{key}-{n}") for n in range(40))  # committed before the answers

    async def test_one_bad_event_fails_alone_and_the_writer_keeps_going(self, db_url):
        import asyncio

        from webhooks.inbox import Inbox, InboxWriter

        inbox = Inbox(db_url)
        writer = InboxWriter(inbox)
        key = f"bad-{time.time_ns()}"
        try:
            results = await asyncio.gather(
                *(writer.record(channel="zalo", event_id=f"{key}-{i}", kind="k", user_key="u",
                                payload={"bad": object()} if i == 3 else {"i": i}) for i in range(8)),
                return_exceptions=True)
            later = await writer.record(channel="zalo", event_id=f"{key}-later", kind="k", user_key="u", payload={})
        finally:
            writer.stop()
        assert isinstance(results[3], Exception)
        assert [r for i, r in enumerate(results) if i != 3] == [True] * 7 and later is True
        assert inbox.find("zalo", f"{key}-3") is None and inbox.find("zalo", f"{key}-7")

    def test_an_event_is_claimed_once_and_reclaimed_after_its_lease(self, db_url):
        from webhooks.inbox import Inbox

        inbox = Inbox(db_url, lease_s=0.3)
        key = f"claim-{time.time_ns()}"
        assert inbox.record(channel="zalo", event_id=key, kind="k", user_key=key, payload={})
        row_id = inbox.find("zalo", key)
        with ThreadPoolExecutor(6) as pool:
            claims = [c for c in pool.map(lambda _: inbox.claim(row_id), range(6)) if c is not None]
        assert len(claims) == 1 and claims[0].attempts == 1
        assert inbox.claim(row_id) is None
        time.sleep(0.4)  # the worker that held it "crashed"
        again = inbox.claim(row_id)
        assert again is not None and again.attempts == 2
        inbox.save_reply(row_id, {"reply": "x"})
        inbox.done(row_id)
        assert inbox.claim(row_id) is None and inbox.cached_reply(row_id) == {"reply": "x"}

    def test_failed_event_waits_for_its_backoff(self, db_url):
        from webhooks.inbox import Inbox

        inbox = Inbox(db_url, base_delay_s=0.3, max_attempts=3)
        key = f"fail-{time.time_ns()}"
        inbox.record(channel="zalo", event_id=key, kind="k", user_key=key, payload={})
        event = inbox.claim_next_for("zalo", key)
        inbox.failed(event.id, event.attempts, "ZaloApiError: -32")
        assert inbox.claim_next_for("zalo", key) is None
        time.sleep(0.35)
        assert inbox.claim_next_for("zalo", key) is not None
