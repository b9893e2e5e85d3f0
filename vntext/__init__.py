"""The base of the Vietnamese text layer: accent stripping and the i/y spelling rule.

Why a package of its own, below every other: `retrieval` (normalisation, folding), `knowledge`
(plans, catalogue, lexicons), `pakn` and `bot` all build their folding on these two routines, and
`knowledge` also builds on `retrieval`; kept inside `knowledge`, they made `retrieval` and
`knowledge` import each other in a circle. Dependency-free by design.
"""
from __future__ import annotations

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
