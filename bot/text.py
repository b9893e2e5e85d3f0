"""Small text helpers the bot needs on top of retrieval's normaliser: terms and sentences."""
from __future__ import annotations

import re

from vntext import fold, unify_i_y

# Function words that carry no content in a question; compared folded.
STOPWORDS = {"la", "gi", "the", "nao", "nhu", "bao", "nhieu", "khi", "o", "dau", "ai", "cai", "nhung", "cac", "mot", "cua", "cho", "voi", "va", "hay", "hoac", "thi", "ma", "sao", "duoc", "bi", "co", "khong", "ko", "k", "dc", "de", "den", "tu", "trong", "ngoai", "tren", "duoi", "ve", "theo", "tai", "vao", "ra", "len", "xuong", "nay", "do", "kia", "day", "roi", "nua", "lai", "cung", "van", "con", "se", "da", "dang", "can", "phai", "nen", "muon", "hoi", "xin", "cam", "on", "giup", "minh", "toi", "em", "anh", "chi", "ban", "oi", "a", "nhe", "nha", "vay", "u", "ha", "it", "het", "moi", "tung", "bang", "neu", "truoc", "sau"}


_QUARTER = re.compile(r"\bquy\s*(iv|iii|ii|i|[1-4])\b")
_QUARTER_NUM = {"i": "1", "ii": "2", "iii": "3", "iv": "4"}


def terms(text: str) -> list[str]:
    """Folded content syllables of `text` (stopwords and punctuation removed).

    "Quý I", "quy 1" and "Quý I/2024" all give the term "quy1", so quarters stay distinguishable.
    """
    folded = _QUARTER.sub(lambda m: " quy" + _QUARTER_NUM.get(m[1], m[1]) + " ", fold(text))
    return [unify_i_y(t) for t in re.findall(r"[a-z0-9]+", folded) if (t not in STOPWORDS and len(t) > 1) or t.isdigit()]


def sentences(text: str) -> list[str]:
    """Split a paragraph into sentences (on . ; and line breaks), keeping them readable."""
    parts = re.split(r"(?<=[.;!?])\s+(?=[A-ZĐÀ-Ỹ0-9\-])|\n+", text)
    return [p.strip() for p in parts if len(p.strip()) > 3]


def contains_folded(haystack: str, needle: str) -> bool:
    return fold(needle) in fold(haystack)
