"""Is the evidence really about what was asked? The check that keeps the bot from answering
"how many staff does Sở Nội vụ have" with a sentence that merely shares some words.

The question's *focus terms* are its content words that are rare in the knowledge base (or not
in it at all): "nhân viên", "lương", "giám đốc", "tỷ đồng". An answer is given only when the
evidence holds most of the question's weight (IDF-weighted coverage) and every strongly
informative term that the knowledge base knows of; a question built on words the knowledge base
has never seen is a question it cannot answer.
"""
from __future__ import annotations

import math
import re
import threading
from collections import Counter
from dataclasses import dataclass

from bot.text import terms

# Words that only shape a question; they need not appear in the evidence.
QUESTION_TERMS = frozenset(
    ["nhiem", "vu", "ke", "hoach", "nam", "tinh", "thanh", "pho", "thi", "xa", "huyen", "gian", "thoi", "hoan", "han", "co", "quan", "nao", "gi", "ai", "so", "may", "cchc", "cai", "cach", "hanh", "chinh", "ubnd", "ngay", "thang", "vao", "lam", "phai", "duoc", "giao", "tren", "dia", "ban", "cua", "theo", "thuc", "hien", "nhung", "cac", "tthc", "noi", "dung", "quy", "dinh", "van", "ban", "bao", "gom", "gom", "tai", "sao", "vi", "ly", "do", "the", "nao", "ra", "sao", "hien", "nay", "hom", "nay", "lay", "tu", "dau", "gi"])

# State documents "766/QĐ-TTg", "07/2016/QĐ-UBND"; Party documents "51-CTr/TU", "10-NQ/TW" (folded).
_DOCNUM = re.compile(r"\d+\s*/\s*(\d{4}/)?[a-z]{1,5}(-[a-z]{1,6})+|\b\d+\s*-\s*[a-z]{1,6}\s*/\s*[a-z]{1,6}\b")
# A web address, an e-mail address, or a street address ("số 83 đường Phạm Tung").
_ADDRESS = re.compile(r"https?://|\bwww\.|\b[a-z0-9-]+(\.[a-z0-9-]+)*\.(gov\.vn|vn|com|org|net)\b|@[a-z0-9-]+\.|"
                      r"\bso \d+[a-z]?\b.{0,40}\b(duong|pho|khu pho|ap|to)\b")
ASKS_ADDRESS = re.compile(r"\b(dia chi|website|trang web|trang thong tin dien tu|email|thu dien tu)\b")
# When something happens: a quarter, a month, a date, or a recurring period.
_PERIOD = re.compile(r"\bquy (i|ii|iii|iv|1|2|3|4)\b|\bthang \d{1,2}\b|\b\d{1,2}/\d{4}\b|\b\d{1,2}/\d{1,2}\b|"
                     r"\b(hang|moi) (ngay|tuan|thang|quy|nam)\b|\bdinh ky\b|\b(6|sau) thang\b|\bcuoi nam\b|"
                     r"\bthuong xuyen\b|\b(ca|trong) nam\b|\btruoc ngay \d")
ASKS_WHEN = re.compile(r"\b(ky nao|nhung ky nao|khi nao|luc nao|bao gio|thoi diem nao|thoi gian nao|dinh ky the nao|"
                       r"thoi han|han (chot|cuoi|hoan thanh))\b")
_DATE = re.compile(r"\b\d{1,2}/\d{1,2}(/\d{2,4})?\b")
_YEAR = re.compile(r"\b(19|20)\d\d\b")
ASKS_DOCNUM = re.compile(r"\b(so may|so bao nhieu|so hieu|(ke hoach|quyet dinh|nghi quyet|van ban|thong tu|nghi dinh) "
                         r"(so|nao)|theo (ke hoach|quyet dinh|van ban) nao)\b")
ASKS_COUNT = re.compile(r"\b(bao nhieu|may (nguoi|lop|phan|nhiem vu|don vi|xa|lan|diem|ty|trieu)|phan tram|xep hang|"
                        r"xep thu)\b")
_TITLES = r"(truong phong|giam doc|chu tich|pho chu tich|bi thu|truong ban|chanh van phong|pho giam doc)"
ASKS_PERSON = re.compile(r"\b(ten|ho ten)\b.{0,30}\b" + _TITLES + r"\b|"
                         r"\bai (la|dang la|hien la) (truong|giam doc|chu tich|pho|bi thu)|"
                         r"\b" + _TITLES + r"\b.{0,50}\b(ten (gi|la gi)|ten la|la ai|ho ten)\b")


def asks_when_or_where(question_folded: str) -> bool:
    """A question for a deadline/period or an address: kinds of fact that few passages state, so a
    passage stating one is the better answer between two that cover the question alike."""
    return bool(ASKS_WHEN.search(question_folded) or ASKS_ADDRESS.search(question_folded))


def answer_type_wanted(question_folded: str):
    """A predicate telling whether a (folded) sentence holds the kind of fact asked for, or None."""
    if ASKS_DOCNUM.search(question_folded):
        return lambda text: bool(_DOCNUM.search(text))
    if ASKS_COUNT.search(question_folded):
        return lambda text: bool(_QUANTITY.search(_YEAR.sub(" ", _DATE.sub(" ", _DOCNUM.sub(" ", text)))))
    if re.search(r"\b(ngay nao|truoc ngay|han cuoi|den ngay)\b", question_folded):
        return lambda text: bool(_DATE.search(text))
    if ASKS_ADDRESS.search(question_folded):
        return lambda text: bool(_ADDRESS.search(text))
    if ASKS_WHEN.search(question_folded):
        return lambda text: bool(_PERIOD.search(text))
    return None


def answer_type_missing(question_folded: str, evidence_folded: str) -> str | None:
    """The kind of fact the question asks for, when the evidence holds none of that kind.

    "kế hoạch số mấy" needs a document number, "bao nhiêu" a quantity that is not a date, a
    year or a document number, "địa chỉ" a web, e-mail or street address; a person's name is
    never in the plans' text.
    """
    if ASKS_PERSON.search(question_folded):
        return "person"
    if ASKS_DOCNUM.search(question_folded):
        return None if _DOCNUM.search(evidence_folded) else "document number"
    if ASKS_COUNT.search(question_folded):
        bare = _YEAR.sub(" ", _DATE.sub(" ", _DOCNUM.sub(" ", evidence_folded)))
        return None if _QUANTITY.search(bare) else "quantity"
    if ASKS_ADDRESS.search(question_folded):
        return None if _ADDRESS.search(evidence_folded) else "address"
    return None


# A quantity is a number with a unit or a percentage, or a number after a target word
# ("đạt 90%", "01 lớp/năm", "giảm 10% biên chế", "2.000 đồng"); not a date or a task number.
_QUANTITY = re.compile(
    r"\d+([.,]\d+)*\s*(%|(phan tram|nguoi|lop|don vi|nhiem vu|xa|phuong|ty|trieu|nghin|dong|ngay|thang|diem|"
    r"ho so|lan|ban|muc|cuoc|chi tieu|co quan|trang|buoi|doan)\b)|\b(dat|toi thieu|toi da|it nhat|giam|tang|"
    r"khong qua|tren|duoi)\s+\d")


@dataclass
class Verdict:
    coverage: float
    missing_focus: list[str]

    def ok(self, min_coverage: float) -> bool:
        return self.coverage >= min_coverage and not self.missing_focus


# A term in at most this many units is rare: a question naming it must find it in the evidence. A
# count, not a share of the units: the catalogue grows (42 → 99 procedures in a day), and a share
# made words rarer, and answers silent, each time procedures were added. 13 is 1% of the units the
# rule was set on (plans + 42 procedures).
RARE_DF = 13


class EvidenceCheck:
    """IDF statistics over every retrieval unit, computed once."""

    def __init__(self, texts: list[str]) -> None:
        self.n = max(len(texts), 1)
        self.df: Counter[str] = Counter()
        for text in texts:
            self.df.update(set(terms(text)))

    def idf(self, term: str) -> float:
        return math.log((self.n + 1) / (self.df.get(term, 0) + 0.5))

    def judge(self, question: str, evidence: str, *, ignore: set[str] | None = None) -> Verdict:
        """IDF-weighted share of the question's content found in the evidence, and rare terms missing."""
        from retrieval.normalize import normalize

        ignore = ignore or set()
        expanded = normalize(question, query=True)  # "CĐS" → "chuyển đổi số", "TP" → "thành phố"
        q = [t for t in dict.fromkeys(terms(expanded)) if t not in QUESTION_TERMS and t not in ignore]
        if not q:
            return Verdict(1.0, [])
        ev = set(terms(evidence))
        if "%" in evidence:
            ev |= {"phan", "tram"}  # "bao nhiêu phần trăm" is answered by a figure with %, not by the words
        # Words the knowledge base has never seen weigh nothing here; the rule below judges them.
        weights = {t: self.idf(t) for t in q if self.df.get(t, 0) > 0}
        total = sum(weights.values())
        found = sum(w for t, w in weights.items() if t in ev)
        # A term the knowledge base has never seen can't be answered from it, unless it is a
        # one-off (typo, name) in an otherwise well-covered question.
        unseen = [t for t in q if self.df.get(t, 0) == 0 and not t.isdigit()]
        rare_missing = [t for t in q if t not in ev and 0 < self.df.get(t, 0) <= RARE_DF]
        missing = rare_missing + (unseen if len(unseen) >= 2 or len(unseen) == len(q) else [])
        return Verdict(found / total if total else 1.0, missing)


_lock = threading.Lock()
_check: EvidenceCheck | None = None


def evidence_check() -> EvidenceCheck:
    global _check
    if _check is None:
        with _lock:
            if _check is None:
                from retrieval.sources import all_units

                _check = EvidenceCheck([f"{u.title} {u.text} {u.context}" for u in all_units()])
    return _check
