"""Provenance of catalogue facts: sources validated on load, the rule in force on the day asked,
no amount of money without a source, caveats for unverified or stale facts, and the audit."""
from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pytest

from knowledge.errors import KnowledgeError
from knowledge.procedures import (
    MONEY,
    Catalogue,
    audit_catalogue,
    field_lexicon,
    load_catalogue,
    load_catalogue_uncached,
)

DAY = date(2026, 12, 2)

PROCEDURE = """\
id: thu-tuc-mau
name: Thủ tục mẫu để kiểm thử
domain: cu_tru
field: Đăng ký, quản lý cư trú
level: xa
body: Công an cấp xã
place:
  offices: ["Công an xã, phường"]
online:
  mode: toan_trinh
documents:
  - name: Tờ khai thay đổi thông tin cư trú
steps:
  - Nộp hồ sơ.
time: 03 ngày làm việc kể từ ngày nhận đủ hồ sơ.
citizen_deadlines:
  - within: 30 ngày
    from_event: kể từ ngày chuyển đến
    source: 68/2020/QH14
    ref: Điều 99
    verified: 2026-11-30
fees:
  - name: Lệ phí cũ
    amount: 10.000 đồng/lần
    source: 75/2022/TT-BTC
    ref: Biểu mức thu, mục 2
    verified: 2026-11-30
    valid_to: 2027-01-14
  - name: Lệ phí mới
    amount: 15.000 đồng/lần
    source: 75/2022/TT-BTC
    verified: 2026-11-30
    valid_from: 2027-01-15
result: Trợ cấp 500.000 đồng/tháng được cập nhật vào Cơ sở dữ liệu.
legal_basis:
  - number: 68/2020/QH14
    title: Luật Cư trú
last_reviewed: 2026-12-02
source: Bộ dữ liệu kiểm thử
sources:
  - id: 68/2020/QH14
    title: Luật Cư trú
    url: https://example.gov.vn/luat-cu-tru
    checked: 2026-11-30
  - id: 75/2022/TT-BTC
    title: Thông tư lệ phí đăng ký cư trú
facts:
  time: {source: 68/2020/QH14, ref: Điều 22, verified: 2026-01-02}
  body: {source: 68/2020/QH14, verified: null}
"""


def _write(tmp_path: Path, text: str = PROCEDURE, name: str = "thu-tuc-mau") -> Path:
    d = tmp_path / "tthc"
    d.mkdir(exist_ok=True)
    (d / f"{name}.yaml").write_text(text, encoding="utf-8")
    return d


@pytest.fixture()
def proc(tmp_path):
    return load_catalogue_uncached(_write(tmp_path)).get("thu-tuc-mau")


# ---------------------------------------------------------------------- loading
def test_unknown_source_id_is_a_load_error_with_file_and_line(tmp_path) -> None:
    text = PROCEDURE.replace("  time: {source: 68/2020/QH14,", "  time: {source: 99/2099/TT-XYZ,")
    line = next(i for i, t in enumerate(text.splitlines(), 1) if t.startswith("  time: {"))
    with pytest.raises(KnowledgeError, match=rf"thu-tuc-mau\.yaml:{line}: unknown source id '99/2099/TT-XYZ'"):
        load_catalogue_uncached(_write(tmp_path, text))


def test_unknown_source_id_on_a_fee_item_names_its_line(tmp_path) -> None:
    text = PROCEDURE.replace("    amount: 15.000 đồng/lần\n    source: 75/2022/TT-BTC",
                             "    amount: 15.000 đồng/lần\n    source: [75/2022/TT-BTC, khong-co]")
    line = next(i for i, t in enumerate(text.splitlines(), 1) if "khong-co" in t)
    with pytest.raises(KnowledgeError, match=rf"thu-tuc-mau\.yaml:{line}: unknown source id 'khong-co'"):
        load_catalogue_uncached(_write(tmp_path, text))


def test_bad_dates_and_fact_fields_are_load_errors_with_line(tmp_path) -> None:
    text = PROCEDURE.replace("    valid_from: 2027-01-15", "    valid_from: 2027-01-15\n    valid_to: 2026-01-01")
    with pytest.raises(KnowledgeError, match=r"thu-tuc-mau\.yaml:\d+: .*valid_to"):
        load_catalogue_uncached(_write(tmp_path, text))
    text = PROCEDURE.replace("  body: {source", "  steps: {source")
    with pytest.raises(KnowledgeError, match=r"thu-tuc-mau\.yaml:\d+: .*unknown fact field"):
        load_catalogue_uncached(_write(tmp_path, text))


def test_every_catalogue_file_cites_declared_sources_for_every_fact() -> None:
    """The shipped catalogue loads (so every id is declared) and no fact is without a source."""
    report = audit_catalogue(load_catalogue(), DAY)
    assert report.counts["unsourced"] == 0, [r for r in report.rows if r.state == "unsourced"][:5]
    assert report.counts["verified"] >= 20


# ---------------------------------------------------------------------- in force on the day asked
def test_fee_in_force_before_a_change_and_the_change_announced_within_60_days(proc) -> None:
    far = proc.answer_text("fee", date(2026, 10, 1))
    assert "10.000 đồng/lần" in far and "15.000" not in far  # the change is 106 days away: not yet said
    near = proc.answer_text("fee", date(2026, 12, 2))
    assert "10.000 đồng/lần" in near and "đến hết 14/1/2027" in near
    assert "Từ 15/1/2027: Lệ phí mới: 15.000 đồng/lần" in near


def test_fee_after_the_change_is_the_new_one_only(proc) -> None:
    after = proc.answer_text("fee", date(2027, 1, 15))
    assert "15.000 đồng/lần" in after and "10.000" not in after


def test_index_text_without_a_day_lists_every_period(proc) -> None:
    text = proc.field_text("fee")
    assert "10.000" in text and "15.000" in text and "áp dụng từ 15/1/2027" in text


# ---------------------------------------------------------------------- money and caveats
def test_an_unsourced_amount_is_never_quoted(tmp_path) -> None:
    text = PROCEDURE.replace("    amount: 10.000 đồng/lần\n    source: 75/2022/TT-BTC\n", "    amount: 10.000 đồng/lần\n")
    p = load_catalogue_uncached(_write(tmp_path, text)).get("thu-tuc-mau")
    fee = p.answer_text("fee", date(2026, 12, 2))
    assert "10.000" not in fee and "chưa xác minh được mức phí; vui lòng kiểm tra tại" in fee
    assert "10.000" not in p.field_text("fee") and "10.000" not in p.field_text("overview", today=DAY)
    result = p.answer_text("result", DAY)  # no source for `result`: its amount becomes a caveat too
    assert "500.000" not in result and "chưa xác minh được mức phí" in result


def test_no_amount_in_any_shipped_answer_lacks_a_source() -> None:
    for p in load_catalogue():
        for f in ("fee", "result", "overview", "steps", "time", "body"):
            text = p.answer_text(f, DAY)
            for m in MONEY.finditer(text):
                prov = p.facts.get(f)
                fee_sourced = any(fee.source and m.group(0) in fee.amount for fee in p.fees)
                assert fee_sourced or (prov and prov.source) or f == "fee", (p.id, f, m.group(0))


def test_verified_fact_shows_source_and_date(proc) -> None:
    text = proc.answer_text("time", date(2026, 3, 1))
    assert "Nguồn: Luật Cư trú 68/2020/QH14, Điều 22 — kiểm tra ngày 02/01/2026." in text


def test_stale_fact_gets_a_caveat_with_where_to_check(proc) -> None:
    text = proc.answer_text("time", DAY)  # checked 02/01/2026: 334 days > 180
    assert "kiểm tra lần cuối ngày 02/01/2026, đã hơn 180 ngày" in text and "dichvucong.gov.vn" in text
    assert "kiểm tra ngày 02/01/2026." in proc.answer_text("time", DAY, max_age_days=400)


def test_unverified_fact_says_so(proc) -> None:
    text = proc.answer_text("body", DAY)
    assert "chưa được đối chiếu lại" in text and "UBND xã" in text


def test_a_text_rule_out_of_its_period_says_so(tmp_path) -> None:
    text = PROCEDURE.replace("  body: {source: 68/2020/QH14, verified: null}",
                             "  body: {source: 68/2020/QH14, verified: 2026-11-30, valid_from: 2026-03-15, valid_to: 2026-11-30}")
    p = load_catalogue_uncached(_write(tmp_path, text)).get("thu-tuc-mau")
    assert "chỉ áp dụng đến hết 30/11/2026" in p.answer_text("body", DAY)
    assert "áp dụng từ 15/3/2026" in p.answer_text("body", date(2026, 3, 1))
    assert "áp dụng" not in p.answer_text("body", date(2026, 6, 1))


def test_missing_provenance_is_unsourced_and_said(proc) -> None:
    text = proc.answer_text("documents", DAY)
    assert "chưa có nguồn được ghi nhận" in text


# ---------------------------------------------------------------------- citizen deadlines
def test_citizen_deadline_is_its_own_field_not_the_processing_time(proc) -> None:
    text = proc.answer_text("citizen_deadline", DAY)
    assert "Trong thời hạn 30 ngày kể từ ngày chuyển đến" in text and "khác với thời hạn cơ quan" in text
    assert "03 ngày làm việc" not in text and "(Nguồn: Luật Cư trú 68/2020/QH14, Điều 99 — kiểm tra ngày 30/11/2026)" in text
    assert "30 ngày" not in proc.answer_text("time", DAY)


def test_shipped_citizen_deadlines() -> None:
    cat = load_catalogue()
    assert "15 ngày kể từ ngày có người chết" in cat.get("dang-ky-khai-tu").answer_text("citizen_deadline", DAY)
    assert "60 ngày kể từ ngày sinh" in cat.get("dang-ky-khai-sinh").answer_text("citizen_deadline", DAY)
    lt = cat.get("thong-bao-luu-tru")
    assert "23 giờ" in lt.answer_text("citizen_deadline", DAY) and "23 giờ" not in lt.field_text("time")
    tt = cat.get("dang-ky-thuong-tru").answer_text("citizen_deadline", DAY)
    assert "12 tháng" in tt and "60 ngày kể từ ngày trẻ được đăng ký khai sinh" in tt
    before = cat.get("dang-ky-thuong-tru").answer_text("citizen_deadline", date(2026, 3, 1))
    assert "60 ngày kể từ ngày trẻ" not in before  # in force from 1/7/2026, more than 60 days away
    assert "Từ 1/7/2026" in cat.get("dang-ky-thuong-tru").answer_text("citizen_deadline", date(2026, 6, 1))
    assert "07 ngày" in cat.get("xoa-dang-ky-thuong-tru").answer_text("citizen_deadline", DAY)


def test_corrected_facts() -> None:
    cat = load_catalogue()
    fee = cat.get("gia-han-tam-tru").answer_text("fee", DAY)
    assert "15.000 đồng/lần khi nộp trực tiếp; 7.000 đồng/lần khi nộp trực tuyến" in fee
    assert "kiểm tra ngày 02/12/2026" in fee
    assert "05 ngày làm việc" in cat.get("tach-ho").field_text("time")
    assert "0,5 ngày làm việc" in cat.get("xac-nhan-thong-tin-cu-tru").field_text("time")
    assert cat.find_by_name("căn cước bị hỏng")[0].id == "cap-lai-the-can-cuoc"
    cc = cat.get("cap-doi-the-can-cuoc").answer_text("fee", DAY)
    assert "chưa xác định chắc chắn" in cc and "Từ 1/1/2027" in cc


# ---------------------------------------------------------------------- lexicon and audit
def test_field_lexicon_routes_deadline_phrases_and_rejects_unknown_fields(tmp_path) -> None:
    lex = field_lexicon()
    assert lex["citizen_deadline"].asked("dang ky khai tu trong bao lau")
    assert not lex["citizen_deadline"].asked("lam can cuoc trong bao lau thi co ket qua")
    bad = tmp_path / "fields.yaml"
    bad.write_text("citizen_deadline:\n  phrases: [han chot]\nthoi_gian:\n  phrases: [x]\n", encoding="utf-8")
    with pytest.raises(KnowledgeError, match=r"fields\.yaml:3: unknown field 'thoi_gian'"):
        field_lexicon(bad)


def test_audit_counts_states_and_expired_periods(proc) -> None:
    report = audit_catalogue(Catalogue([proc]), date(2027, 2, 1))
    c = report.counts
    assert c["facts"] == len(proc.fact_items()) and c["expired"] == 1  # the old fee ended 14/1/2027
    assert c["stale"] == 1 and c["verified"] == 3 and c["unsourced"] >= 5


def test_audit_command_lists_problems_and_strict_exit_code(tmp_path) -> None:
    from typer.testing import CliRunner

    from knowledge.tthc_cli import app

    runner = CliRunner()
    d = _write(tmp_path)
    out = runner.invoke(app, ["audit", "--dir", str(d), "--today", "2027-02-01"])
    assert out.exit_code == 0, out.output
    assert "thu-tuc-mau\ttime\tThời hạn giải quyết\txác minh đã lâu (02/01/2026)" in out.output
    assert "Lệ phí cũ\tđã xác minh" not in out.output and "hết hiệu lực" in out.output
    assert "chưa có nguồn" in out.output
    strict = runner.invoke(app, ["audit", "--dir", str(d), "--today", "2027-02-01", "--strict"])
    assert strict.exit_code == 1
    shipped = runner.invoke(app, ["audit", "--today", "2026-12-02", "--strict", "--json"])
    assert shipped.exit_code == 0, shipped.output
    counts = json.loads(shipped.stdout)["counts"]
    assert counts["unsourced"] == 0 and counts["facts"] == counts["verified"] + counts["unverified"] + counts["stale"]
