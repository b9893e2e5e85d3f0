"""Is a petition a complaint or a denunciation? And may its words ever be shown publicly?

Why it matters: a denunciation follows Luật Tố cáo 2018 — its own office and deadlines, and the
denouncer's identity protected (Điều 47) — so it must never be published. A probe found the old
check (two regular expressions) missing real spellings: text in decomposed Unicode (some phone
keyboards send it), "tố giác", "tố-cáo", "tốcáo", a zero-width character inside, "khiéu nại".
Such a petition was routed as ordinary and, filed through Open311, listed publicly in full.

So the text is first put in one form — NFC, no invisible characters, separators read as spaces —
and the phrases (data: knowledge/pakn/complaints.yaml) are matched with optional spaces between
syllables. Text typed without any accent is matched folded ("to cao"). Accented text is not
matched folded for routing, because "cây to cao" (a tall tree) is not a denunciation; but for
*publication* the stricter `is_sensitive` applies: any folded match keeps the words private.
"""
from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import yaml

from vntext import fold_words, strip_diacritics

COMPLAINTS_FILE = Path(__file__).resolve().parent.parent / "knowledge" / "pakn" / "complaints.yaml"
KEYS = ("complaint", "denunciation", "bribery", "sensitive_folded")
_SEPARATORS = re.compile(r"[-_/.·•|~+*]+")


def normal_form(text: str) -> str:
    """NFC, lower case, no invisible (format) characters, separators as spaces."""
    text = unicodedata.normalize("NFC", text or "").lower()
    text = "".join(ch for ch in text if unicodedata.category(ch) != "Cf")
    return _SEPARATORS.sub(" ", text)


def _pattern(phrases: list[str]) -> re.Pattern[str]:
    """Phrases with any (or no) spacing between syllables, as whole words."""
    alts = [r"\s*".join(map(re.escape, p.split())) for p in phrases]
    return re.compile(r"(?<!\w)(" + "|".join(alts) + r")(?!\w)")


@dataclass(frozen=True)
class ComplaintWords:
    complaint: tuple[str, ...]
    denunciation: tuple[str, ...]
    bribery: tuple[str, ...]
    sensitive_folded: tuple[str, ...]

    @cached_property
    def _accented(self) -> tuple[re.Pattern[str], re.Pattern[str]]:
        return _pattern(list(self.complaint)), _pattern(list(self.denunciation + self.bribery))

    @cached_property
    def _folded(self) -> tuple[re.Pattern[str], re.Pattern[str], re.Pattern[str]]:
        def folded(phrases: tuple[str, ...]) -> list[str]:
            return [fold_words(p) for p in phrases]
        return (_pattern(folded(self.complaint)), _pattern(folded(self.denunciation + self.bribery)),
                _pattern(folded(self.complaint + self.denunciation + self.bribery) + list(self.sensitive_folded)))

    def detect(self, content: str) -> tuple[bool, bool]:
        """(is khiếu nại, is tố cáo) — routing and the law that applies."""
        text = normal_form(content)
        if strip_diacritics(text) != text:  # written with accents: match the accented phrases
            complaint, denunciation = self._accented
            return bool(complaint.search(text)), bool(denunciation.search(text))
        complaint, denunciation, _ = self._folded
        folded = fold_words(text)
        return bool(complaint.search(folded)), bool(denunciation.search(folded))

    def is_sensitive(self, content: str | None) -> bool:
        """Whether a petition's words must stay out of public views: any complaint, denunciation or
        bribery phrase in any spelling, accents or not."""
        if not content:
            return False
        return bool(self._folded[2].search(fold_words(normal_form(content))))


def load_complaint_words(path: Path = COMPLAINTS_FILE) -> ComplaintWords:
    """Read and check the phrase lists (a missing list or a non-text phrase names the file)."""
    data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    lists: dict[str, tuple[str, ...]] = {}
    for key in KEYS:
        items = data.get(key)
        if not isinstance(items, list) or not all(isinstance(p, str) and p.strip() for p in items):
            raise ValueError(f"{path}: '{key}' must be a list of phrases")
        lists[key] = tuple(p.strip() for p in items)
    return ComplaintWords(**lists)


_WORDS: list[ComplaintWords] = []


def complaint_words() -> ComplaintWords:
    """The shipped phrase lists, read once (an immutable value; tests pass their own instead)."""
    if not _WORDS:
        _WORDS.append(load_complaint_words())
    return _WORDS[0]
