"""One problem, many reports (pakn.clusters) on SQLite and PostgreSQL, through chat, the console and
the outbox worker: three citizens report one pothole, staff answer once, each hears it once on
their own channel; a false link is undone; a denunciation is never linked."""
from __future__ import annotations

import random
import re
import uuid
from collections.abc import Iterator
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import delete, select, update

from bot.answers.pakn import _submit, status_reply
from bot.types import InboundMessage
from db import session_scope
from pakn import clusters, notify, outbox, service
from pakn.errors import PaknTransitionError
from pakn.models import CITIZEN_REPLY, DELIVER_OFFICE, OutboxJob, PaknEvent, PaknRecord
from tests.integration.test_console import OFFICE_A, StubTriage, csrf_of, login, make_user

pytestmark = pytest.mark.integration
PLACE = "phường Tân Ninh, tỉnh Tây Ninh"
POTHOLE = [
    "Ổ gà rất lớn trên đường Trưng Nữ Vương trước chợ, xe máy đi qua bị té. Liên hệ tôi: 0912345678",
    "duong trung nu vuong truoc cho co o ga lon, xe may di qua bi te hoai, sdt 0987654321 de nghi va duong",
    "o ga lon tren duong Trung Nu Vuong truoc cho, xe may di qua la te, mong som va lai",
]


class WardTriage(StubTriage):
    """The console's stub triage, placing every petition in one ward of its own (per test), so
    petitions of other tests never join these clusters."""

    def __init__(self) -> None:
        super().__init__()
        self.ward = random.randint(10**6, 10**9)
        self.complaint = False
        self.category = "giao_thong_ha_tang"

    def __call__(self, content: str, location: str | None = None, **kw):
        t = super().__call__(content, location, **kw)
        t.category, t.category_name = self.category, "Giao thông, hạ tầng"
        t.locality = {"province_slug": "tay-ninh", "ward_code": self.ward, "ward_name": "Phường Tân Ninh"}
        t.is_complaint_or_denunciation = self.complaint
        return t


# The triage of the running test: handed to the chat flow, the intake and the app as their `triage=`
# part (pakn.service has no process-wide triage to patch).
_TRIAGE: list[WardTriage] = []


@pytest.fixture
def ward() -> Iterator[WardTriage]:
    stub = WardTriage()
    _TRIAGE.append(stub)
    yield stub
    _TRIAGE.remove(stub)


@pytest.fixture
def app_env(monkeypatch: pytest.MonkeyPatch, db_url: str):
    from settings import get_settings

    monkeypatch.setenv("DATABASE_URL", db_url)
    get_settings.cache_clear()
    yield db_url
    get_settings.cache_clear()


@pytest.fixture
def client(app_env: str, ward: WardTriage) -> TestClient:
    from api.main import create_app

    return TestClient(create_app(triage=ward), base_url="https://testserver", follow_redirects=False)


def chat_submit(channel: str, user: str, content: str, contact: str | None = None) -> str:
    """A petition sent through the chat flow; returns the reply the citizen reads."""
    msg = InboundMessage(channel=channel, user_id=user, message_id=uuid.uuid4().hex)
    reply, state = _submit(msg, {"content": content, "location": PLACE, "contact": contact,
                                 "draft": uuid.uuid4().hex}, triage=_TRIAGE[-1])
    assert state is None, reply.reply
    return reply.reply


def code_in(reply: str) -> str:
    m = re.search(r"Mã tra cứu: (PA-[0-9A-Z-]+)", reply)
    assert m, reply
    return m.group(1)


def record(db_url: str, code: str) -> PaknRecord:
    with session_scope(db_url) as db:
        rec = service.get_by_code(db, code)
        assert rec is not None
        db.expunge(rec)
        return rec


def only_replies_of(db_url: str, codes: list[str]) -> None:
    """Leave in the outbox only the citizen replies of these petitions (no SMTP in this test)."""
    with session_scope(db_url) as db:
        ids = [r.id for r in db.scalars(select(PaknRecord).where(PaknRecord.code.in_(codes)))]
        db.execute(delete(OutboxJob).where((OutboxJob.kind != CITIZEN_REPLY) | OutboxJob.record_id.not_in(ids)))


def test_three_citizens_one_pothole_answered_once(client: TestClient, app_env: str, ward: WardTriage) -> None:
    users = {"web": f"web-{uuid.uuid4().hex[:6]}", "telegram": f"tg-{uuid.uuid4().hex[:6]}",
             "zalo": f"zl-{uuid.uuid4().hex[:6]}"}
    first = chat_submit("web", users["web"], POTHOLE[0], "Chị Lan 0912345678")
    assert "Đã có" not in first
    c1 = code_in(first)
    second = chat_submit("telegram", users["telegram"], POTHOLE[1], "0987654321")
    c2 = code_in(second)
    assert f"Đã có 2 người phản ánh việc này (mã {c1}), đang được xử lý." in second
    third = chat_submit("zalo", users["zalo"], POTHOLE[2])
    c3 = code_in(third)
    assert f"Đã có 3 người phản ánh việc này (mã {c1}), đang được xử lý." in third
    for reply in (second, third):  # nothing of another citizen: not their words, contact or name
        assert "0912345678" not in reply and "Lan" not in reply and "té" not in reply

    r1, r2, r3 = (record(app_env, c) for c in (c1, c2, c3))
    assert r1.primary_id is None and r2.primary_id == r1.id and r3.primary_id == r1.id
    with session_scope(app_env) as db:
        delivered = db.scalars(select(OutboxJob.record_id).where(
            OutboxJob.kind == DELIVER_OFFICE, OutboxJob.record_id.in_([r1.id, r2.id, r3.id]))).all()
        assert delivered == [r1.id]  # the office gets the case once
        assert [e.kind for e in service.get_by_code(db, c1).events].count("duplicate") == 2

    # Staff: the cluster is one inbox item with its count; the detail lists the others, masked.
    login(client, make_user(app_env))
    inbox = client.get("/console/inbox").text
    assert c1 in inbox and "Nhóm 3 phản ánh" in inbox and c2 not in inbox and c3 not in inbox
    detail = client.get(f"/console/pakn/{c1}").text
    linked_part = detail[detail.index("Nhóm cùng sự việc"):]
    assert c2 in linked_part and c3 in linked_part and "0987654321" not in linked_part
    assert "[đã ẩn]" in linked_part
    assert client.get(f"/console/pakn/{c2}").text.count("/reply") == 0  # answered through the primary only
    with session_scope(app_env) as db, pytest.raises(PaknTransitionError):
        service.add_reply(db, c2, OFFICE_A, "Trả lời riêng")

    token = csrf_of(detail)
    answer = "UBND phường đã vá ổ gà trên đường Trưng Nữ Vương ngày 02/12."
    r = client.post(f"/console/pakn/{c1}/reply", data={"text": answer, "csrf_token": token})
    assert r.status_code == 303

    sent: dict[str, list[tuple[str, str]]] = {"telegram": [], "zalo": []}
    notify.register_sender("telegram", lambda user, text: sent["telegram"].append((user, text)))
    notify.register_sender("zalo", lambda user, text: sent["zalo"].append((user, text)))
    try:
        only_replies_of(app_env, [c1, c2, c3])
        outbox.drain(worker_id="dupes-test")
        with session_scope(app_env) as db:  # a second fan-out of the same answer adds nothing
            primary = service.get_by_code(db, c1)
            reply_event = next(e for e in primary.events if e.kind == "reply")
            assert clusters.fan_out_reply(db, primary, reply_event, answer, "x", primary.updated_at) == 0
        outbox.drain(worker_id="dupes-test")
    finally:
        notify.unregister_sender("telegram")
        notify.unregister_sender("zalo")
    assert [u for u, _ in sent["telegram"]] == [users["telegram"]]
    assert [u for u, _ in sent["zalo"]] == [users["zalo"]]
    assert c2 in sent["telegram"][0][1] and "vá ổ gà" in sent["telegram"][0][1]
    assert c3 in sent["zalo"][0][1] and "vá ổ gà" in sent["zalo"][0][1]
    with session_scope(app_env) as db:
        jobs = db.scalars(select(OutboxJob).where(OutboxJob.kind == CITIZEN_REPLY,
                                                  OutboxJob.record_id.in_([r1.id, r2.id, r3.id]))).all()
        assert sorted(j.payload["channel"] for j in jobs) == ["telegram", "web", "zalo"]
        assert {j.status for j in jobs} == {"done"}
        assert next(j for j in jobs if j.payload["channel"] == "web").payload["via"] == "no push channel"
        assert {service.get_by_code(db, c).status for c in (c1, c2, c3)} == {"answered"}

    # A lookup by a linked code shows the shared status and the answer.
    status = status_reply(c2).reply
    assert "Đã có trả lời" in status and c1 in status and "vá ổ gà" in status
    from api.routes.pakn import _get_sync

    view = _get_sync(c3)
    assert view["code"] == c3 and view["status"] == "answered" and view["cluster"]["primary_code"] == c1
    assert view["replies"] and "vá ổ gà" in view["replies"][0]["text"]

    # A false link is undone from the primary's page: the report is a case of its own again.
    r = client.post(f"/console/pakn/{c3}/unlink", data={"csrf_token": token, "back": c1})
    assert r.status_code == 303 and r.headers["location"] == f"/console/pakn/{c1}?done=unlink"
    with session_scope(app_env) as db:
        r3 = service.get_by_code(db, c3)
        assert r3.primary_id is None and r3.status == "received"
        assert [e.kind for e in r3.events][-2:] == ["unlinked", "transition"]
        job = db.scalars(select(OutboxJob).where(OutboxJob.record_id == r3.id,
                                                 OutboxJob.kind == DELIVER_OFFICE)).one()
        assert job.status == "pending" and job.payload["office_id"] == r3.office_id
        assert "unlinked" in [e.kind for e in service.get_by_code(db, c1).events]
    page = client.get(f"/console/pakn/{c1}").text
    assert "Nhóm cùng sự việc: 2 phản ánh" in page and "Tách khỏi nhóm" in page
    linked_part = page[page.index("Nhóm cùng sự việc"):page.index("Lịch sử xử lý")]
    assert c2 in linked_part and c3 not in linked_part
    assert 'class="badge delivery d-sent">Đã gửi</span>' in linked_part  # how the answer reached citizen 2
    assert "Nhóm 2 phản ánh" in client.get("/console/inbox").text


def test_a_denunciation_is_never_linked_nor_disclosed(app_env: str, ward: WardTriage) -> None:
    c1 = code_in(chat_submit("web", "u-a", POTHOLE[0]))
    ward.complaint = True  # triage flags it: a denunciation follows its own law
    flagged = chat_submit("telegram", "u-b", POTHOLE[1] + ". Tôi tố cáo cán bộ phường nhận tiền.")
    ward.complaint = False  # triage missed it; the sensitive-phrase check still holds
    missed = chat_submit("zalo", "u-c", POTHOLE[2] + " to cao can bo phuong nhan hoi lo")
    for reply in (flagged, missed):
        assert "Đã có" not in reply and c1 not in reply
        assert record(app_env, code_in(reply)).primary_id is None
    # The control: an ordinary report of the same pothole does join.
    assert record(app_env, code_in(chat_submit("zalo", "u-d", POTHOLE[2]))).primary_id == record(app_env, c1).id
    # A denunciation filed first is no case to join either.
    ward.ward += 1
    ward.complaint = True
    first = code_in(chat_submit("web", "u-e", POTHOLE[0] + " Tôi tố cáo cán bộ phường."))
    ward.complaint = False
    assert "Đã có" not in chat_submit("web", "u-f", POTHOLE[1])
    assert record(app_env, first).is_complaint
    # Nor a petition about an official's conduct: "others reported this" would name that person.
    ward.ward += 1
    ward.category = "can_bo_cong_vu"
    code_in(chat_submit("web", "u-g", "Cán bộ địa chính phường Tân Ninh hẹn lên hẹn xuống, thái độ hách dịch"))
    assert "Đã có" not in chat_submit("web", "u-h", "can bo dia chinh phuong tan ninh hen len hen xuong, hach dich")


def test_only_open_cases_in_the_window_are_joined(app_env: str, ward: WardTriage) -> None:
    c1 = code_in(chat_submit("web", "u-1", POTHOLE[0]))
    with session_scope(app_env) as db:  # received 20 days ago: outside the 14-day window
        db.execute(update(PaknRecord).where(PaknRecord.code == c1)
                   .values(created_at=record(app_env, c1).created_at - timedelta(days=20)))
    c2 = code_in(chat_submit("web", "u-2", POTHOLE[1]))
    assert record(app_env, c2).primary_id is None
    with session_scope(app_env) as db:  # answered: no longer open
        service.add_reply(db, c2, OFFICE_A, "Đã xử lý.")
    c3 = code_in(chat_submit("web", "u-3", POTHOLE[2]))
    assert record(app_env, c3).primary_id is None  # joins neither; it is a case of its own
    assert record(app_env, code_in(chat_submit("web", "u-4", POTHOLE[1]))).primary_id == record(app_env, c3).id


def test_deferred_classification_links_before_delivery(app_env: str, ward: WardTriage) -> None:
    c1 = code_in(chat_submit("web", "u-1", POTHOLE[0]))
    with session_scope(app_env) as db:
        prepared = service.prepare_submission(content=POTHOLE[1], location=PLACE, contact=None, channel="api",
                                              triage=ward)
        prepared = service.PreparedSubmission(values={**prepared.values, "triage_pending": True}, pending=True)
        rec = service.store_submission(db, prepared).record
        assert rec.primary_id is None  # a provisional category links to nothing
        t = ward(POTHOLE[1], PLACE)
        assert service.apply_classification(db, rec, t, rec.created_at)
        assert rec.primary_id == service.get_by_code(db, c1).id
        db.flush()
        jobs = db.scalars(select(OutboxJob.kind).where(OutboxJob.record_id == rec.id)).all()
        assert DELIVER_OFFICE not in jobs
        assert "linked" in [e.kind for e in db.scalars(select(PaknEvent).where(PaknEvent.record_id == rec.id))]


def test_rest_and_open311_acknowledgements_say_it_is_being_handled(client: TestClient, app_env: str,
                                                                    ward: WardTriage) -> None:
    first = client.post("/api/v1/pakn", json={"content": POTHOLE[0], "location": PLACE, "contact": "0912345678"})
    assert first.status_code == 201 and "cluster" not in first.json()
    c1 = first.json()["code"]
    second = client.post("/api/v1/pakn", json={"content": POTHOLE[1], "location": PLACE})
    ack = second.json()
    assert second.status_code == 201 and ack["code"] != c1
    assert ack["cluster"] == {"primary_code": c1, "reports": 2,
                              "message": f"Đã có 2 người phản ánh việc này (mã {c1}), đang được xử lý."}
    assert "0912345678" not in second.text
    r = client.post("/open311/v2/requests.json", data={"service_code": "giao_thong_ha_tang",
                                                       "address_string": PLACE, "description": POTHOLE[2]})
    assert r.status_code == 201, r.text
    notice = r.json()[0]["service_notice"]
    assert f"Đã có 3 người phản ánh việc này (mã {c1}), đang được xử lý." in notice
    rid = r.json()[0]["service_request_id"]
    [before] = client.get(f"/open311/v2/requests/{rid}.json").json()
    assert before["status"] == "open" and before["expected_datetime"]
    with session_scope(app_env) as db:
        service.add_reply(db, c1, OFFICE_A, "Đã vá ổ gà, gọi 0912000111 nếu còn hỏng.")
    [after] = client.get(f"/open311/v2/requests/{rid}.json").json()
    assert after["service_request_id"] == rid and after["status"] == "closed"
    assert "Đã vá ổ gà" in after["status_notes"] and "0912000111" not in after["status_notes"]


def test_dashboard_counts_a_cluster_as_one_case(app_env: str, ward: WardTriage) -> None:
    from console.auth import Principal
    from console.dashboard import figures
    from pakn.models import utcnow

    ward.office_id = f"test-office-{uuid.uuid4().hex[:8]}"
    codes = [code_in(chat_submit("web", f"u-{i}", text)) for i, text in enumerate(POTHOLE)]
    assert [record(app_env, c).primary_id is None for c in codes] == [True, False, False]
    staff = Principal(user_id=0, email="x@example.vn", display_name=None, role="staff", office_id=ward.office_id,
                      session_id="", csrf_token="")
    with session_scope(app_env) as db:
        totals = figures(db, staff, utcnow())["totals"]
    assert (totals["total"], totals["open"]) == (1, 1)
