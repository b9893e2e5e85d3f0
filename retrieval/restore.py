"""Put accents back on an accent-free query, from the corpus' own syllable statistics.

The dense model reads accented Vietnamese; "thoi han giai quyet" embeds far from "thời hạn giải
quyết". BM25 handles folded queries through folded terms, but the dense path needs the accents, so
we pick, for each folded syllable, the accented form that best fits its neighbours according to
bigram counts over the indexed units (a Viterbi pass over at most `MAX_CANDIDATES` forms per
syllable). Syllables the corpus never saw stay as typed.
"""
from __future__ import annotations

import itertools
import math
from collections import Counter, defaultdict
from collections.abc import Iterable

from vntext import fold

MAX_CANDIDATES = 6


class AccentRestorer:
    """Bigram-based accent restoration trained on normalised corpus tokens."""

    def __init__(self, token_lists: Iterable[list[str]]) -> None:
        self.uni: Counter[str] = Counter()
        self.bi: Counter[tuple[str, str]] = Counter()
        for toks in token_lists:
            self.uni.update(toks)
            self.bi.update(itertools.pairwise(toks))
        by_fold: dict[str, list[str]] = defaultdict(list)
        for tok, _ in self.uni.most_common():
            f = fold(tok)
            if len(by_fold[f]) < MAX_CANDIDATES:
                by_fold[f].append(tok)
        self.candidates = dict(by_fold)
        self.total = sum(self.uni.values()) or 1

    def _lp_uni(self, tok: str) -> float:
        return math.log((self.uni.get(tok, 0) + 0.1) / self.total)

    def _lp_bi(self, prev: str, tok: str) -> float:
        # Interpolated: bigram evidence dominates when present, unigram frequency breaks ties.
        b = self.bi.get((prev, tok), 0)
        u = self.uni.get(prev, 0)
        return math.log(0.8 * (b / u if u else 0.0) + 0.2 * (self.uni.get(tok, 0) + 0.1) / self.total)

    def restore(self, tokens: list[str]) -> list[str]:
        """Most likely accented tokens; tokens already accented or unknown are kept."""
        if not tokens:
            return []
        lattice = [self.candidates.get(t, [t]) if fold(t) == t else [t] for t in tokens]
        best = {c: (self._lp_uni(c), [c]) for c in lattice[0]}
        for options in lattice[1:]:
            nxt = {}
            for c in options:
                score, path = max(((s + self._lp_bi(p[-1], c), p) for s, p in best.values()),
                                  key=lambda x: x[0])
                nxt[c] = (score, path + [c])
            best = nxt
        return max(best.values(), key=lambda x: x[0])[1]
