"""The catalogue import diff: matching, merging with provenance, added/changed/removed, Vietnamese text,
and the command line that prints it and writes only after confirmation."""
from __future__ import annotations

import json
import os
import shutil
from datetime import date
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from knowledge.errors import KnowledgeError
from knowledge.procedures import TTHC_DIR, Procedure, load_catalogue, load_catalogue_uncached
from knowledge.tthc_diff import (
    comparable,
    diff_catalogue,
    field_changes,
    format_diff,
    match_imported,
    merge_procedure,
)
from knowledge.tthc_import import (
    EXPORT_SOURCE_ID,
    plan_import,
    present_fields,
    row_to_procedure,
    write_changes,
)

DAY = date(2026, 12, 2)
SOURCE = {"id": EXPORT_SOURCE_ID, "title": "Nhập từ tệp xuất dữ liệu (xuat.json)", "checked": DAY.isoformat()}
ROW = {"code": "1.001193", "name": "Thủ tục đăng ký khai sinh", "field": "Hộ tịch", "body": "Ủy ban nhân dân cấp xã",
       "level": "Cấp Xã", "time": "Trong ngày làm việc tiếp theo", "documents": "Tờ khai đăng ký khai sinh (01 bản chính)",
       "result": "Giấy khai sinh", "legal_basis": "Luật Hộ tịch số 60/2014/QH13", "fee": "Không"}


@pytest.fixture(scope="module")
def catalogue():
    return load_catalogue_uncached(TTHC_DIR)


def imported(row: dict[str, str]) -> Procedure:
    return Procedure.model_validate(row_to_procedure(row, reviewed=DAY, source=SOURCE["title"]))


def test_comparable_ignores_presentation_not_content() -> None:
    assert comparable("time", "07 ngày làm việc.") == comparable("time", " 07  ngày LÀM việc")
    assert comparable("time", "07 ngày làm việc") != comparable("time", "05 ngày làm việc")
    same_numbers = [{"number": "60/2014/QH13", "title": "Luật Hộ tịch"}]
    other_title = [{"number": "60/2014/QH13", "title": "Luật Hộ tịch số 60/2014/QH13"}]
    assert comparable("legal_basis", same_numbers) == comparable("legal_basis", other_title)
    assert comparable("legal_basis", same_numbers) != comparable("legal_basis", [*other_title, {"number": "1/2020/QH14"}])
    assert comparable("online", {"mode": "mot_phan", "note": "x"}) == comparable("online", {"mode": "mot_phan"})
    assert comparable("fees", []) is None and comparable("subjects", "") is None


def test_match_by_code_then_name_but_never_across_different_codes(catalogue) -> None:
    ks = catalogue.get("1.001193")
    assert match_imported(catalogue, imported(ROW)) is ks
    renamed = imported({**ROW, "name": "Đăng ký khai sinh cho trẻ em"})
    assert match_imported(catalogue, renamed) is ks  # the code wins over a new name
    no_code = imported({**ROW, "code": ""})
    assert match_imported(catalogue, no_code) is ks  # same name, no code
    other_code = imported({**ROW, "code": "2.999999"})
    assert match_imported(catalogue, other_code) is None  # same name, another procedure


def test_merge_takes_only_changed_fields_the_export_carries_and_marks_them_unverified(catalogue) -> None:
    old = catalogue.get("1.001193")
    row = {k: v for k, v in ROW.items() if k != "fee"}  # the export says nothing about the fee
    new = merge_procedure(old, imported(row), present_fields(row), SOURCE)
    changes = {c.field: c for c in field_changes(old, new)}
    assert "time" in changes and changes["time"].before == old.time and changes["time"].after == ROW["time"]
    assert changes["time"].kind == "changed"
    assert "fees" not in changes and new.fees == old.fees  # not in the row: kept, with its provenance
    assert "legal_basis" in changes  # the export lists fewer texts
    # What the export does not know is kept as it was.
    assert new.aliases == old.aliases and new.citizen_deadlines == old.citizen_deadlines and new.domain == old.domain
    # A changed fact cites the export, unverified; an unchanged one keeps its source and date.
    assert new.facts["time"].source == [EXPORT_SOURCE_ID] and new.facts["time"].verified is None
    assert new.facts["time"].state(DAY) == "unverified"
    assert new.facts.get("online") == old.facts.get("online")
    assert new.source_by_id(EXPORT_SOURCE_ID).title == SOURCE["title"]
    assert new.last_reviewed == old.last_reviewed  # no review date is invented


def test_merge_of_fees_cites_the_export_without_a_check_date(catalogue) -> None:
    old = catalogue.get("1.004222")
    row = {"code": "1.004222", "name": old.name, "fee": "30.000 đồng/lần"}
    new = merge_procedure(old, imported({**ROW, **row}), present_fields(row), SOURCE)
    assert [f.amount for f in new.fees] == ["30.000 đồng/lần"]
    assert all(f.source == [EXPORT_SOURCE_ID] and f.verified is None for f in new.fees)
    assert [c.field for c in field_changes(old, new)] == ["fees"]


def test_merge_returns_the_old_version_when_nothing_differs(catalogue) -> None:
    old = catalogue.get("1.001193")
    row = {"code": "1.001193", "name": old.name + ".", "time": old.time.upper()}
    assert merge_procedure(old, imported({**ROW, **row}), present_fields(row), SOURCE) is old


def test_a_second_import_cites_its_own_file(catalogue) -> None:
    old = catalogue.get("1.001193")
    first = merge_procedure(old, imported(ROW), present_fields(ROW), SOURCE)
    later = {**SOURCE, "title": "Nhập từ tệp khác (xuat-2.json)"}
    second = merge_procedure(first, imported({**ROW, "time": "05 ngày làm việc"}), {"time"}, later)
    assert second.facts["time"].source == [f"{EXPORT_SOURCE_ID}-20261202"]
    assert second.source_by_id(EXPORT_SOURCE_ID).title == SOURCE["title"]  # the earlier file is still named


def test_diff_lists_added_changed_removed_and_scopes_removals_by_domain(catalogue) -> None:
    old = catalogue.get("1.001193")
    changed = old.model_copy(update={"time": "05 ngày làm việc"})
    added = imported({**ROW, "code": "1.003005", "name": "Thủ tục đăng ký việc nuôi con nuôi trong nước"})
    unchanged = catalogue.get("1.000894")
    diff = diff_catalogue(catalogue, [changed, added, unchanged], removal_domains={"ho_tich"})
    assert [c.id for c in diff.changed] == [old.id] and [f.field for f in diff.changed[0].fields] == ["time"]
    assert [c.id for c in diff.added] == [added.id] and diff.unchanged == [unchanged.id]
    removed = {c.id for c in diff.removed}
    assert removed and all(catalogue.get(i).domain == "ho_tich" for i in removed)
    assert old.id not in removed and unchanged.id not in removed
    everything = diff_catalogue(catalogue, [changed], removal_domains=None)
    assert len(everything.removed) == len(catalogue) - 1
    text = format_diff(diff, [(4, "thiếu Tên thủ tục")])
    assert "[THAY ĐỔI] Thủ tục đăng ký khai sinh" in text and "Thời hạn giải quyết (sửa)" in text
    assert "+ Sau:   05 ngày làm việc" in text and "[THÊM MỚI]" in text and "[BÃI BỎ]" in text
    assert "Dòng 4: thiếu Tên thủ tục" in text


def _export(tmp_path: Path) -> Path:
    path = tmp_path / "xuat.json"
    path.write_text(json.dumps([{"Mã thủ tục": "1.001193", "Tên thủ tục": "Thủ tục đăng ký khai sinh",
                                 "Thời hạn giải quyết": "05 ngày làm việc", "Cơ quan thực hiện": "Ủy ban nhân dân cấp xã",
                                 "Thành phần hồ sơ": "Tờ khai (01 bản chính)", "Kết quả thực hiện": "Giấy khai sinh",
                                 "Căn cứ pháp lý": "Luật Hộ tịch số 60/2014/QH13"}], ensure_ascii=False),
                    encoding="utf-8")
    return path


@pytest.fixture
def small_catalogue(tmp_path: Path) -> Path:
    d = tmp_path / "tthc"
    d.mkdir()
    for name in ("dang-ky-khai-sinh", "dang-ky-ket-hon", "cap-the-can-cuoc"):
        shutil.copy(TTHC_DIR / f"{name}.yaml", d)
    return d


def test_plan_then_write_is_seen_by_the_cached_loader(tmp_path: Path, small_catalogue: Path) -> None:
    assert load_catalogue(small_catalogue).get("1.001193").time != "05 ngày làm việc"
    plan = plan_import(_export(tmp_path), small_catalogue, day=DAY)
    assert list(plan.texts) == ["dang-ky-khai-sinh"] and [c.id for c in plan.diff.removed] == ["dang-ky-ket-hon"]
    assert plan.old_texts["dang-ky-khai-sinh"] == (small_catalogue / "dang-ky-khai-sinh.yaml").read_text(encoding="utf-8")
    write_changes(small_catalogue, plan.texts)
    assert load_catalogue(small_catalogue).get("1.001193").time == "05 ngày làm việc"
    assert (small_catalogue / "dang-ky-ket-hon.yaml").exists()  # a removal needs its own decision
    write_changes(small_catalogue, {}, ["dang-ky-ket-hon"])
    assert load_catalogue(small_catalogue).get("1.000894") is None


def test_write_refuses_an_invalid_result_and_writes_nothing(small_catalogue: Path) -> None:
    before = sorted(p.read_text(encoding="utf-8") for p in small_catalogue.glob("*.yaml"))
    data = yaml.safe_load((small_catalogue / "dang-ky-ket-hon.yaml").read_text(encoding="utf-8"))
    clash = yaml.safe_dump({**data, "id": "ban-sao", "code": "1.001193"}, allow_unicode=True)  # code of khai sinh
    with pytest.raises(KnowledgeError, match="duplicate"):
        write_changes(small_catalogue, {"ban-sao": clash})
    with pytest.raises(KnowledgeError, match="not a catalogue file name"):
        write_changes(small_catalogue, {}, ["../settings"])
    assert sorted(p.read_text(encoding="utf-8") for p in small_catalogue.glob("*.yaml")) == before


def test_cli_dry_run_prints_the_diff_and_applying_needs_confirmation(tmp_path: Path, small_catalogue: Path) -> None:
    from knowledge.tthc_cli import app

    export = _export(tmp_path)
    original = (small_catalogue / "dang-ky-khai-sinh.yaml").read_text(encoding="utf-8")
    runner = CliRunner()
    args = ["import", str(export), "--dir", str(small_catalogue), "--today", "2026-12-02", "--no-history"]
    dry = runner.invoke(app, [*args, "--dry-run"])
    assert dry.exit_code == 0 and "Thời hạn giải quyết (sửa)" in dry.output and "Chạy thử" in dry.output
    refused = runner.invoke(app, args, input="n\n")
    assert refused.exit_code == 1 and "Đã hủy" in refused.output
    assert (small_catalogue / "dang-ky-khai-sinh.yaml").read_text(encoding="utf-8") == original
    applied = runner.invoke(app, [*args, "--yes"])
    assert applied.exit_code == 0, applied.output
    assert load_catalogue(small_catalogue).get("1.001193").time == "05 ngày làm việc"
    assert (small_catalogue / "dang-ky-ket-hon.yaml").exists()  # no --remove-missing


def test_a_file_published_by_another_process_is_seen_without_clearing_the_cache(small_catalogue: Path) -> None:
    os.utime(small_catalogue, ns=(1_700_000_000_000_000_000, 1_700_000_000_000_000_000))  # last changed long ago
    first = load_catalogue(small_catalogue)
    assert load_catalogue(small_catalogue) is first  # cached while nothing changes
    path = small_catalogue / "dang-ky-khai-sinh.yaml"
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    data["time"] = "05 ngày làm việc"
    tmp = small_catalogue / ".dang-ky-khai-sinh.yaml.tmp"
    tmp.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    os.replace(tmp, path)  # what write_changes does in the publishing process
    assert load_catalogue(small_catalogue).get("1.001193").time == "05 ngày làm việc"
