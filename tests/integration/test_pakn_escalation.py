"""Overdue petitions on SQLite and PostgreSQL: one reminder to the office, one report to the
supervising body after the grace period, nothing for answered petitions (pakn.escalation)."""
from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import delete, select, update

from console import inbox
from console.auth import Principal
from db import session_factory, session_scope
from knowledge.models import OfficeRow
from pakn import outbox, service
from pakn.escalation import enqueue_overdue
from pakn.models import ESCALATE, OVERDUE_REMINDER, OutboxJob, PaknEvent, PaknRecord
from settings import get_settings
from tests.fakes.webhook_receiver import WebhookReceiver

pytestmark = pytest.mark.integration
SECRET = "test-webhook-secret"
KINDS = (OVERDUE_REMINDER, ESCALATE)


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch, db_url: str):
    def set_(**kw: object) -> None:
        for k, v in kw.items():
            monkeypatch.setenv(k.upper(), str(v))
        get_settings.cache_clear()

    set_(database_url=db_url, webhook_hmac_secret=SECRET, delivery_max_attempts=3)
    yield set_
    get_settings.cache_clear()


@pytest.fixture
def clean_outbox(db_url: str) -> None:
    with session_scope(db_url) as s:
        s.execute(delete(OutboxJob))


def submit_overdue(db_url: str, triage, office_id: str, overdue_by: timedelta) -> str:
    with session_scope(db_url) as s:
        code = service.submit_result(s, content="Rác thải bốc mùi ở đầu hẻm suốt một tuần nay",
                                     location=None, contact="0912345678", channel="api",
                                     external_id=uuid.uuid4().hex, triage=triage).record.code
    set_due(db_url, code, datetime.now(UTC) - overdue_by)
    return code


def set_due(db_url: str, code: str, due: datetime) -> None:
    with session_scope(db_url) as s:
        s.execute(update(PaknRecord).where(PaknRecord.code == code).values(due_at=due))


def events(db_url: str, code: str) -> list[str]:
    with session_scope(db_url) as s:
        rec = s.scalars(select(PaknRecord).where(PaknRecord.code == code)).one()
        return [e.kind for e in s.scalars(select(PaknEvent).where(PaknEvent.record_id == rec.id))]


def jobs(db_url: str, code: str) -> list[OutboxJob]:
    with session_scope(db_url) as s:
        return list(s.scalars(select(OutboxJob).where(OutboxJob.payload["code"].as_string() == code,
                                                      OutboxJob.kind.in_(KINDS)).order_by(OutboxJob.id)))


def sent_to_hook(hook: WebhookReceiver, code: str) -> list[str]:
    return sorted(doc["event"] for doc in hook.accepted.values() if doc.get("code") == code
                  and doc["event"] in ("pakn.overdue", "pakn.escalated"))


def test_reminder_once_then_escalation_once(db_url, fake_triage, env, clean_outbox) -> None:
    f = session_factory(db_url)
    with WebhookReceiver(SECRET) as hook:
        env(pakn_default_office_webhook_url=hook.url)  # the supervisor has no contact in the tests
        office_id = f"test-office-{uuid.uuid4().hex[:8]}"
        with session_scope(db_url) as s:
            s.add(OfficeRow(id=office_id, name="Phòng thử nghiệm", kind="office", level="xa", aliases=[],
                            contact={"webhook_url": hook.url}))
        fake_triage.office_id = office_id
        code = submit_overdue(db_url, fake_triage, office_id, timedelta(hours=2))

        # Past due, within the grace period: the office is reminded, once however often we sweep.
        first = enqueue_overdue(f)
        assert first.reminders >= 1
        assert enqueue_overdue(f).reminders == 0
        assert [j.kind for j in jobs(db_url, code)] == [OVERDUE_REMINDER]
        outbox.run_once(f, kinds=KINDS)
        assert sent_to_hook(hook, code) == ["pakn.overdue"]

        # The grace period (3 working days) has passed: the supervising body is told, once.
        set_due(db_url, code, datetime.now(UTC) - timedelta(days=10))
        assert enqueue_overdue(f).escalations >= 1
        assert enqueue_overdue(f).escalations == 0 and enqueue_overdue(f).reminders == 0
        outbox.run_once(f, kinds=KINDS)
        assert sent_to_hook(hook, code) == ["pakn.escalated", "pakn.overdue"]
        escalation = next(j for j in jobs(db_url, code) if j.kind == ESCALATE)
        assert escalation.status == "done"
        assert escalation.payload["supervisor_id"] == "ho-chi-minh.van-phong-ubnd"  # the fake's province
        assert escalation.payload["supervisor_name"] == "Văn phòng UBND thành phố Hồ Chí Minh"
        doc = next(d for d in hook.accepted.values() if d.get("code") == code and d["event"] == "pakn.escalated")
        assert "Rác thải" not in doc["text"] and "0912345678" not in str(doc)  # no content, no contact
        assert events(db_url, code).count("overdue_reminder") == 1
        assert events(db_url, code).count("escalated") == 1

        # The console inbox: the petition shows under "escalated", with its badge.
        admin = Principal(user_id=0, email="a@x.vn", display_name="A", role="admin", office_id=None,
                          session_id="s", csrf_token="t")
        now = datetime.now(UTC)
        with session_scope(db_url) as s:
            rows, _ = inbox.list_records(s, admin, inbox.InboxFilters(due="escalated", q=code), now)
            assert [r.code for r in rows] == [code] and inbox.due_badge(rows[0], now) == "escalated"


def test_nothing_for_answered_petitions(db_url, fake_triage, env, clean_outbox) -> None:
    f = session_factory(db_url)
    with WebhookReceiver(SECRET) as hook:
        env(pakn_default_office_webhook_url=hook.url)
        fake_triage.office_id = office_id = f"test-office-{uuid.uuid4().hex[:8]}"
        answered = submit_overdue(db_url, fake_triage, office_id, timedelta(days=10))
        with session_scope(db_url) as s:
            service.add_reply(s, answered, office_id, "Đã thu gom rác.")
        enqueue_overdue(f)
        assert jobs(db_url, answered) == []

        # Answered after the jobs were enqueued, before they ran: nothing is sent.
        late = submit_overdue(db_url, fake_triage, office_id, timedelta(days=10))
        enqueue_overdue(f)
        assert sorted(j.kind for j in jobs(db_url, late)) == [ESCALATE, OVERDUE_REMINDER]
        with session_scope(db_url) as s:
            service.add_reply(s, late, office_id, "Đã thu gom rác.")
        outbox.run_once(f, kinds=KINDS)
        assert all(j.status == "done" for j in jobs(db_url, late))
        assert sent_to_hook(hook, answered) == [] and sent_to_hook(hook, late) == []
