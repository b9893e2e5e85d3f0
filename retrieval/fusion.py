"""Combining the BM25 and dense rankings.

Two standard choices, both kept so bench/retrieval.py can compare them on the same run:
* reciprocal rank fusion (RRF): score = Σ w / (k + rank); ignores score scales entirely;
* weighted combination of per-query max-normalised scores.
`engine.FUSION` / `engine.WEIGHTS` hold the one that measured best (numbers in the engine docstring).
"""
from __future__ import annotations

import numpy as np

RRF_K = 60


def rrf(rankings: list[tuple[np.ndarray, float]], n_items: int, k: int = RRF_K) -> np.ndarray:
    """Fused scores from ranked index arrays (best first), each with a weight."""
    out = np.zeros(n_items, dtype=np.float64)
    for order, weight in rankings:
        if len(order):
            out[order] += weight / (k + np.arange(1, len(order) + 1))
    return out


def weighted(scores: list[tuple[np.ndarray, np.ndarray, float]], n_items: int) -> np.ndarray:
    """Fused scores from (candidate indices, their raw scores, weight), each max-normalised.

    Dense cosines sit in a narrow band (e5: ~0.75–0.9), so they are min-max normalised over the
    candidates; BM25 scores are divided by the query's best score.
    """
    out = np.zeros(n_items, dtype=np.float64)
    for idx, raw, weight in scores:
        if not len(idx):
            continue
        raw = raw.astype(np.float64)
        lo, hi = float(raw.min()), float(raw.max())
        norm = (raw - lo) / (hi - lo) if hi > lo else np.ones_like(raw)
        out[idx] += weight * norm
    return out
