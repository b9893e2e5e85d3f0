"""Helpers for tests and benchmarks: a plain paragraph provider and embedders that count calls.

`paragraph_units()` splits the plan texts on blank lines; it stands in for `knowledge.plans`
when that provider is unavailable, so retrieval can be developed and measured on its own.
"""
from __future__ import annotations

import hashlib
import re
from pathlib import Path

import numpy as np
import yaml

from retrieval.normalize import raw_tokens
from retrieval.types import Unit
from vntext import fold

PLANS_DIR = Path(__file__).resolve().parent.parent / "knowledge" / "sources" / "plans"


def paragraph_units(plans_dir: Path = PLANS_DIR, min_chars: int = 40) -> list[Unit]:
    """One unit per blank-line paragraph of every plan text, with the plan's metadata."""
    units: list[Unit] = []
    for txt in sorted(plans_dir.glob("*.txt")):
        meta = yaml.safe_load(txt.with_suffix(".yaml").read_text(encoding="utf-8"))
        base = {"plan_id": meta["id"], "corpus_id": str(meta["corpus_id"]), "locality": meta["locality"],
                "province": meta["province"], "year": meta["period_start"], "year_end": meta["period_end"]}
        paras = [re.sub(r"[*#|]+", " ", p).strip() for p in txt.read_text(encoding="utf-8").split("\n\n")]
        for n, para in enumerate(p for p in paras if len(p) >= min_chars):
            units.append(Unit(id=f"{meta['id']}#p{n}", kind="plan_section", source=meta["id"],
                              title=meta["title"], locator=f"Đoạn {n + 1}", text=" ".join(para.split()),
                              context=f"{meta['title']}. {meta['locality']}", meta=base))
    return units


class HashEmbedder:
    """Deterministic bag-of-folded-syllables vectors: fast, offline, good enough to rank in tests."""

    def __init__(self, dim: int = 256, name: str = "hash-test") -> None:
        self.dim, self.name = dim, name

    def _vec(self, text: str) -> np.ndarray:
        v = np.zeros(self.dim, dtype=np.float32)
        for tok in raw_tokens(text):
            v[int(hashlib.md5(fold(tok).encode()).hexdigest(), 16) % self.dim] += 1.0
        n = np.linalg.norm(v)
        return v / n if n else v

    def embed_queries(self, texts: list[str]) -> np.ndarray:
        return np.stack([self._vec(t) for t in texts]) if texts else np.zeros((0, self.dim), np.float32)

    def embed_passages(self, texts: list[str]) -> np.ndarray:
        return np.stack([self._vec(t) for t in texts]) if texts else np.zeros((0, self.dim), np.float32)


class CountingEmbedder:
    """Wraps an embedder and counts the passages and queries it was asked to embed."""

    def __init__(self, inner) -> None:
        self.inner, self.name, self.dim = inner, inner.name, inner.dim
        self.passages = 0
        self.queries = 0

    def embed_queries(self, texts: list[str]) -> np.ndarray:
        self.queries += len(texts)
        return self.inner.embed_queries(texts)

    def embed_passages(self, texts: list[str]) -> np.ndarray:
        self.passages += len(texts)
        return self.inner.embed_passages(texts)
