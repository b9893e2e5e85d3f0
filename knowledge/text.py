"""The one accent-stripping routine; every module's `fold` builds on it."""
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
