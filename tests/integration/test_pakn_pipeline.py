"""PAKN pipeline on SQLite and PostgreSQL: transactional intake, idempotency under races, the
outbox worker against a real SMTP server and a real HTTP receiver, retries, dead letters,
crash re-runs, replies to citizens, transfers, and the real triage end to end."""
from __future__ import annotations

import threading
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import delete, func, select

from db import session_factory, session_scope
from knowledge.models import OfficeRow
from pakn import delivery, notify, outbox, service
from pakn.errors import PaknConflictError, PaknTransitionError, PaknValidationError
from pakn.models import OutboxJob, PaknEvent, PaknRecord
from settings import get_settings
from tests.fakes.smtp_server import FakeSMTPServer
from tests.fakes.webhook_receiver import WebhookReceiver

pytestmark = pytest.mark.integration
SECRET = "test-webhook-secret"
LOCATION = "phường Bến Thành, TP. Hồ Chí Minh"


def uid() -> str:
    return uuid.uuid4().hex[:10]


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch, db_url: str):
    """Set settings through the environment for one test (DATABASE_URL = this backend)."""

    def set_(**kw: object) -> None:
        for k, v in kw.items():
            monkeypatch.setenv(k.upper(), str(v))
        get_settings.cache_clear()

    set_(database_url=db_url, webhook_hmac_secret=SECRET, delivery_max_attempts=3, delivery_base_delay_s=30,
         delivery_max_delay_s=600)
    yield set_
    get_settings.cache_clear()


@pytest.fixture
def clean_outbox(db_url: str) -> None:
    """The worker takes any due job; start each worker test with an empty outbox."""
    with session_scope(db_url) as s:
        s.execute(delete(OutboxJob))


def add_office(db_url: str, contact: dict) -> str:
    office_id = f"test-office-{uid()}"
    with session_scope(db_url) as s:
        s.add(OfficeRow(id=office_id, name=f"Phòng thử nghiệm {office_id[-4:]}", kind="office", level="xa",
                        aliases=[], contact=contact))
    return office_id


def do_submit(db_url: str, triage=None, **kw) -> service.SubmitResult:
    """Submit through pakn.service with `triage` (a fake; None: the real one)."""
    args = {"content": "Rác thải bốc mùi ở đầu hẻm suốt một tuần nay", "location": LOCATION,
            "contact": "0912345678", "channel": "api", "triage": triage, **kw}
    with session_scope(db_url) as s:
        return service.submit_result(s, **args)


def counts(db_url: str, code: str) -> tuple[int, int, int]:
    with session_scope(db_url) as s:
        rec = s.scalars(select(PaknRecord).where(PaknRecord.code == code)).one()
        ev = s.scalar(select(func.count()).select_from(PaknEvent).where(PaknEvent.record_id == rec.id))
        jobs = s.scalar(select(func.count()).select_from(OutboxJob).where(OutboxJob.record_id == rec.id))
        return 1, ev, jobs


def job_of(db_url: str, code: str, kind: str = "deliver_office") -> OutboxJob:
    with session_scope(db_url) as s:
        return s.scalars(select(OutboxJob).where(OutboxJob.payload["code"].as_string() == code,
                                                 OutboxJob.kind == kind).order_by(OutboxJob.id)).all()[-1]


def record_of(db_url: str, code: str) -> PaknRecord:
    with session_scope(db_url) as s:
        return service.get_by_code(s, code)


# ---------------------------------------------------------------- intake


def test_submit_writes_record_event_and_job_together(db_url, fake_triage, env) -> None:
    res = do_submit(db_url, fake_triage, external_id=uid())
    assert res.created and res.record.status == "received"
    assert counts(db_url, res.record.code) == (1, 1, 1)
    job = job_of(db_url, res.record.code)
    assert job.status == "pending" and job.dedupe_key.startswith(f"deliver_office:{res.record.code}:")
    rec = record_of(db_url, res.record.code)
    assert rec.contact == {"phone": "0912345678"} and rec.due_at.tzinfo is not None
    assert rec.due_at == datetime(2030, 1, 10, 10, 0, tzinfo=UTC)  # 17:00 +07 kept exactly


def test_failed_transaction_leaves_nothing(db_url, fake_triage, env) -> None:
    ext = uid()
    with pytest.raises(RuntimeError), session_scope(db_url) as s:
        code = service.submit(s, content="Đèn đường hỏng cả tháng", location=LOCATION, contact=None,
                              channel="api", external_id=ext, triage=fake_triage).code
        raise RuntimeError("crash after submit, before commit")
    with session_scope(db_url) as s:
        assert s.scalar(select(func.count()).select_from(PaknRecord).where(PaknRecord.code == code)) == 0
        assert s.scalar(select(func.count()).select_from(OutboxJob)
                        .where(OutboxJob.dedupe_key.like(f"%{code}%"))) == 0


def test_idempotent_repeat_by_external_id_and_key(db_url, fake_triage, env) -> None:
    ext, key = uid(), uid()
    first = do_submit(db_url, fake_triage, external_id=ext)
    again = do_submit(db_url, fake_triage, external_id=ext)
    assert not again.created and again.record.code == first.record.code
    k1 = do_submit(db_url, fake_triage, idempotency_key=key)
    k2 = do_submit(db_url, fake_triage, idempotency_key=key)
    assert k1.created and not k2.created and k1.record.code == k2.record.code
    with pytest.raises(PaknConflictError, match="Idempotency-Key"):
        do_submit(db_url, fake_triage, idempotency_key=key, content="Một nội dung hoàn toàn khác về đèn đường")
    assert counts(db_url, first.record.code) == (1, 1, 1)


def test_concurrent_duplicate_submits_give_one_record(db_url, fake_triage, env) -> None:
    fake_triage.delay_s = 0.05  # widen the window between the existence check and the insert
    ext, n = uid(), 8
    barrier = threading.Barrier(n)
    codes, errors = [], []

    def worker() -> None:
        try:
            barrier.wait()
            codes.append(do_submit(db_url, fake_triage, external_id=ext, channel="zalo", channel_user_id="u1").record.code)
        except Exception as exc:  # noqa: BLE001 - surfaced below
            errors.append(exc)

    threads = [threading.Thread(target=worker) for _ in range(n)]
    [t.start() for t in threads]
    [t.join(60) for t in threads]
    assert not errors, errors
    assert len(codes) == n and len(set(codes)) == 1
    with session_scope(db_url) as s:
        assert s.scalar(select(func.count()).select_from(PaknRecord).where(
            PaknRecord.channel == "zalo", PaknRecord.external_id == ext)) == 1
    assert counts(db_url, codes[0]) == (1, 1, 1)


@pytest.mark.parametrize("kwargs, message", [
    ({"content": "   "}, "không được để trống"),
    ({"content": "x" * 5001}, "quá dài"),
    ({"contact": "0123"}, "Số điện thoại không hợp lệ"),
    ({"contact": "an@@gmail"}, "email không hợp lệ"),
    ({"location": "một nơi nào đó không ai biết"}, "Không xác định được địa bàn"),
    ({"location": "48.85,2.35"}, "ngoài lãnh thổ"),
])
def test_validation_errors_are_vietnamese(db_url, fake_triage, env, kwargs, message) -> None:
    with pytest.raises(PaknValidationError, match=message):
        do_submit(db_url, fake_triage, external_id=uid(), **kwargs)


# ---------------------------------------------------------------- outbox worker


def test_worker_delivers_by_email_to_real_smtp(db_url, fake_triage, env, clean_outbox) -> None:
    with FakeSMTPServer() as smtp:
        env(smtp_port=smtp.port)
        fake_triage.office_id = add_office(db_url, {"email": "vanthu@phuong.example.vn"})
        code = do_submit(db_url, fake_triage, external_id=uid()).record.code
        stats = outbox.run_once(session_factory(db_url), worker_id="w1")
        assert stats.done == 1 and stats.claimed == 1
        assert len(smtp.messages) == 1
        msg = smtp.messages[0]
        assert msg["To"] == "vanthu@phuong.example.vn" and code in msg["Subject"]
        assert msg["X-PAKN-Code"] == code
        key = job_of(db_url, code).dedupe_key
        assert msg["Message-ID"] == delivery._message_id(key, get_settings().smtp_sender)
        assert msg["X-PAKN-Dedupe-Key"] == key
        body = msg.get_body(("plain",)).get_content()
        assert "Rác thải bốc mùi" in body and "0912345678" in body  # the office needs the contact
        rec = record_of(db_url, code)
        assert rec.status == "forwarded" and rec.events[-1].to_status == "forwarded"
        assert outbox.run_once(session_factory(db_url), worker_id="w1").claimed == 0


def test_office_without_contact_goes_to_default_email(db_url, fake_triage, env, clean_outbox) -> None:
    with FakeSMTPServer() as smtp:
        env(smtp_port=smtp.port, pakn_default_office_email="vanthu-tinh@example.vn")
        fake_triage.office_id = f"unknown-office-{uid()}"
        do_submit(db_url, fake_triage, external_id=uid())
        assert outbox.run_once(session_factory(db_url)).done == 1
        assert smtp.envelopes[0][1] == ["vanthu-tinh@example.vn"]


def test_webhook_signed_and_retried_on_500(db_url, fake_triage, env, clean_outbox) -> None:
    with WebhookReceiver(SECRET, script=[500]) as hook:
        fake_triage.office_id = add_office(db_url, {"webhook_url": hook.url, "email": "x@example.vn"})
        code = do_submit(db_url, fake_triage, external_id=uid()).record.code
        t0 = datetime.now(UTC)
        f = session_factory(db_url)
        assert outbox.run_once(f, now=t0).retried == 1
        job = job_of(db_url, code)
        assert job.status == "pending" and job.attempts == 1 and job.last_error == "webhook HTTP 500"
        assert job.next_attempt_at > t0 + timedelta(seconds=29)
        assert outbox.run_once(f, now=t0).claimed == 0  # not due yet
        assert outbox.run_once(f, now=t0 + timedelta(hours=1)).done == 1
        assert len(hook.requests) == 2 and all(r["valid"] for r in hook.requests)
        assert {r["key"] for r in hook.requests} == {job.dedupe_key}
        doc = hook.accepted[job.dedupe_key]
        assert doc["code"] == code and doc["contact"]["phone"] == "0912345678"
        assert record_of(db_url, code).status == "forwarded"


@pytest.mark.parametrize("concurrency", [1, 4])
def test_deliveries_run_in_parallel_up_to_the_limit(db_url, fake_triage, env, clean_outbox, concurrency) -> None:
    """A slow office server holds each delivery open; the worker keeps `concurrency` of them going."""
    with WebhookReceiver(SECRET, hold_s=0.3) as hook:
        fake_triage.office_id = add_office(db_url, {"webhook_url": hook.url})
        codes = [do_submit(db_url, fake_triage, external_id=uid()).record.code for _ in range(4)]
        stats = outbox.run_once(session_factory(db_url), concurrency=concurrency)
        assert stats.claimed == stats.done == 4
        assert hook.max_in_flight == concurrency
        assert len(hook.accepted) == 4 and all(record_of(db_url, c).status == "forwarded" for c in codes)


def test_wrong_secret_is_refused_and_dead_lettered(db_url, fake_triage, env, clean_outbox) -> None:
    with WebhookReceiver("another-secret") as hook:
        fake_triage.office_id = add_office(db_url, {"webhook_url": hook.url})
        code = do_submit(db_url, fake_triage, external_id=uid()).record.code
        stats = outbox.run_once(session_factory(db_url))
        assert stats.dead == 1 and hook.bad_signatures == 1  # 401 is permanent: no pointless retries
        assert job_of(db_url, code).status == "dead"


def test_dead_letter_after_max_attempts(db_url, fake_triage, env, clean_outbox) -> None:
    with WebhookReceiver(SECRET, script=[503] * 10) as hook:
        fake_triage.office_id = add_office(db_url, {"webhook_url": hook.url})
        code = do_submit(db_url, fake_triage, external_id=uid()).record.code
        f, t = session_factory(db_url), datetime.now(UTC)
        results = []
        for i in range(5):
            results.append(outbox.run_once(f, now=t + timedelta(hours=i)))
        assert [r.retried for r in results[:2]] == [1, 1] and results[2].dead == 1
        assert sum(r.claimed for r in results[3:]) == 0
        job = job_of(db_url, code)
        assert job.status == "dead" and job.attempts == 3 and len(hook.requests) == 3
        rec = record_of(db_url, code)
        assert rec.status == "received" and rec.events[-1].kind == "delivery_failed"
        assert "3 lần" in rec.events[-1].note


def test_crash_rerun_carries_same_keys_and_does_not_double_deliver(db_url, fake_triage, env, clean_outbox) -> None:
    with WebhookReceiver(SECRET) as hook, FakeSMTPServer() as smtp:
        env(smtp_port=smtp.port)
        hook_office = add_office(db_url, {"webhook_url": hook.url})
        mail_office = add_office(db_url, {"email": "a@example.vn"})
        fake_triage.office_id = hook_office
        c1 = do_submit(db_url, fake_triage, external_id=uid()).record.code
        fake_triage.office_id = mail_office
        c2 = do_submit(db_url, fake_triage, external_id=uid()).record.code
        f, t0 = session_factory(db_url), datetime.now(UTC)
        ids = outbox.claim(f, "crashing-worker", now=t0)
        assert len(ids) == 2
        for job_id in ids:  # delivered, then the worker "dies" before recording the outcome
            assert outbox._execute(f, job_id).ok
        assert outbox.run_once(f, worker_id="w2", now=t0 + timedelta(seconds=10)).claimed == 0  # lease held
        later = t0 + timedelta(seconds=get_settings().outbox_lease_s + 1)
        assert outbox.run_once(f, worker_id="w2", now=later).done == 2
        assert len(hook.requests) == 2 and len({r["key"] for r in hook.requests}) == 1
        assert len(hook.accepted) == 1  # the receiver honoured Idempotency-Key
        assert len(smtp.messages) == 2 and len(smtp.unique_message_ids()) == 1
        for code in (c1, c2):
            rec = record_of(db_url, code)
            assert [e.to_status for e in rec.events].count("forwarded") == 1
        assert outbox.run_once(f, worker_id="w3", now=later + timedelta(hours=1)).claimed == 0


def test_concurrent_workers_claim_each_job_once(db_url, fake_triage, env, clean_outbox) -> None:
    with WebhookReceiver(SECRET) as hook:
        fake_triage.office_id = add_office(db_url, {"webhook_url": hook.url})
        for _ in range(20):
            do_submit(db_url, fake_triage, external_id=uid())
        f = session_factory(db_url)
        barrier = threading.Barrier(4)

        def work(i: int) -> None:
            barrier.wait()
            outbox.drain(f, worker_id=f"w{i}")

        threads = [threading.Thread(target=work, args=(i,)) for i in range(4)]
        [t.start() for t in threads]
        [t.join(60) for t in threads]
        keys = [r["key"] for r in hook.requests]
        assert len(keys) == 20 and len(set(keys)) == 20


# ---------------------------------------------------------------- lifecycle and replies


def test_reply_notifies_citizen_through_registered_sender(db_url, fake_triage, env, clean_outbox) -> None:
    sent: list[tuple[str, str]] = []
    notify.register_sender("zalo", lambda user_id, text: sent.append((user_id, text)))
    try:
        with FakeSMTPServer() as smtp:
            env(smtp_port=smtp.port)
            office = fake_triage.office_id = add_office(db_url, {"email": "o@example.vn"})
            code = do_submit(db_url, fake_triage, external_id=uid(), channel="zalo", channel_user_id="zalo-user-42").record.code
            outbox.run_once(session_factory(db_url))
            with session_scope(db_url) as s:
                service.transition(s, code, "in_progress", actor="can-bo-1")
            with session_scope(db_url) as s:
                rec = service.add_reply(s, code, office, "Đã bố trí xe thu gom rác vào sáng mai.")
                assert rec.status == "answered"
            assert job_of(db_url, code, "citizen_reply").status == "pending"
            assert outbox.run_once(session_factory(db_url)).done == 1
            assert sent == [("zalo-user-42", sent[0][1])]
            assert code in sent[0][1] and "Đã bố trí xe thu gom rác" in sent[0][1]
            rec = record_of(db_url, code)
            assert [e.kind for e in rec.events].count("reply") == 1
            assert [e.to_status for e in rec.events if e.kind == "transition"] == \
                ["forwarded", "in_progress", "answered"]
    finally:
        notify.unregister_sender("zalo")


def test_reply_no_message_may_carry_waits_then_goes_once_when_the_citizen_writes(db_url, fake_triage, env,
                                                                                 clean_outbox) -> None:
    from pakn.errors import DeliveryDeferred

    user = f"zalo-{uid()}"
    window = {"open": False}
    calls: list[tuple[str, str, str | None]] = []

    def zalo(user_id: str, text: str, *, code: str | None = None) -> str:
        calls.append((user_id, text, code))
        if not window["open"]:
            raise DeliveryDeferred("last message 9.0 days ago, outside the cs window")
        return "zalo:cs"

    notify.register_sender("zalo", zalo)
    try:
        office = fake_triage.office_id = add_office(db_url, {})
        code = do_submit(db_url, fake_triage, external_id=uid(), channel="zalo", channel_user_id=user).record.code
        with session_scope(db_url) as s:
            s.execute(delete(OutboxJob))  # delivery to the office is not under test here
            service.add_reply(s, code, office, "Đã thay bóng đèn.")
        factory = session_factory(db_url)
        assert outbox.run_once(factory).waiting == 1
        job = job_of(db_url, code, "citizen_reply")
        assert job.status == "waiting" and job.payload["waited"] and "outside the cs window" in job.last_error
        assert outbox.run_once(factory).claimed == 0
        assert [e.kind for e in record_of(db_url, code).events].count("delivery_waiting") == 1
        window["open"] = True
        assert outbox.release_waiting(factory, "zalo", "someone-else") == 0
        assert outbox.release_waiting(factory, "telegram", user) == 0
        assert outbox.release_waiting(factory, "zalo", user) == 1
        assert outbox.release_waiting(factory, "zalo", user) == 0  # a second message releases nothing more
        assert outbox.run_once(factory).done == 1
        assert outbox.run_once(factory).claimed == 0
        office_name = record_of(db_url, code).office_name
        waited = f"Cơ quan đã trả lời phản ánh {code} của bạn ({office_name}): Đã thay bóng đèn."
        assert calls[-1] == (user, waited, code)
        assert len(calls) == 2
        job = job_of(db_url, code, "citizen_reply")
        assert job.status == "done" and job.payload["via"] == "zalo:cs"
    finally:
        notify.unregister_sender("zalo")


def test_interactions_keep_the_latest_message_and_reset_the_cs_count(db_url) -> None:
    from webhooks.zalo_window import InteractionStore

    store, user, now = InteractionStore(db_url), f"zalo-{uid()}", datetime.now(UTC)
    assert store.get("zalo", user) is None
    store.touch("zalo", user, now - timedelta(days=3))
    store.count_cs("zalo", user, 2)
    assert store.get("zalo", user).cs_sent == 2
    store.touch("zalo", user, now - timedelta(days=4))  # a retried, older event changes nothing
    got = store.get("zalo", user)
    assert got.cs_sent == 2 and abs((got.last_at - (now - timedelta(days=3))).total_seconds()) < 1e-3
    store.touch("zalo", user, now + timedelta(hours=1))  # never later than now
    got = store.get("zalo", user)
    assert got.cs_sent == 0 and got.last_at <= datetime.now(UTC)
    assert store.get("telegram", user) is None


def test_reply_on_api_channel_completes_without_push(db_url, fake_triage, env, clean_outbox) -> None:
    office = fake_triage.office_id = add_office(db_url, {})
    code = do_submit(db_url, fake_triage, external_id=uid()).record.code
    with session_scope(db_url) as s:
        s.execute(delete(OutboxJob))  # delivery is not under test here
        service.add_reply(s, code, office, "Cảm ơn ông/bà, đã xử lý.")
    assert outbox.run_once(session_factory(db_url)).done == 1
    assert job_of(db_url, code, "citizen_reply").status == "done"


def test_push_channel_without_sender_retries(db_url, fake_triage, env, clean_outbox) -> None:
    office = fake_triage.office_id = add_office(db_url, {})
    code = do_submit(db_url, fake_triage, external_id=uid(), channel="viber", channel_user_id="v1").record.code
    with session_scope(db_url) as s:
        s.execute(delete(OutboxJob))
        service.add_reply(s, code, office, "Đã xử lý.")
    assert outbox.run_once(session_factory(db_url)).retried == 1
    assert "no sender" in job_of(db_url, code, "citizen_reply").last_error


def test_lifecycle_rules(db_url, fake_triage, env, clean_outbox) -> None:
    office = fake_triage.office_id = add_office(db_url, {})
    other = add_office(db_url, {"email": "other@example.vn"})
    code = do_submit(db_url, fake_triage, external_id=uid()).record.code
    with session_scope(db_url) as s:
        with pytest.raises(PaknTransitionError, match="Không thể chuyển"):
            service.transition(s, code, "closed", actor="cb")
        with pytest.raises(PaknValidationError, match="lý do"):
            service.transition(s, code, "rejected", actor="cb")
        with pytest.raises(PaknTransitionError):
            service.transition(s, code, "answered", actor="cb")
    with session_scope(db_url) as s:
        rec = service.transition(s, code, "transferred", actor="cb", note="Thuộc thẩm quyền phòng khác",
                                 office_id=other)
        assert rec.office_id == other and rec.status == "transferred"
    with session_scope(db_url) as s:
        jobs = s.scalars(select(OutboxJob).where(OutboxJob.record_id == rec.id).order_by(OutboxJob.id)).all()
        assert [j.payload["office_id"] for j in jobs] == [office, other]
    with pytest.raises(Exception, match="không phụ trách"), session_scope(db_url) as s:
        service.add_reply(s, code, office, "Trả lời từ cơ quan cũ")
    with session_scope(db_url) as s:
        rec = service.transition(s, code, "rejected", actor="cb", note="Nội dung không thuộc phạm vi PAKN")
    with pytest.raises(PaknTransitionError), session_scope(db_url) as s:
        service.transition(s, code, "in_progress", actor="cb")


def test_transfer_supersedes_undelivered_job(db_url, fake_triage, env, clean_outbox) -> None:
    with FakeSMTPServer() as smtp:
        env(smtp_port=smtp.port)
        fake_triage.office_id = add_office(db_url, {"email": "old@example.vn"})
        new = add_office(db_url, {"email": "new@example.vn"})
        code = do_submit(db_url, fake_triage, external_id=uid()).record.code
        with session_scope(db_url) as s:
            service.transition(s, code, "transferred", actor="cb", note="Sai thẩm quyền", office_id=new)
        stats = outbox.drain(session_factory(db_url))
        assert stats.done == 2 and stats.skipped == 1
        assert [e[1] for e in smtp.envelopes] == [["new@example.vn"]]
        assert record_of(db_url, code).status == "forwarded"


# ---------------------------------------------------------------- real triage


def test_real_triage_end_to_end(db_url, env, clean_outbox) -> None:
    with FakeSMTPServer() as smtp:
        env(smtp_port=smtp.port, pakn_default_office_email="vanthu@example.vn")
        res = do_submit(db_url, external_id=uid(),
                        content="Bãi rác tự phát ở đầu hẻm bốc mùi hôi thối, ruồi nhặng rất nhiều, đề nghị thu gom.")
        rec = res.record
        assert rec.category == "moi_truong" and rec.office_id and rec.office_name
        assert rec.locality and rec.locality.get("province_slug") == "ho-chi-minh"
        assert rec.due_at > datetime.now(UTC) and rec.explanation
        assert outbox.run_once(session_factory(db_url)).done == 1
        assert len(smtp.messages) == 1 and rec.code in smtp.messages[0]["Subject"]
