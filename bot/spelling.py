"""Mend the typos people make on phone keyboards, against the words the knowledge base uses.

Two kinds are common and fixable without a language model:
* a syllable Vietnamese cannot have, one keystroke away from one the knowledge base uses often
  ("đăg" → "đăng", "khai sihn" → "khai sinh", "thươngf" → "thuong");
* a real syllable in a pair the knowledge base never writes, where a regional spelling confusion
  (ch/tr, s/x) gives a pair it writes often ("thường chú" → "thuong tru", "giấy sác nhận" →
  "giay xac nhan").

It works on the folded (accent-free) question and only changes a syllable when the evidence is
clear: the replacement must be frequent in the knowledge base and the original absent from it (or
its pair absent). Chat shorthand ("ko", "dc", "bn", "ad") and numbers are never touched. The
corrected text is used to search and judge evidence; a petition is always stored as written.
"""
from __future__ import annotations

import re
import string
import threading
from collections import Counter
from collections.abc import Iterable
from itertools import pairwise

from bot.understand import FILLER

MIN_LEN = 3        # shorter tokens are shorthand ("bn", "dc") more often than typos
MIN_COUNT = 5      # a correction must be a syllable (or pair) the knowledge base uses this often
# Only the confusions that rarely turn one common phrase into another: measured on the 440
# evaluation and probe questions, d/gi/r, l/n and final n/ng, c/t swaps rewrote correct phrases
# ("giảm bao nhiêu" → "đảm bảo", "đúng hạn năm" → "hằng năm", "nộp đơn" → "nộp đồng").
_SWAPS = [("ch", "tr"), ("tr", "ch"), ("s", "x"), ("x", "s")]


class Speller:
    """Syllable and syllable-pair counts over the knowledge base; `correct` mends a folded question."""

    def __init__(self, texts: Iterable[str], protected: Iterable[str] = ()) -> None:
        self.words: Counter[str] = Counter()
        self.pairs: Counter[str] = Counter()
        for text in texts:
            toks = _tokens(text)
            self.words.update(toks)
            self.pairs.update(f"{a} {b}" for a, b in pairwise(toks))
        self.protected = set(protected) | FILLER

    def correct(self, folded: str) -> str:
        """The question with its typos mended; everything else (punctuation, "I/2024") kept as is."""
        spans = [(m.start(), m.end()) for m in _TOKEN.finditer(folded)]
        toks = [folded[a:b] for a, b in spans]
        if not toks:
            return folded
        fixed = [self._word(t) for t in toks]
        for i in range(len(fixed) - 1):
            a, b = fixed[i], fixed[i + 1]
            if self.pairs.get(f"{a} {b}", 0) or a in self.protected or b in self.protected:
                continue
            best = max(((self.pairs.get(f"{x} {y}", 0), x, y) for x, y in
                        [(a, v) for v in _confusions(b)] + [(v, b) for v in _confusions(a)]), default=(0, a, b))
            if best[0] >= MIN_COUNT:
                fixed[i], fixed[i + 1] = best[1], best[2]
        out, last = [], 0
        for (start, end), new in zip(spans, fixed):
            out += [folded[last:start], new]
            last = end
        return "".join(out) + folded[last:]

    def _word(self, tok: str) -> str:
        if (len(tok) < MIN_LEN or not _VOWEL.search(tok) or tok.isdigit() or tok in self.protected
                or self.words.get(tok, 0) or _SYLLABLE.match(tok)):
            # Shorthand ("ntn", "bn") and real syllables the knowledge base happens not to use
            # ("đêm") stay; only a syllable Vietnamese cannot have ("dag", "sihn") is a typo.
            return tok
        best = max(((self.words.get(c, 0), c) for c in _edits(tok) | set(_confusions(tok))), default=(0, tok))
        return best[1] if best[0] >= MIN_COUNT else tok


_TOKEN = re.compile(r"[a-z0-9]+")
# A possible Vietnamese syllable, folded: optional onset, one to three vowels, optional final.
_SYLLABLE = re.compile(r"^(ngh|ng|gh|gi|kh|nh|ph|th|tr|ch|qu|[bcdghklmnprstvx])?[aeiouy]{1,3}(ch|ng|nh|[cmnpt])?$")
_VOWEL = re.compile(r"[aeiouy]")


def _tokens(text: str) -> list[str]:
    return _TOKEN.findall(text.lower())


def _edits(word: str) -> set[str]:
    """Every string one insertion, substitution or swap of neighbours away, and one deletion away
    for longer words: a short syllable minus a letter is usually another real word ("đêm" → "đe")."""
    letters = string.ascii_lowercase
    splits = [(word[:i], word[i:]) for i in range(len(word) + 1)]
    deletes = {a + b[1:] for a, b in splits if b} if len(word) >= 5 else set()
    swaps = {a + b[1] + b[0] + b[2:] for a, b in splits if len(b) > 1}
    replaces = {a + c + b[1:] for a, b in splits if b for c in letters}
    inserts = {a + c + b for a, b in splits for c in letters}
    return deletes | swaps | replaces | inserts


def _confusions(word: str) -> list[str]:
    """The regional spelling confusions of one syllable's initial consonant (see `_SWAPS`)."""
    return [new + word[len(old):] for old, new in _SWAPS if word.startswith(old) and len(word) > len(old)]


_lock = threading.Lock()
_speller: Speller | None = None


def speller() -> Speller:
    """The process-wide speller over every retrieval unit and procedure name (built once)."""
    global _speller
    if _speller is None:
        with _lock:
            if _speller is None:
                from knowledge.procedures import load_catalogue
                from retrieval.normalize import lexicon_entries
                from retrieval.sources import all_units
                from vntext import fold

                texts = [fold(f"{u.title} {u.text} {u.context}") for u in all_units()]
                texts += [fold(" ".join([p.name, *p.aliases])) for p in load_catalogue()]
                # Shorthand people type ("cchc", "tthc", "ubnd", "dvc"): words of the abbreviations.
                shorthand = {w for e in lexicon_entries() for v in e.variants for w in fold(v).split() if len(w) <= 5}
                _speller = Speller(texts, protected=shorthand)
    return _speller
