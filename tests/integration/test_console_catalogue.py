# ruff: noqa: F811  (the fixtures imported from test_console are parameters of every test)
"""Console catalogue on SQLite and PostgreSQL: upload an export → diff → approval by a second person →
the YAML files and the bot's answers change → the procedure's history shows who did what.

The catalogue is a temporary copy of three shipped procedures (`TTHC_DIR`), so publishing never
touches knowledge/tthc.
"""
from __future__ import annotations

import json
import re
import shutil
from datetime import date
from pathlib import Path

import pytest
import yaml
from fastapi.testclient import TestClient
from sqlalchemy import select

from console.models import CatalogueImport, CatalogueRevision
from db import session_scope
from knowledge.procedures import TTHC_DIR, load_catalogue
from settings import get_settings

# The console tests' fixtures (app_env: the database; client: the real app), shared rather than copied.
from tests.integration.test_console import OFFICE_A, app_env, client, login, make_user  # noqa: F401

pytestmark = pytest.mark.integration

SHIPPED = ("dang-ky-khai-sinh", "dang-ky-ket-hon", "cap-the-can-cuoc")
NEW_TIME = "Trong ngày làm việc tiếp theo kể từ ngày nhận đủ hồ sơ hợp lệ"
EXPORT = {"data": [
    {"MaTTHC": "1.001193", "Tên thủ tục": "Thủ tục đăng ký khai sinh", "Lĩnh vực": "Hộ tịch",
     "Cơ quan thực hiện": "Ủy ban nhân dân cấp xã", "Cấp thực hiện": "Cấp Xã", "Thời hạn giải quyết": NEW_TIME,
     "Thành phần hồ sơ": "Tờ khai đăng ký khai sinh theo mẫu (01 bản chính)", "Kết quả thực hiện": "Giấy khai sinh",
     "Căn cứ pháp lý": "Luật Hộ tịch số 60/2014/QH13"},
    {"MaTTHC": "1.001695", "Tên thủ tục": "Thủ tục đăng ký khai sinh có yếu tố nước ngoài", "Lĩnh vực": "Hộ tịch",
     "Cơ quan thực hiện": "Ủy ban nhân dân cấp xã", "Cấp thực hiện": "Cấp Xã",
     "Thời hạn giải quyết": "15 ngày làm việc", "Phí, lệ phí": "Theo Nghị quyết của HĐND tỉnh",
     "Thành phần hồ sơ": "Tờ khai đăng ký khai sinh (01 bản chính)", "Kết quả thực hiện": "Giấy khai sinh",
     "Căn cứ pháp lý": "Nghị định 123/2015/NĐ-CP"},
]}
NEW_ID = "dang-ky-khai-sinh-co-yeu-to-nuoc-ngoai"


@pytest.fixture
def tthc(app_env: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A throwaway catalogue the console publishes into."""
    d = tmp_path / "tthc"
    d.mkdir()
    for name in SHIPPED:
        shutil.copy(TTHC_DIR / f"{name}.yaml", d / f"{name}.yaml")
    monkeypatch.setenv("TTHC_DIR", str(d))
    get_settings.cache_clear()
    load_catalogue.cache_clear()
    yield d
    load_catalogue.cache_clear()


def second(client: TestClient) -> TestClient:
    """Another browser on the same app (the approver)."""
    return TestClient(client.app, base_url="https://testserver", follow_redirects=False)


def upload(client: TestClient, token: str, export: dict | bytes = EXPORT, name: str = "xuat-tthc.json",
           **form: str):
    body = export if isinstance(export, bytes) else json.dumps(export, ensure_ascii=False).encode()
    return client.post("/console/catalogue/imports", data={"csrf_token": token, **form},
                       files={"file": (name, body, "application/json")})


def batch_of(response) -> int:
    m = re.fullmatch(r"/console/catalogue/imports/(\d+)\?done=catalogue_uploaded", response.headers["location"])
    assert m, response.headers.get("location")
    return int(m.group(1))


def revisions(db_url: str, batch_id: int) -> dict[str, CatalogueRevision]:
    with session_scope(db_url) as db:
        rows = db.scalars(select(CatalogueRevision).where(CatalogueRevision.batch_id == batch_id)).all()
        db.expunge_all()
        return {r.procedure_id: r for r in rows}


def publish_form(html: str) -> dict[str, list[str]]:
    """The revision checkboxes of the diff page as a browser would submit them (ticked ones only)."""
    ticked = re.findall(r'<input type="checkbox" name="rev" value="(\d+)" checked>', html)
    return {"rev": ticked}


def test_upload_review_publish_by_a_second_person_and_history(client: TestClient, app_env: str, tthc: Path) -> None:
    uploader = make_user(app_env, OFFICE_A, role="editor")
    approver = make_user(app_env, OFFICE_A, role="editor")
    before_ket_hon = (tthc / "dang-ky-ket-hon.yaml").read_text(encoding="utf-8")

    token = login(client, uploader)
    page = client.get("/console/catalogue")
    assert page.status_code == 200 and "Thủ tục đăng ký khai sinh" in page.text and 'type="file"' in page.text
    r = upload(client, token)
    assert r.status_code == 303, r.text
    batch_id = batch_of(r)

    diff = client.get(f"/console/catalogue/imports/{batch_id}")
    assert diff.status_code == 200
    assert NEW_TIME in diff.text and "Thời hạn giải quyết" in diff.text  # the changed field, before and after
    assert "Giải quyết ngay trong ngày tiếp nhận hồ sơ hợp lệ" in diff.text
    assert "Thêm mới" in diff.text and "có yếu tố nước ngoài" in diff.text
    assert "Bãi bỏ" in diff.text and "Thủ tục đăng ký kết hôn" in diff.text  # same domain, missing from the file
    assert "Thủ tục cấp thẻ căn cước" not in diff.text  # a domain the export does not cover is not proposed
    assert "bốn mắt" in diff.text and 'name="rev"' not in diff.text  # the uploader gets no publish form
    revs = revisions(app_env, batch_id)
    assert {k: v.kind for k, v in revs.items()} == {"dang-ky-khai-sinh": "changed", NEW_ID: "added",
                                                     "dang-ky-ket-hon": "removed"}
    # Four eyes: the uploader cannot publish, even with a hand-made request.
    r = client.post(f"/console/catalogue/imports/{batch_id}/publish",
                    data={"csrf_token": token, "rev": [str(v.id) for v in revs.values()]})
    assert r.status_code == 403 and "bốn mắt" in r.text
    assert not (tthc / f"{NEW_ID}.yaml").exists()

    other = second(client)
    token_b = login(other, approver)
    page = other.get(f"/console/catalogue/imports/{batch_id}")
    form = publish_form(page.text)
    assert sorted(form["rev"]) == sorted(str(revs[k].id) for k in ("dang-ky-khai-sinh", NEW_ID))  # removal unticked
    r = other.post(f"/console/catalogue/imports/{batch_id}/publish", data={**form, "note": "Đã đối chiếu"})
    assert r.status_code == 403  # no CSRF token
    r = other.post(f"/console/catalogue/imports/{batch_id}/publish", data={**form, "csrf_token": token_b,
                                                                            "note": "Đã đối chiếu"})
    assert r.status_code == 303, r.text

    # The files: the changed fact from the export, unverified; what the export does not carry is kept.
    data = yaml.safe_load((tthc / "dang-ky-khai-sinh.yaml").read_text(encoding="utf-8"))
    assert data["time"] == NEW_TIME
    assert data["facts"]["time"]["source"] == ["csdl-quoc-gia-tthc"] and data["facts"]["time"].get("verified") is None
    assert "làm giấy khai sinh" in data["aliases"] and data["citizen_deadlines"][0]["within"] == "60 ngày"
    assert (tthc / f"{NEW_ID}.yaml").exists()
    assert (tthc / "dang-ky-ket-hon.yaml").read_text(encoding="utf-8") == before_ket_hon  # not ticked: kept

    # The running process answers with the new fact, and says it is unverified.
    from bot.answers.procedure import procedure_reply

    reply = procedure_reply("1.001193", ["time"], date(2026, 12, 2))
    assert reply is not None and NEW_TIME in reply.reply and "chưa được đối chiếu" in reply.reply
    assert load_catalogue().get("1.001695") is not None

    with session_scope(app_env) as db:
        b = db.get(CatalogueImport, batch_id)
        assert (b.status, b.uploaded_by, b.decided_by, b.note) == ("published", uploader, approver, "Đã đối chiếu")
    assert {k: v.status for k, v in revisions(app_env, batch_id).items()} == {
        "dang-ky-khai-sinh": "published", NEW_ID: "published", "dang-ky-ket-hon": "rejected"}

    history = other.get("/console/catalogue/dang-ky-khai-sinh")
    assert history.status_code == 200
    text = history.text
    assert "Lịch sử thay đổi" in text and "Đã công bố" in text and uploader in text and approver in text
    assert "Thời hạn giải quyết" in text and NEW_TIME in text and "Chưa xác minh" in text
    listing = other.get("/console/catalogue").text
    assert f"Lần nhập #{batch_id}" in listing and approver in listing
    # Decided once: a second decision is refused.
    assert other.post(f"/console/catalogue/imports/{batch_id}/reject", data={"csrf_token": token_b}).status_code == 409


def test_removal_only_when_ticked_and_reject_writes_nothing(client: TestClient, app_env: str, tthc: Path) -> None:
    token = login(client, make_user(app_env, OFFICE_A, role="editor"))
    other = second(client)
    token_b = login(other, make_user(app_env, None, role="admin"))  # an admin may approve too

    batch_id = batch_of(upload(client, token))
    r = other.post(f"/console/catalogue/imports/{batch_id}/reject", data={"csrf_token": token_b, "note": "sai tệp"})
    assert r.status_code == 303
    assert sorted(p.stem for p in tthc.glob("*.yaml")) == sorted(SHIPPED)
    assert (tthc / "dang-ky-khai-sinh.yaml").read_text(encoding="utf-8") == (
        TTHC_DIR / "dang-ky-khai-sinh.yaml").read_text(encoding="utf-8")
    assert {v.status for v in revisions(app_env, batch_id).values()} == {"rejected"}

    batch_id = batch_of(upload(client, token))
    removal = revisions(app_env, batch_id)["dang-ky-ket-hon"]
    r = other.post(f"/console/catalogue/imports/{batch_id}/publish",
                   data={"csrf_token": token_b, "rev": [str(removal.id)]})
    assert r.status_code == 303
    assert not (tthc / "dang-ky-ket-hon.yaml").exists() and load_catalogue().get("1.000894") is None
    page = other.get("/console/catalogue/dang-ky-ket-hon")  # gone from the catalogue, not from the history
    assert page.status_code == 200 and "không còn trong danh mục" in page.text and "Bãi bỏ" in page.text


def test_staff_without_the_role_cannot_upload_or_publish(client: TestClient, app_env: str, tthc: Path) -> None:
    token = login(client, make_user(app_env, OFFICE_A, role="editor"))
    batch_id = batch_of(upload(client, token))
    staff = second(client)
    token_s = login(staff, make_user(app_env, OFFICE_A))  # ordinary staff
    page = staff.get("/console/catalogue")
    assert page.status_code == 200 and 'type="file"' not in page.text  # may look, not change
    assert upload(staff, token_s).status_code == 403
    revs = revisions(app_env, batch_id)
    r = staff.post(f"/console/catalogue/imports/{batch_id}/publish",
                   data={"csrf_token": token_s, "rev": [str(v.id) for v in revs.values()]})
    assert r.status_code == 403
    assert staff.post(f"/console/catalogue/imports/{batch_id}/reject", data={"csrf_token": token_s}).status_code == 403
    assert not (tthc / f"{NEW_ID}.yaml").exists()
    with session_scope(app_env) as db:
        assert db.get(CatalogueImport, batch_id).status == "pending"


def test_upload_needs_csrf_a_known_format_and_a_bounded_size(client: TestClient, app_env: str, tthc: Path,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    token = login(client, make_user(app_env, OFFICE_A, role="editor"))
    with session_scope(app_env) as db:
        before = len(db.scalars(select(CatalogueImport.id)).all())
    assert upload(client, "").status_code == 403
    assert upload(client, "x" * 43).status_code == 403
    r = upload(client, token, b"MZ\x90\x00", name="virus.exe")
    assert r.status_code == 422 and "Chỉ nhận tệp" in r.text
    r = upload(client, token, b"{not json", name="hong.json")
    assert r.status_code == 422 and "Không đọc được tệp" in r.text
    monkeypatch.setenv("CATALOGUE_UPLOAD_MAX_BYTES", "2000")
    get_settings.cache_clear()
    r = upload(client, token, json.dumps(EXPORT, ensure_ascii=False).encode() + b" " * 3000)
    assert r.status_code == 413
    with session_scope(app_env) as db:
        assert len(db.scalars(select(CatalogueImport.id)).all()) == before


def test_one_person_may_publish_only_when_configured(client: TestClient, app_env: str, tthc: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    token = login(client, make_user(app_env, OFFICE_A, role="editor"))
    batch_id = batch_of(upload(client, token))
    monkeypatch.setenv("CATALOGUE_FOUR_EYES", "false")
    get_settings.cache_clear()
    form = publish_form(client.get(f"/console/catalogue/imports/{batch_id}").text)
    assert form["rev"]
    r = client.post(f"/console/catalogue/imports/{batch_id}/publish", data={**form, "csrf_token": token})
    assert r.status_code == 303
    assert (tthc / f"{NEW_ID}.yaml").exists()


def test_a_file_changed_since_the_upload_is_not_overwritten(client: TestClient, app_env: str, tthc: Path) -> None:
    token = login(client, make_user(app_env, OFFICE_A, role="editor"))
    batch_id = batch_of(upload(client, token))
    edited = (tthc / "dang-ky-khai-sinh.yaml").read_text(encoding="utf-8") + "\n# sửa tay sau khi tải lên\n"
    (tthc / "dang-ky-khai-sinh.yaml").write_text(edited, encoding="utf-8")
    other = second(client)
    token_b = login(other, make_user(app_env, OFFICE_A, role="editor"))
    form = publish_form(other.get(f"/console/catalogue/imports/{batch_id}").text)
    r = other.post(f"/console/catalogue/imports/{batch_id}/publish", data={**form, "csrf_token": token_b})
    assert r.status_code == 409 and "đã thay đổi" in r.text
    assert (tthc / "dang-ky-khai-sinh.yaml").read_text(encoding="utf-8") == edited
    assert not (tthc / f"{NEW_ID}.yaml").exists()
