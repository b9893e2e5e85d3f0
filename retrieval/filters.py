"""Metadata filters shared by the sparse and dense paths, so both see the same candidate set.

Filters are matched against each `Unit` in Python (loosely: accents, case and a "Tỉnh"/"Thành
phố" prefix do not matter for place names, and a year matches any plan whose period covers it);
the engine turns the result into a mask for BM25 and an id list for the dense search.
"""
from __future__ import annotations

from typing import Any

from retrieval.normalize import loose_key
from retrieval.types import Unit

_PLACE_KEYS = ("locality", "province")
KNOWN_KEYS = frozenset({"locality", "province", "plan_id", "kind", "year", "corpus_id", "source"})
_PREFIXES = ("tinh ", "thanh pho ", "tp ", "thi xa ", "tx ", "huyen ", "quan ", "xa ", "phuong ")


class FilterError(ValueError):
    """An unknown filter key (a typo must not silently return everything)."""


_LEVEL_ABBREV = {"tp": "thanh pho", "tx": "thi xa"}


def _place_key(value: str) -> str:
    words = loose_key(value).replace(".", " ").split()
    if words and words[0] in _LEVEL_ABBREV:
        words[0] = _LEVEL_ABBREV[words[0]]
    return " ".join(words)


def _strip_prefix(key: str) -> str:
    for prefix in _PREFIXES:
        if key.startswith(prefix):
            return key[len(prefix):]
    return key


def _place_match(have: str, wanted: str) -> bool:
    """'Tây Ninh' matches the province and the city; 'Tỉnh Tây Ninh' only the province."""
    h, w = _place_key(have), _place_key(wanted)
    if _strip_prefix(w) != w:
        return h == w or (_strip_prefix(h) == h and _strip_prefix(w) == h)
    return _strip_prefix(h) == w


def _values(v: Any) -> list[Any]:
    return list(v) if isinstance(v, (list, tuple, set, frozenset)) else [v]


def unit_matches(unit: Unit, filters: dict[str, Any]) -> bool:
    """Whether a unit passes every filter; list values mean 'any of'."""
    for key, wanted in filters.items():
        if wanted is None:
            continue
        options = _values(wanted)
        if key in _PLACE_KEYS:
            have = unit.meta.get(key)
            if have is None or not any(_place_match(str(have), str(o)) for o in options):
                return False
        elif key == "kind":
            if unit.kind not in options and unit.meta.get("kind") not in options:
                return False
        elif key == "source":
            if unit.source not in options:
                return False
        elif key == "year":
            start = unit.meta.get("year")
            end = unit.meta.get("year_end", start)
            if start is None:
                return False
            if not any(int(start) <= int(o) <= int(end or start) for o in options):
                return False
        elif key in KNOWN_KEYS:
            if str(unit.meta.get(key)) not in {str(o) for o in options}:
                return False
        else:
            raise FilterError(f"unknown filter {key!r}; known: {', '.join(sorted(KNOWN_KEYS))}")
    return True
