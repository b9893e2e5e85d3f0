"""Implied metadata in a query — the place and the year people mention — as a soft ranking prior.

Almost every plan question names a place ("ở thành phố Tây Ninh", "tx Hoài Nhơn", "TP TN") and
often a year, and the five plans share most of their vocabulary, so the words that say WHICH plan
are drowned by the words that say WHAT. Instead of a hard filter (a wrong guess would hide the
answer), units whose locality / period match what the query mentions get a bounded boost in both
the BM25 and the dense path. Place names come from the units' own metadata, so a new plan needs
no code; a level word before the name ("tỉnh", "thành phố", "thị xã", "huyện") narrows the match,
and after a level word the initials of the name are accepted too ("tp tn" = "thành phố Tây Ninh").
"""
from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

from retrieval.normalize import normalize_tokens
from retrieval.types import Unit
from vntext import fold

_LEVELS = {"tinh": "tinh", "thanh pho": "thanh pho", "thi xa": "thi xa", "huyen": "huyen", "quan": "quan"}
_YEAR_RE = re.compile(r"^20\d\d$")


@dataclass(frozen=True)
class Place:
    """One locality as written in unit metadata, split into level and bare name (folded)."""

    key: str        # folded full locality, e.g. "thanh pho tay ninh"
    level: str      # "thanh pho" | "tinh" | … | ""
    name: tuple[str, ...]  # ("tay", "ninh")


def _split_place(locality: str) -> Place:
    toks = [fold(t) for t in normalize_tokens(locality)]
    for size in (2, 1):
        head = " ".join(toks[:size])
        if head in _LEVELS and len(toks) > size:
            return Place(" ".join(toks), _LEVELS[head], tuple(toks[size:]))
    return Place(" ".join(toks), "", tuple(toks))


class MetadataPrior:
    """Per-unit prior in [0, 1] from the places and years a query mentions."""

    def __init__(self, units: list[Unit]) -> None:
        self.places = sorted({_split_place(str(u.meta["locality"])) for u in units if u.meta.get("locality")},
                             key=lambda p: -len(p.name))
        self.unit_place = np.array([_split_place(str(u.meta["locality"])).key if u.meta.get("locality") else ""
                                    for u in units], dtype=object)
        self.year_lo = np.array([int(u.meta.get("year") or 0) for u in units])
        self.year_hi = np.array([int(u.meta.get("year_end") or u.meta.get("year") or 0) for u in units])

    def mentioned(self, query: str) -> tuple[set[str], set[int]]:
        """Locality keys and years the query mentions."""
        toks = [fold(t) for t in normalize_tokens(query, query=True)]
        text = " " + " ".join(toks) + " "
        found: set[str] = set()
        for place in self.places:
            name = " ".join(place.name)
            initials = "".join(w[0] for w in place.name)
            for m in re.finditer(rf" ((?:{'|'.join(_LEVELS)}) )?({re.escape(name)}|{re.escape(initials)}) ", text):
                level, said = (m.group(1) or "").strip(), m.group(2)
                if said == initials and not level:
                    continue  # bare initials ("tn") are too ambiguous without "tp"/"tỉnh" before them
                if level and place.level and level != place.level:
                    continue
                found.add(place.key)
        years = {int(t) for t in toks if _YEAR_RE.match(t)}
        return found, years

    def scores(self, query: str) -> np.ndarray | None:
        """0..1 per unit (half for the place, half for the year), or None when nothing is implied."""
        places, years = self.mentioned(query)
        if not places and not years:
            return None
        prior = np.zeros(len(self.unit_place), dtype=np.float32)
        parts = (1 if places else 0) + (1 if years else 0)
        if places:
            prior += np.isin(self.unit_place, list(places)).astype(np.float32) / parts
        if years:
            hit = np.zeros(len(prior), dtype=bool)
            for y in years:
                hit |= (self.year_lo <= y) & (y <= self.year_hi)
            prior += hit.astype(np.float32) / parts
        return prior
