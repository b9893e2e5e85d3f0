"""Typo mending against the knowledge base's words (bot/spelling.py)."""
from __future__ import annotations

import uuid

import pytest

from bot.spelling import _SYLLABLE, Speller, speller

TEXTS = ["đăng ký thường trú", "đăng ký tạm trú", "giấy xác nhận cư trú", "đăng ký khai sinh"] * 5


@pytest.fixture(scope="module")
def small() -> Speller:
    from vntext import fold

    return Speller([fold(t) for t in TEXTS], protected={"cchc"})


@pytest.mark.parametrize(("typed", "meant"), [
    ("phi dag ky thuong chu bn", "phi dang ky thuong tru bn"),   # impossible syllable + ch/tr pair
    ("dang ky khai sihn", "dang ky khai sinh"),                  # swapped letters
    ("dang ky thuongf tru", "dang ky thuong tru"),               # an extra key
    ("giay sac nhan cu tru", "giay xac nhan cu tru"),            # s/x
])
def test_typos_are_mended(small: Speller, typed: str, meant: str) -> None:
    assert small.correct(typed) == meant


@pytest.mark.parametrize("text", [
    "qua dem co phai bao cong an ko",   # "đêm" is a real syllable the corpus lacks: kept
    "lam ntn, phi bn, dc ko",           # shorthand: kept
    "bao cao quy i/2024",               # punctuation and numbers kept verbatim
    "cchc 2024",
])
def test_real_words_shorthand_and_punctuation_are_kept(small: Speller, text: str) -> None:
    assert small.correct(text) == text


def test_the_shipped_speller_leaves_the_evaluation_questions_alone() -> None:
    import json
    from pathlib import Path

    from vntext import fold

    questions = []
    for path in sorted(Path(__file__).resolve().parents[1].glob("data/eval/*.jsonl")):
        for line in path.read_text(encoding="utf-8").splitlines():
            if line.strip():
                case = json.loads(line)
                questions += case.get("turns") or [case.get("q") or ""]
    s = speller()
    changed = []
    for q in questions:
        before, after = fold(q).split(), s.correct(fold(q)).split()
        changed += [(a, b) for a, b in zip(before, after) if a != b and _SYLLABLE.match(a)]
    # Correctly spelt Vietnamese is never rewritten (English words in injection attempts may be).
    assert not changed, changed


def test_chat_answers_through_two_typos(store_engine) -> None:
    from bot.service import ChatService
    from bot.types import InboundMessage

    r = ChatService(engine=store_engine).handle(InboundMessage(channel="test", user_id=uuid.uuid4().hex, text="phí đăg ký thường chú bn"))
    assert r.intent == "procedure" and "thường trú" in r.reply and "20.000 đồng" in r.reply
