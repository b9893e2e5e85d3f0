"""Importing portal exports (CSV, XLSX, JSON) into validated catalogue YAML."""
from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest
from openpyxl import Workbook

from knowledge.errors import KnowledgeError
from knowledge.procedures import load_catalogue_uncached
from knowledge.tthc_import import clean, import_file, read_rows, slugify

DATA = Path(__file__).resolve().parents[1] / "data" / "tthc_import"
REVIEWED = date(2026, 1, 15)


def test_csv_export_writes_valid_yaml_and_reports_refused_rows(tmp_path: Path) -> None:
    report = import_file(DATA / "tthc_export.csv", tmp_path, reviewed=REVIEWED)
    assert sorted(p.name for p in report.written) == [
        "chung-thuc-ban-sao-tu-ban-chinh-giay-to-van-ban.yaml", "dang-ky-khai-sinh.yaml"]
    reasons = dict(report.skipped)
    assert "cấp huyện" in reasons[3]  # district body: left for a person to re-assign after 1/7/2025
    assert reasons[4] == "thiếu Tên thủ tục"

    cat = load_catalogue_uncached(tmp_path)  # what was written loads with the production loader
    ks = cat.get("1.001193")
    assert ks.level == "xa" and ks.online.mode == "toan_trinh" and ks.place.by_post
    assert [d.name for d in ks.documents][:2] == ["Tờ khai đăng ký khai sinh theo mẫu", "Giấy chứng sinh"]
    assert ks.documents[2].form == "xuat_trinh"
    assert ks.steps[1] == "Công chức tư pháp - hộ tịch kiểm tra, ghi vào Sổ hộ tịch"  # dash inside a step kept
    assert [d.number for d in ks.legal_basis] == ["60/2014/QH13", "123/2015/NĐ-CP"]
    assert ks.last_reviewed == REVIEWED and "tthc_export.csv" in ks.source

    ct = cat.get("2.000815")
    assert ct.name == "Thủ tục chứng thực bản sao từ bản chính giấy tờ, văn bản"  # HTML entity decoded
    assert "2.000 đồng/trang" in ct.field_text("fee")
    # The export is the source of every imported fact, none of which a person has verified yet.
    assert [s.id for s in ct.sources] == ["csdl-quoc-gia-tthc"] and ct.sources[0].checked == REVIEWED
    assert all(f.source == ["csdl-quoc-gia-tthc"] and f.verified is None for f in ct.fees)
    assert {state for *_, prov in ct.fact_items() for state in [prov.state(REVIEWED)]} == {"unverified"}
    assert ct.online.mode == "khong"
    assert [d.form for d in ct.documents] == ["ban_chinh", "ban_sao"]  # "Bản sao cần chứng thực"
    assert ct.documents[0].name == "Bản chính giấy tờ làm cơ sở để chứng thực bản sao"  # &nbsp; gone


def test_json_export_with_data_wrapper_and_short_headers(tmp_path: Path) -> None:
    report = import_file(DATA / "tthc_export.json", tmp_path, reviewed=REVIEWED)
    assert {p.stem for p in report.written} == {"dang-ky-ket-hon", "dang-ky-thuong-tru"}
    assert report.skipped and "legal_basis" in report.skipped[0][1]
    cat = load_catalogue_uncached(tmp_path)
    kh = cat.get("1.000894")
    assert kh.online.mode == "mot_phan" and kh.fees == []
    assert "05 ngày làm việc" in kh.field_text("time")
    assert [d.name for d in kh.documents] == ["Tờ khai đăng ký kết hôn theo mẫu", "Giấy xác nhận tình trạng hôn nhân"]
    tt = cat.get("1.004222")
    assert tt.domain == "cu_tru" and tt.documents[1].form == "ban_sao"
    assert "20.000 đồng/lần" in tt.field_text("fee")


def test_xlsx_export_with_title_block_above_header(tmp_path: Path) -> None:
    wb = Workbook()
    ws = wb.active
    ws.append(["DANH MỤC THỦ TỤC HÀNH CHÍNH"])
    ws.append([])
    ws.append(["STT", "Mã TTHC", "Tên TTHC", "Cấp thực hiện", "Lĩnh vực", "Cơ quan thực hiện", "Thời hạn giải quyết",
               "Phí, lệ phí", "Thành phần hồ sơ", "Kết quả thực hiện", "Căn cứ pháp lý"])
    ws.append([1, "1.004873", "Thủ tục cấp Giấy xác nhận tình trạng hôn nhân", "Cấp Xã", "Hộ tịch",
               "Ủy ban nhân dân cấp xã", "03 ngày làm việc", "Theo Nghị quyết của HĐND tỉnh",
               "Tờ khai cấp Giấy xác nhận tình trạng hôn nhân (01 bản chính)", "Giấy xác nhận tình trạng hôn nhân",
               "Nghị định 123/2015/NĐ-CP"])
    src = tmp_path / "export.xlsx"
    wb.save(src)
    out = tmp_path / "out"
    report = import_file(src, out, reviewed=REVIEWED)
    assert [p.name for p in report.written] == ["cap-giay-xac-nhan-tinh-trang-hon-nhan.yaml"]
    p = load_catalogue_uncached(out).get("1.004873")
    assert p.fees[0].set_by_province and "HĐND" in p.field_text("fee")
    assert p.steps  # a placeholder step keeps the schema valid when the export has none


def test_existing_files_are_not_overwritten_unless_asked(tmp_path: Path) -> None:
    import_file(DATA / "tthc_export.json", tmp_path, reviewed=REVIEWED)
    (tmp_path / "dang-ky-ket-hon.yaml").write_text((tmp_path / "dang-ky-ket-hon.yaml").read_text() + "\n# edited\n")
    again = import_file(DATA / "tthc_export.json", tmp_path, reviewed=REVIEWED)
    assert not again.written and any("đã tồn tại" in r for _, r in again.skipped)
    assert "# edited" in (tmp_path / "dang-ky-ket-hon.yaml").read_text()
    forced = import_file(DATA / "tthc_export.json", tmp_path, reviewed=REVIEWED, overwrite=True)
    assert len(forced.written) == 2


def test_helpers_and_unsupported_format(tmp_path: Path) -> None:
    assert clean("<p>Trực tiếp</p><p>Trực&nbsp;tuyến</p>") == "Trực tiếp\nTrực tuyến"
    assert slugify("Thủ tục đăng ký khai sinh") == "dang-ky-khai-sinh"
    rows = read_rows(DATA / "tthc_export.csv")
    assert rows[0]["code"] == "1.001193" and rows[0]["fee"].startswith("Miễn")
    bad = tmp_path / "x.txt"
    bad.write_text("x")
    with pytest.raises(KnowledgeError, match="unsupported"):
        read_rows(bad)
