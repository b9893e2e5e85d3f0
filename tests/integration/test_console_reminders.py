"""Daily duty reminders on SQLite and PostgreSQL: who is reminded, over which channel, exactly once a day."""
from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import delete, select

from console.models import DutyProgress, DutyReminder
from console.reminders import send_due_soon
from db import session_scope
from knowledge import offices as offices_module
from knowledge.offices import OfficeDirectory
from settings import get_settings
from tests.fakes.smtp_server import FakeSMTPServer
from tests.fakes.webhook_receiver import WebhookReceiver

pytestmark = pytest.mark.integration
SECRET = "reminder-webhook-secret"
# 2024-06-25 (Vietnam time): task 31 of Tây Ninh's 2024 plan (lead: Sở Nội vụ) ends on 30/6.
JUNE_25 = datetime(2024, 6, 25, 1, 0, tzinfo=UTC)
# 2024-03-26: tasks 11, 12 and 14 (lead: Sở Tư pháp) end on 31/3.
MARCH_26 = datetime(2024, 3, 26, 1, 0, tzinfo=UTC)


@pytest.fixture
def store(db_url: str, monkeypatch: pytest.MonkeyPatch) -> str:
    from knowledge.build import build_store

    build_store(db_url, with_index=False, quiet=True)
    with session_scope(db_url) as db:
        db.execute(delete(DutyReminder))
        db.execute(delete(DutyProgress))
    monkeypatch.setenv("DATABASE_URL", db_url)
    monkeypatch.setenv("WEBHOOK_HMAC_SECRET", SECRET)
    get_settings.cache_clear()
    yield db_url
    get_settings.cache_clear()


def with_contacts(monkeypatch: pytest.MonkeyPatch, contacts: dict[str, dict]) -> None:
    """The shipped directory with delivery contacts added to some offices."""
    base = offices_module.load_offices()
    directory = OfficeDirectory([o.model_copy(update={"contact": contacts[o.id]}) if o.id in contacts else o
                                 for o in base.all()])
    monkeypatch.setattr(offices_module, "load_offices", lambda path=None: directory)


def test_reminder_by_email_once_per_day(store: str, monkeypatch: pytest.MonkeyPatch) -> None:
    with FakeSMTPServer() as smtp:
        monkeypatch.setenv("SMTP_PORT", str(smtp.port))
        get_settings.cache_clear()
        with_contacts(monkeypatch, {"tay-ninh.so-noi-vu": {"email": "snv@tayninh.gov.vn"}})
        report = send_due_soon(JUNE_25, database_url=store)
        assert report.sent == {"tay-ninh.so-noi-vu": "email"} and not report.failed
        assert len(smtp.messages) == 1
        msg = smtp.messages[0]
        assert msg["To"] == "snv@tayninh.gov.vn" and "[Nhắc hạn] 1 nhiệm vụ" in msg["Subject"]
        body = msg.get_content()
        assert "Nhiệm vụ số 31 (chủ trì) — hạn 30/06/2024" in body
        again = send_due_soon(JUNE_25, database_url=store)
        assert again.skipped == {"tay-ninh.so-noi-vu": "already"} and len(smtp.messages) == 1


def test_failed_send_is_retried_on_the_next_run(store: str, monkeypatch: pytest.MonkeyPatch) -> None:
    with FakeSMTPServer(fail_next=1) as smtp:
        monkeypatch.setenv("SMTP_PORT", str(smtp.port))
        get_settings.cache_clear()
        with_contacts(monkeypatch, {"tay-ninh.so-noi-vu": {"email": "snv@tayninh.gov.vn"}})
        first = send_due_soon(JUNE_25, database_url=store)
        assert "tay-ninh.so-noi-vu" in first.failed and "smtp" in first.failed["tay-ninh.so-noi-vu"]
        second = send_due_soon(JUNE_25, database_url=store)
        assert second.sent == {"tay-ninh.so-noi-vu": "email"} and len(smtp.messages) == 1
    with session_scope(store) as db:
        row = db.scalars(select(DutyReminder)).one()
        assert row.status == "sent" and row.attempts == 2 and row.task_ids == ["tayninh-cchc-2024#task-31"]


def test_reminder_by_signed_webhook_and_done_tasks_are_left_out(store: str, monkeypatch: pytest.MonkeyPatch) -> None:
    with WebhookReceiver(SECRET) as hook:
        with_contacts(monkeypatch, {"tay-ninh.so-tu-phap": {"webhook_url": hook.url}})
        with session_scope(store) as db:
            db.add(DutyProgress(task_id="tayninh-cchc-2024#task-12", office_id="tay-ninh.so-tu-phap", status="done",
                                note=None, updated_by="test@example.vn"))
        report = send_due_soon(MARCH_26, database_url=store)
        assert report.sent == {"tay-ninh.so-tu-phap": "webhook"}
        (doc,) = hook.accepted.values()
        assert doc["event"] == "duty.reminder" and hook.bad_signatures == 0
        assert sorted(t["number"] for t in doc["tasks"]) == ["11", "14"]


def test_office_without_channel_is_skipped_not_failed(store: str, monkeypatch: pytest.MonkeyPatch) -> None:
    with_contacts(monkeypatch, {})
    report = send_due_soon(JUNE_25, database_url=store)
    assert report.skipped == {"tay-ninh.so-noi-vu": "no channel"} and not report.failed and not report.sent


def test_nothing_due_far_from_any_deadline(store: str) -> None:
    report = send_due_soon(datetime(2030, 1, 2, tzinfo=UTC), database_url=store)
    assert not (report.sent or report.failed or report.skipped)
