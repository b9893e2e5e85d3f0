"""BM25 over accented and folded syllables + bigrams, one index per field, cached on disk.

Two fields are indexed separately — the unit's `text` and its `context` (heading path, offices,
plan title) — so context can help a match without drowning the evidence itself; the field scores
are combined with `FIELD_WEIGHTS` (tuned by bench/retrieval.py). The index is saved under
`settings.index_dir/bm25-<hash>` where the hash covers the units' content and the lexicon, so a
changed unit or abbreviation rebuilds it and an unchanged corpus loads in milliseconds.
"""
from __future__ import annotations

import json
import logging
import shutil
from pathlib import Path

import bm25s
import numpy as np

from retrieval.normalize import Lexicon, default_lexicon, index_terms, normalize_tokens
from retrieval.types import Unit
from vntext import has_diacritics

log = logging.getLogger(__name__)
# bm25s logs every index build at DEBUG through its own logger; keep the CLI and service logs clean.
logging.getLogger("bm25s").setLevel(logging.WARNING)

FIELD_WEIGHTS: dict[str, float] = {"text": 1.0, "context": 0.25}
K1, B = 1.2, 0.75
# Query terms that also occur in some unit's title (plan titles, procedure names) say WHICH
# document, not WHERE in it: "kiểm tra CCHC năm 2023 thành phố Tây Ninh" matches every unit of that
# plan through its title/context, so in the text field such terms count only this much.
# Measured (BM25 R@5/MRR, accented): 1.0 → 0.934/0.831; 0.4 → 0.967/0.865; 0.3 (with context
# weight 0.25) → 0.973/0.881; folded 0.929/0.818 → 0.973/0.870; abbreviated 0.912/0.823 → 0.967/0.854.
TITLE_TERM_WEIGHT = 0.3
FORMAT_VERSION = 5  # 5: i/y spelling unified in tokens


def unit_field_text(unit: Unit, name: str) -> str:
    """The raw text of one indexed field of a unit."""
    return unit.text if name == "text" else f"{unit.title} {unit.context}"


def query_terms(query: str, lexicon: Lexicon | None = None) -> list[str]:
    """BM25 terms for a query; accent-free queries use only the folded terms.

    A query typed without accents carries no accent information, so matching its syllables
    against accented terms would only add noise ("ban" the word vs "bàn", "bạn", "bán").
    """
    toks = normalize_tokens(query, query=True, lexicon=lexicon)
    return index_terms(toks, accented=has_diacritics(query))


class SparseIndex:
    """Per-field BM25 indexes over the same ordered list of unit ids."""

    def __init__(self, ids: list[str], fields: dict[str, bm25s.BM25], title_terms: set[str] | None = None) -> None:
        self.ids = ids
        self.fields = fields
        self.title_terms = title_terms or set()

    @classmethod
    def build(cls, units: list[Unit], lexicon: Lexicon | None = None) -> SparseIndex:
        """Tokenise every unit's fields and index them (a second or two for a few thousand units)."""
        lex = lexicon or default_lexicon()
        fields: dict[str, bm25s.BM25] = {}
        for name in FIELD_WEIGHTS:
            corpus = [index_terms(normalize_tokens(unit_field_text(u, name), lexicon=lex)) or ["∅"]
                      for u in units]
            bm = bm25s.BM25(k1=K1, b=B)
            bm.index(corpus, show_progress=False)
            fields[name] = bm
        titles = {u.title for u in units}
        title_terms = {t for title in titles for t in index_terms(normalize_tokens(title, lexicon=lex))}
        return cls([u.id for u in units], fields, title_terms)

    def scores(self, terms: list[str], weights: dict[str, float] | None = None) -> np.ndarray:
        """Weighted sum of the field scores, one float per unit in `self.ids` order."""
        weights = weights or FIELD_WEIGHTS
        total = np.zeros(len(self.ids), dtype=np.float32)
        if not terms or not self.ids:
            return total
        titled = [t for t in terms if t in self.title_terms]
        rest = [t for t in terms if t not in self.title_terms]
        for name, bm in self.fields.items():
            w = weights.get(name, 0.0)
            if not w:
                continue
            if name == "text" and TITLE_TERM_WEIGHT != 1.0:
                if rest:
                    total += w * bm.get_scores(rest)
                if titled and TITLE_TERM_WEIGHT:
                    total += (w * TITLE_TERM_WEIGHT) * bm.get_scores(titled)
            else:
                total += w * bm.get_scores(terms)
        return total

    def save(self, directory: Path) -> None:
        """Write atomically: a half-written cache must never be loaded by another process."""
        tmp = directory.with_name(directory.name + ".tmp")
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir(parents=True)
        for name, bm in self.fields.items():
            bm.save(str(tmp / name), show_progress=False)
        (tmp / "ids.json").write_text(json.dumps({"version": FORMAT_VERSION, "ids": self.ids,
                                                  "title_terms": sorted(self.title_terms)}))
        shutil.rmtree(directory, ignore_errors=True)
        tmp.rename(directory)

    @classmethod
    def load(cls, directory: Path) -> SparseIndex | None:
        """The cached index, or None when absent or written by another format version."""
        try:
            meta = json.loads((directory / "ids.json").read_text())
            if meta.get("version") != FORMAT_VERSION:
                return None
            fields = {name: bm25s.BM25.load(str(directory / name), show_progress=False, verbosity=0)
                      for name in FIELD_WEIGHTS}
        except (OSError, ValueError) as exc:
            log.info("retrieval: no usable BM25 cache at %s (%s)", directory, exc)
            return None
        return cls(meta["ids"], fields, set(meta.get("title_terms", [])))
