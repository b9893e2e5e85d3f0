"""The one Vietnamese text layer: every package folds the same way, and shorthand is data."""
from __future__ import annotations

import importlib
import pathlib

import pytest

from vntext import fold, fold_words, has_diacritics, slugify, tokens

ROOT = pathlib.Path(__file__).resolve().parents[2]


def test_fold_keeps_punctuation_and_collapses_spacing() -> None:
    assert fold("  Kế hoạch  số 3989/KH-UBND\tngày 30/6 ") == "ke hoach so 3989/kh-ubnd ngay 30/6"
    assert fold("Đường") == "duong"
    assert fold("Kho\u0301a") == fold("Khóa") == "khoa"  # decomposed accents as phones send them


def test_fold_words_drops_punctuation() -> None:
    assert fold_words("Tổ 5, KP.3 – phường Tân Ninh!") == "to 5 kp 3 phuong tan ninh"
    assert tokens("Xã Hiệp Tân") == ["xa", "hiep", "tan"]
    assert slugify("Tây Ninh") == "tay-ninh"


def test_has_diacritics() -> None:
    assert has_diacritics("đăng ký") and has_diacritics("Đ")
    assert not has_diacritics("dang ky  khai sinh")


@pytest.mark.parametrize("module", ["knowledge.plans", "retrieval.normalize", "pakn", "bot.text"])
def test_no_package_defines_its_own_fold(module: str) -> None:
    """Five fold functions drifted apart once; each package now imports the one in vntext."""
    mod = importlib.import_module(module)
    own = getattr(mod, "fold", None)
    assert own is None or own is fold


def test_no_source_file_strips_accents_by_hand() -> None:
    """Accent stripping (NFD + dropping marks) is written once, in vntext."""
    offenders = []
    for path in ROOT.glob("*/**/*.py"):
        rel = path.relative_to(ROOT).as_posix()
        if rel.startswith((".venv/", "vntext/", "tests/", "docs/")):
            continue
        if 'normalize("NFD"' in path.read_text(encoding="utf-8"):
            offenders.append(rel)
    assert offenders == []


def test_procedure_shorthand_comes_from_the_lexicon(tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A new abbreviation is a data change: adding it to the lexicon file makes procedure matching
    spell it out, without touching code."""
    from knowledge import procedures
    from retrieval import normalize

    shipped = normalize.LEXICON_PATH.read_text(encoding="utf-8")
    assert procedures.fold("dk gks") == "dang ky giay khai sinh"
    assert procedures.fold("the bi hong") == "the bi hong"  # "hông" (= không) is matched accented only
    assert procedures.fold("gplx") == "gplx"
    extra = tmp_path / "abbreviations.yaml"
    extra.write_text(shipped + "  - canonical: giấy phép lái xe\n    variants: [gplx]\n    scope: query\n",
                     encoding="utf-8")
    monkeypatch.setattr(normalize, "LEXICON_PATH", extra)
    monkeypatch.setattr(normalize.lexicon_entries, "__defaults__", (extra,))
    procedures._shorthand.cache_clear()
    procedures.fold.cache_clear()
    try:
        assert procedures.fold("doi gplx") == "doi giay phep lai xe"
    finally:
        procedures._shorthand.cache_clear()
        procedures.fold.cache_clear()


def test_accent_free_hong_is_not_read_as_khong() -> None:
    """"bi hong" typed without accents is "bị hỏng" (damaged), never "bị không"."""
    from retrieval.normalize import normalize

    assert "khong" not in fold(normalize("the can cuoc bi hong thi lam sao", query=True))
    assert "không" in normalize("co dc hông", query=True)


@pytest.mark.parametrize("word,expected", [
    ("xong", True), ("nguyen", True), ("khuyen", True), ("nghe", True), ("quy", True),
    ("ko", False), ("dc", False), ("ubnd", False), ("cccd", False), ("j", False), ("kh", False), ("ka", False),
])
def test_is_syllable_tells_words_from_shorthand(word: str, expected: bool) -> None:
    from vntext import is_syllable

    assert is_syllable(word) is expected


def test_a_synonym_that_is_a_word_is_not_spelled_out_in_procedure_matching() -> None:
    """"xong" is a synonym of "hoàn thành" for search, but "bao lâu thì xong" must keep its word."""
    from knowledge import procedures

    assert procedures.fold("bao lau thi xong") == "bao lau thi xong"
