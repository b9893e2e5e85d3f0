"""The base of the Vietnamese text layer: accent stripping, folding, words and the i/y spelling rule.

Every package folds text the same way through these few functions, so a question typed without
accents ("dang ky khai sinh") meets the accented text it is about, whichever package compares them:
`fold` for comparing phrases (punctuation kept, so "30/6" and "3989/KH-UBND" survive), `fold_words`
for comparing bags of words (punctuation dropped), `tokens` and `slugify` built on it. Tokenising for
the search index, abbreviations and old tone marks are retrieval's (`retrieval/normalize.py`), built
on these.

Why a package of its own, below every other: `retrieval` (normalisation, folding), `knowledge`
(plans, catalogue, lexicons), `pakn` and `bot` all build their folding on these two routines, and
`knowledge` also builds on `retrieval`; kept inside `knowledge`, they made `retrieval` and
`knowledge` import each other in a circle. Dependency-free by design.
"""
from __future__ import annotations

import re
import unicodedata
from functools import lru_cache


@lru_cache(maxsize=65536)
def strip_diacritics(text: str) -> str:
    """Remove Vietnamese diacritics ("Đường Nội vụ" → "Duong Noi vu"); case and spacing are kept.

    Cached: questions and office names repeat, and the NFD walk is the hot part of matching.
    """
    decomposed = unicodedata.normalize("NFD", text.replace("đ", "d").replace("Đ", "D"))
    return "".join(c for c in decomposed if unicodedata.category(c) != "Mn")


# After a consonant, "y" and "i" spell the same sound and both spellings are in use ("kí"/"ký",
# "lí"/"lý", "mĩ"/"mỹ"); people type either. Not after a vowel ("tuy" ≠ "tui"), and not "quý":
# "quí" is rare, and "quý" (quarter) is a word the deadline parser reads.
_ONSETS = frozenset(["b", "c", "ch", "d", "đ", "g", "gh", "h", "k", "kh", "l", "m", "n", "ng", "ngh", "nh", "p", "ph", "r", "s", "t", "th", "tr", "v", "x"])
_Y_TO_I = str.maketrans("yýỳỷỹỵ", "iíìỉĩị")


def unify_i_y(syllable: str) -> str:
    """One spelling for a lower-case syllable that ends in i/y after a consonant: "ký" → "kí"."""
    if len(syllable) >= 2 and syllable[-1] in "yýỳỷỹỵ" and syllable[:-1] in _ONSETS:
        return syllable[:-1] + syllable[-1].translate(_Y_TO_I)
    return syllable


@lru_cache(maxsize=65536)
def fold(text: str) -> str:
    """Lower case without diacritics, spacing collapsed: "  Đường  Nội vụ " → "duong noi vu".

    The form people type on a phone without accents; punctuation is kept. Cached: it is called per
    token on every query and on the same few thousand names again and again.
    """
    return " ".join(unicodedata.normalize("NFC", strip_diacritics(text.lower())).split())


_NON_WORD = re.compile(r"[^0-9a-z]+")


def fold_words(text: str) -> str:
    """`fold` with everything but letters and digits turned into single spaces: "Tổ 5, KP.3" → "to 5 kp 3"."""
    return _NON_WORD.sub(" ", fold(text)).strip()


def tokens(text: str) -> list[str]:
    """The folded words of `text` (a Vietnamese word is one to three of them)."""
    return fold_words(text).split()


def slugify(name: str) -> str:
    """Folded words joined by hyphens: "Tây Ninh" → "tay-ninh" (the scheme of office ids)."""
    return "-".join(tokens(name))


def has_diacritics(text: str) -> bool:
    """Whether the text carries any Vietnamese accent (decides which index forms a query uses)."""
    return strip_diacritics(text) != text


# A folded Vietnamese syllable: onset, vowel nucleus, coda; "k", "gh", "ngh" only before e, i, y.
_SYLLABLE = re.compile(
    r"(?:(?:ngh|gh|k)(?=[eiy])|ch|gi|kh|ng|nh|ph|qu|th|tr|[bcdghlmnprstvx])?"
    r"[aeiouy]{1,3}(?:ch|ng|nh|[cmnpt])?")


def is_syllable(word: str) -> bool:
    """Whether a folded word is spelled like a Vietnamese syllable ("xong", "hong") rather than
    shorthand ("ko", "dc", "ubnd", "cccd", "j"): shorthand may be spelled out, a word must stay."""
    return _SYLLABLE.fullmatch(word) is not None
