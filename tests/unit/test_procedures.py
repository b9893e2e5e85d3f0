"""The TTHC catalogue: real content checks, loader validation and the retrieval units built from it."""
from __future__ import annotations

import re
from datetime import date
from pathlib import Path

import pytest

from knowledge.errors import KnowledgeError
from knowledge.procedures import (
    FIELDS,
    Procedure,
    fold,
    load_catalogue,
    load_catalogue_uncached,
    procedure_units,
)

TTHC = Path(__file__).resolve().parents[2] / "knowledge" / "tthc"


@pytest.fixture(scope="module")
def cat():
    return load_catalogue()


def test_catalogue_has_at_least_40_procedures_over_all_domains(cat) -> None:
    assert len(cat) >= 40
    assert {p.domain for p in cat} >= {"ho_tich", "chung_thuc", "cu_tru", "can_cuoc", "dat_dai", "xay_dung",
                                       "kinh_doanh", "bao_tro_xa_hoi"}
    assert len(list(TTHC.glob("*.yaml"))) == len(cat)


def test_every_entry_has_legal_basis_review_date_and_source(cat) -> None:
    for p in cat:
        assert p.legal_basis, p.id
        assert all(re.search(r"\d+/\d{4}/", d.number) for d in p.legal_basis), p.id
        assert isinstance(p.last_reviewed, date) and p.last_reviewed >= date(2025, 7, 1), p.id
        assert len(p.source) > 10, p.id


def test_every_entry_states_post_reform_body_without_district(cat) -> None:
    for p in cat:
        assert p.level in {"xa", "tinh", "trung_uong"}
        assert "huyện" not in p.body.lower(), p.id
        assert f"(từ {p.body_since})" in p.field_text("body")  # 1/7/2025 unless the body changed on another day
        if p.previous_rule:
            # either the old rule is spelled out, or the entry says explicitly that nothing changed
            assert p.previous_rule.startswith(("Trước", "Không thay đổi", "Sổ hộ khẩu")), p.id


def test_birth_registration_lists_declaration_and_birth_certificate(cat) -> None:
    p = cat.get("1.001193")
    assert p is not None and p.id == "dang-ky-khai-sinh"
    docs = p.field_text("documents")
    assert "Tờ khai đăng ký khai sinh" in docs
    assert "Giấy chứng sinh" in docs
    assert "người làm chứng" in docs  # the substitute when there is no giấy chứng sinh
    assert "Miễn lệ phí" in p.field_text("fee")
    assert "ngay trong ngày" in p.field_text("time")
    assert p.online.mode == "toan_trinh"


def test_certifying_a_copy_costs_2000_dong_per_page(cat) -> None:
    p = cat.get("chung-thuc-ban-sao-tu-ban-chinh")
    fee = p.field_text("fee")
    assert "2.000 đồng/trang" in fee
    assert "1.000 đồng/trang" in fee and "200.000 đồng/bản" in fee
    assert p.fees[0].amount_vnd == 2000
    assert p.citation("fee")["locator"] == "Lệ phí — Thông tư 226/2016/TT-BTC"


def test_key_facts_of_common_procedures(cat) -> None:
    assert "05 ngày làm việc" in cat.get("1.000894").field_text("time")  # kết hôn: verification case
    assert "Giấy báo tử" in cat.get("1.000656").field_text("documents")  # khai tử
    assert "07 ngày làm việc" in cat.get("dang-ky-thuong-tru").field_text("time")
    assert "03 ngày làm việc" in cat.get("dang-ky-tam-tru").field_text("time")
    assert "10.000 đồng/trường hợp" in cat.get("chung-thuc-chu-ky").field_text("fee")
    assert "HĐND tỉnh" in cat.get("dang-ky-ho-kinh-doanh").field_text("fee")
    assert "15 ngày" in cat.get("giay-phep-xay-dung-nha-o-rieng-le").field_text("time")


def test_fees_set_by_province_say_so(cat) -> None:
    for p in cat:
        for f in p.fees:
            if f.set_by_province:
                assert "HĐND" in f.amount or "HĐND" in p.field_text("fee"), (p.id, f.name)


def test_every_field_renders_nonempty_vietnamese_and_cites(cat) -> None:
    for p in cat:
        for f in FIELDS:
            text = p.field_text(f)
            assert len(text) > 10, (p.id, f)
            assert "**" not in text and "<" not in text
            c = p.citation(f)
            assert c["source"] == p.key and c["title"] == p.name and " — " in c["locator"]
    with pytest.raises(KeyError):
        cat.procedures[0].field_text("nonsense")


def test_get_by_code_slug_and_unit_id(cat) -> None:
    assert cat.get("1.001193") is cat.get("dang-ky-khai-sinh") is cat.get("tthc:1.001193#fee")
    assert cat.get("khong-co") is None


@pytest.mark.parametrize(("query", "expected"), [
    ("lam giay khai sinh can giay to gi", "dang-ky-khai-sinh"),
    ("đăng ký hộ khẩu", "dang-ky-thuong-tru"),
    ("lam so do o dau", "dang-ky-cap-so-do-lan-dau"),
    ("dk tam tru online dc ko", "dang-ky-tam-tru"),
    ("làm sổ hộ kinh doanh", "dang-ky-ho-kinh-doanh"),
    ("làm căn cước", "cap-the-can-cuoc"),
    ("mat cccd", "cap-lai-the-can-cuoc"),
    ("sao y bản chính", "chung-thuc-ban-sao-tu-ban-chinh"),
])
def test_find_by_name_understands_colloquial_names(cat, query: str, expected: str) -> None:
    found = cat.find_by_name(query)
    assert found and found[0].id == expected, [p.id for p in found]


def test_fold_removes_accents_and_expands_abbreviations() -> None:
    assert fold("Đăng ký TẠM TRÚ") == "dang ky tam tru"
    assert fold("dk cccd") == "dang ky can cuoc"


def test_units_one_per_field_with_stable_ids(cat) -> None:
    units = procedure_units(cat)
    assert len(units) == len(cat) * len(FIELDS)
    assert len({u.id for u in units}) == len(units)
    fee = next(u for u in units if u.id == "tthc:1.001193#fee")
    assert fee.kind == "tthc_field" and fee.source == "1.001193" and fee.locator == "Lệ phí"
    assert fee.text == cat.get("1.001193").field_text("fee")
    assert "làm giấy khai sinh" in fee.context and "tốn bao nhiêu tiền" in fee.context
    assert fee.meta == {"procedure": "1.001193", "field": "fee", "level": "xa", "domain": "ho_tich",
                        "code": "1.001193"}
    slug_unit = next(u for u in units if u.id.startswith("tthc:dang-ky-cap-so-do-lan-dau#"))
    assert slug_unit.source == "dang-ky-cap-so-do-lan-dau"


def _write(tmp_path: Path, name: str, text: str) -> Path:
    d = tmp_path / "tthc"
    d.mkdir(exist_ok=True)
    (d / name).write_text(text, encoding="utf-8")
    return d


def _valid_yaml() -> str:
    return (TTHC / "chung-thuc-chu-ky.yaml").read_text(encoding="utf-8")


def test_loader_error_names_file_and_field(tmp_path: Path) -> None:
    d = _write(tmp_path, "chung-thuc-chu-ky.yaml", _valid_yaml().replace("last_reviewed: 2026-11-23\n", ""))
    with pytest.raises(KnowledgeError, match=r"chung-thuc-chu-ky\.yaml.*last_reviewed"):
        load_catalogue_uncached(d)


def test_loader_rejects_missing_legal_basis_and_district_body(tmp_path: Path) -> None:
    text = re.sub(r"legal_basis:\n(  - .*\n(    .*\n)*)+", "legal_basis: []\n", _valid_yaml())
    d = _write(tmp_path, "chung-thuc-chu-ky.yaml", text)
    with pytest.raises(KnowledgeError, match=r"chung-thuc-chu-ky\.yaml.*legal_basis"):
        load_catalogue_uncached(d)
    text = _valid_yaml().replace("body: Ủy ban nhân dân cấp xã;", "body: Phòng Tư pháp cấp huyện;")
    d = _write(tmp_path, "chung-thuc-chu-ky.yaml", text)
    with pytest.raises(KnowledgeError, match="cấp huyện"):
        load_catalogue_uncached(d)


def test_loader_rejects_bad_yaml_and_id_mismatch(tmp_path: Path) -> None:
    d = _write(tmp_path, "broken.yaml", "id: [unclosed\n")
    with pytest.raises(KnowledgeError, match=r"broken\.yaml"):
        load_catalogue_uncached(d)
    (d / "broken.yaml").unlink()
    _write(tmp_path, "other-name.yaml", _valid_yaml())
    with pytest.raises(KnowledgeError, match=r"other-name\.yaml.*'id'"):
        load_catalogue_uncached(d)


def test_load_catalogue_is_cached() -> None:
    assert load_catalogue() is load_catalogue()
    assert isinstance(load_catalogue().procedures[0], Procedure)


def test_cli_show_and_search(tmp_path: Path, monkeypatch) -> None:
    from typer.testing import CliRunner

    from knowledge.tthc_cli import app
    from settings import get_settings

    monkeypatch.setenv("INDEX_DIR", str(tmp_path / "index"))  # BM25 cache stays out of var/
    get_settings.cache_clear()
    runner = CliRunner()
    shown = runner.invoke(app, ["show", "làm giấy khai sinh"])
    assert shown.exit_code == 0, shown.output
    assert "Giấy chứng sinh" in shown.output and "Căn cứ pháp lý" in shown.output
    found = runner.invoke(app, ["search", "lam so do o dau", "--json", "-n", "3"])
    assert found.exit_code == 0, found.output
    import json

    assert json.loads(found.stdout)[0]["key"] == "dang-ky-cap-so-do-lan-dau"  # logs go to stderr
    assert runner.invoke(app, ["show", "không có thủ tục này xyz"]).exit_code == 1
    get_settings.cache_clear()


def test_eval_questions_expect_facts_present_in_the_catalogue(cat) -> None:
    """Every expected string of tests/data/eval/tthc.jsonl is in the field text the bot replies with."""
    import json

    path = Path(__file__).resolve().parents[1] / "data" / "eval" / "tthc.jsonl"
    cases = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    assert len(cases) >= 70 and len({c["id"] for c in cases}) == len(cases)
    assert {c["field"] for c in cases} >= {"documents", "time", "fee", "place", "online"}
    for c in cases:
        assert c["kind"] == "tthc" and c["q"] and ("any" in c or "all" in c)
        text = fold(cat.get(c["procedure"]).field_text(c["field"]))
        assert all(fold(x) in text for x in c.get("all", [])), c["id"]
        assert "any" not in c or any(fold(x) in text for x in c["any"]), c["id"]


def test_every_overview_names_what_to_bring(cat) -> None:
    """A procedure with nothing to hand in (the card data is in the national database) once said
    "Hồ sơ chính: ." — now it says what is shown instead."""
    for p in cat:
        text = p.field_text("overview")
        assert "Hồ sơ chính: ." not in text and ": ." not in text, p.id


def test_the_body_says_since_when_it_holds_the_procedure() -> None:
    """Driving licences moved to the Police on 1/3/2025, not with the reform of 1/7/2025."""
    from knowledge.procedures import Procedure, load_catalogue

    catalogue = load_catalogue()
    assert catalogue.get("doi-giay-phep-lai-xe").field_text("body").startswith("Cơ quan thực hiện (từ 1/3/2025)")
    assert catalogue.get("cap-the-can-cuoc").field_text("body").startswith("Cơ quan thực hiện (từ 1/7/2025)")
    raw = catalogue.get("cap-the-can-cuoc").model_dump()
    with pytest.raises(ValueError):
        Procedure.model_validate({**raw, "body_since": "tháng 3/2025"})
