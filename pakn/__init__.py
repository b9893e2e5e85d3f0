"""PAKN (phản ánh, kiến nghị) intake: triage of a citizen's petition.

`pakn.triage.triage()` classifies a petition, recognises the locality it names, routes it to an
office and computes its due date; persistence and delivery live in other modules of this package.

The accent-folding helpers live here, dependency-free, because the classifier, the locality
recogniser and the router must all fold text identically: citizens type with and without
diacritics ("khai sinh" / "khai sinh", "xa hoai hao").
"""
from __future__ import annotations

import re

from vntext import strip_diacritics

_NON_WORD = re.compile(r"[^0-9a-z]+")


def fold(text: str) -> str:
    """Lower-case, strip Vietnamese diacritics (đ → d) and collapse everything else to spaces."""
    t = strip_diacritics(text).lower()
    return _NON_WORD.sub(" ", t).strip()


def tokens(text: str) -> list[str]:
    """Folded syllables of `text` (Vietnamese words are one to three syllables)."""
    return fold(text).split()


def slugify(name: str) -> str:
    """Folded name with hyphens: "Tây Ninh" → "tay-ninh" (the office-id scheme)."""
    return "-".join(tokens(name))


__all__ = ["fold", "slugify", "tokens"]
