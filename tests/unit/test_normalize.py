"""Normalisation: what a citizen types and what a plan says must meet in the same tokens."""
from __future__ import annotations

import unicodedata
from pathlib import Path

import pytest

from retrieval.normalize import (
    LexiconError,
    default_lexicon,
    index_terms,
    load_lexicon,
    loose_key,
    normalize,
    normalize_tokens,
)
from vntext import fold, has_diacritics


def test_fold_removes_accents_and_d_stroke() -> None:
    assert fold("Đường Hồ Chí Minh") == "duong ho chi minh"
    assert fold("ĐỒNG Ý") == "dong y"
    assert not has_diacritics("thu tuc hanh chinh")
    assert has_diacritics("thủ tục")


def test_decomposed_unicode_equals_composed() -> None:
    decomposed = unicodedata.normalize("NFD", "Cải cách hành chính")
    assert normalize(decomposed) == normalize("Cải cách hành chính")


def test_old_and_new_tone_placement_agree() -> None:
    assert normalize("hoá đơn thuỷ lợi") == normalize("hóa đơn thủy lợi")
    assert normalize("quý") == "quý"  # "qu" + "ý" is not old-style placement


@pytest.mark.parametrize("short, full", [
    ("CCHC", "cải cách hành chính"),
    ("TTHC", "thủ tục hành chính"),
    ("UBND", "Ủy ban nhân dân"),
    ("HĐND", "hội đồng nhân dân"),
    ("hdnd", "Hội đồng nhân dân"),
    ("PAKN", "phản ánh kiến nghị"),
    ("DVCTT", "dịch vụ công trực tuyến"),
    ("dvc", "dịch vụ công"),
    ("CBCCVC", "cán bộ công chức viên chức"),
    ("SNCL", "sự nghiệp công lập"),
    ("Sở TTTT", "Sở Thông tin và Truyền thông"),
    ("VP", "văn phòng"),
    ("TP Tây Ninh", "thành phố Tây Ninh"),
    ("TX Hoài Nhơn", "thị xã Hoài Nhơn"),
    ("sổ đỏ", "giấy chứng nhận quyền sử dụng đất"),
    ("hộ khẩu", "thường trú"),
    ("CMND", "căn cước"),
    ("CCCD", "căn cước"),
])
def test_abbreviations_meet_full_forms_in_both_directions(short: str, full: str) -> None:
    # Indexed text and query are rewritten alike, so either spelling on either side matches.
    assert normalize(short) == normalize(full)
    assert normalize(short, query=True) == normalize(full, query=True)
    assert fold(normalize(fold(full), query=True)) == fold(normalize(full, query=True))


def test_chat_shorthand_is_expanded_in_queries_only() -> None:
    assert normalize("ko dc", query=True) == "không được"
    assert normalize("k đc", query=True) == "không được"
    # Inside official text "k" is a list letter, not "không".
    assert normalize("k) Sở Nội vụ") == "k sở nội vụ"


def test_accent_free_variant_respects_folded_flag() -> None:
    # "so do" is also "sơ đồ" (diagram): only the accented "sổ đỏ" means the land certificate.
    assert "giấy" not in normalize("so do to chuc", query=True)
    assert normalize("sổ đỏ", query=True).startswith("giấy chứng nhận")


@pytest.mark.parametrize("form", ["quý 1", "Quý I", "q1", "Q1", "quy 1", "quý 01", "quý i"])
def test_quarter_forms(form: str) -> None:
    assert normalize(form, query=True) == "quý i"


def test_numbers_and_years() -> None:
    assert normalize("trong 05 ngày") == normalize("trong 5 ngày")
    assert normalize("Quý I/2021") == "quý i 2021"
    assert "2024" in normalize_tokens("năm 2024") and "2024" in normalize_tokens("2024")
    # "năm" is kept: it is part of a place name too.
    assert normalize("Ngã Năm 2024") == "ngã năm 2024"


def test_index_terms_cover_accented_folded_and_bigrams() -> None:
    terms = index_terms(normalize_tokens("Sở Nội vụ"))
    assert {"sở", "nội_vụ", "~so", "~noi_vu"} <= set(terms)
    assert index_terms(["a", "b"], accented=False) == ["~a", "~b", "~a_b"]


def test_loose_key_ignores_accents_case_and_spacing() -> None:
    assert loose_key("Quý  I/2021\n") == loose_key("quy i/2021")


def test_shipped_lexicon_validates() -> None:
    lex = default_lexicon()
    assert lex.max_len >= 2
    assert ("cchc",) in lex.accented


@pytest.mark.parametrize("body, reason", [
    ("entries:\n  - canonical: CCHC\n    variants: [x]\n", "lower case"),
    ("entries:\n  - canonical: cải cách\n    variants: []\n", "at least 1"),
    ("entries:\n  - canonical: a b\n    variants: [zz]\n  - canonical: c d\n    variants: [zz]\n", "maps to both"),
    ("entries:\n  - canonical: a b\n    variants: [zz]\n    scope: sometimes\n", "scope"),
    ("entries: [\n", "yaml"),
])
def test_malformed_lexicon_is_rejected(tmp_path: Path, body: str, reason: str) -> None:
    path = tmp_path / "abbreviations.yaml"
    path.write_text(body, encoding="utf-8")
    with pytest.raises(LexiconError) as exc:
        load_lexicon(path)
    assert reason.lower() in str(exc.value).lower() or reason == "yaml"


def test_custom_lexicon_is_used(tmp_path: Path) -> None:
    path = tmp_path / "abbreviations.yaml"
    path.write_text("entries:\n  - canonical: trung tâm phục vụ hành chính công\n    variants: [tt hcc]\n",
                    encoding="utf-8")
    lex = load_lexicon(path)
    assert normalize("TT HCC tỉnh", lexicon=lex) == "trung tâm phục vụ hành chính công tỉnh"


def test_i_and_y_after_a_consonant_are_one_spelling() -> None:
    from retrieval.normalize import raw_tokens

    assert raw_tokens("đăng kí kết hôn") == raw_tokens("đăng ký kết hôn")
    assert raw_tokens("lí lịch tư pháp") == raw_tokens("lý lịch tư pháp")
    assert raw_tokens("tuy nhiên") != raw_tokens("tui nhiên")  # after a vowel they differ
    assert raw_tokens("quý I/2024")[0] == "quý"  # the quarter word stays as the deadline parser reads it
