"""Retrieval behaviour on the real plans with BM25 only (fast, no model, no Chroma)."""
from __future__ import annotations

import itertools
import json
import logging
from pathlib import Path

import pytest
from langchain_core.documents import Document

from retrieval.engine import RetrievalEngine
from retrieval.filters import FilterError
from retrieval.langchain import UnitRetriever
from retrieval.normalize import loose_key
from retrieval.sources import all_units
from retrieval.testing import paragraph_units
from retrieval.types import Unit
from settings import Settings


@pytest.fixture(scope="module")
def units() -> list[Unit]:
    from knowledge.plans import plan_units

    return plan_units()


@pytest.fixture(scope="module")
def engine(units: list[Unit], tmp_path_factory: pytest.TempPathFactory) -> RetrievalEngine:
    tmp = tmp_path_factory.mktemp("bm25")
    eng = RetrievalEngine(units, embedder=None, settings=Settings(index_dir=tmp / "index", chroma_path=tmp / "c"))
    eng.warm_up()
    return eng


def _contains(unit: Unit, snippet: str) -> bool:
    return loose_key(snippet) in loose_key(unit.text + " " + unit.context)


# (accented, folded, abbreviated) phrasings of one question, the plan's corpus id and a snippet of the answer.
CASES = [
    (("Thành phố Tây Ninh muốn cắt giảm bao nhiêu phần trăm chi ngân sách trực tiếp cho đơn vị sự nghiệp công lập?",
      "thanh pho tay ninh muon cat giam bao nhieu phan tram chi ngan sach truc tiep cho don vi su nghiep cong lap",
      "TP TN muốn cắt giảm bn phần tram chi ngân sach truc tiep cho SNCL"),
     "000", "giảm 10% chi trực tiếp từ ngân sách nhà nước"),
    (("Bao nhiêu phần trăm công chức, viên chức Hoài Nhơn được cử đi học sau đại học năm 2021?",
      "bao nhieu phan tram cong chuc, vien chuc hoai nhon duoc cu di hoc sau dai hoc nam 2021",
      "bn % CBCCVC hoai nhon di hoc sau dai hoc"),
     "001", "được cử đi đào tạo sau đại học"),
    (("Việc rà soát văn bản pháp luật do HĐND, UBND các cấp ở Hoài Nhơn ban hành làm khi nào?",
      "viec ra soat van ban phap luat do hdnd ubnd cac cap o hoai nhon ban hanh lam khi nao",
      "viec ra soát van ban phap luật do HĐND, UBND cac cap o Hoai Nhon ban hanh làm khi nao"),
     "001", "do HĐND, UBND các cấp ban hành để sửa đổi"),
    (("Chính sách thu hút nhân lực chất lượng cao khu vực công của Tây Ninh dựa trên đề án nào?",
      "chinh sach thu hut nhan luc chat luong cao khu vuc cong cua tay ninh dua tren de an nao",
      "thu hut nhan luc chat luong cao khu vuc cong TN theo QĐ so may"),
     "002", "Quyết định số 1944/QĐ-UBND ngày 22/9/2022"),
    (("Việc ký số, gửi nhận văn bản ở Ngã Năm phải đáp ứng quy định văn thư nào?",
      "viec ky so, gui nhan van ban o nga nam phai dap ung quy dinh van thu nao",
      "ky so gui nhan van ban nga nam theo ND van thu nao"),
     "004", "Nghị định số 30/2020/NĐ-CP ngày 07/3/2020"),
]


@pytest.mark.parametrize("form", [0, 1, 2], ids=["accented", "folded", "abbrev"])
@pytest.mark.parametrize("forms, corpus, snippet", CASES, ids=[c[1] + "-" + c[2][:20] for c in CASES])
def test_right_unit_in_top3(engine: RetrievalEngine, forms: tuple[str, str, str], corpus: str, snippet: str,
                            form: int) -> None:
    hits = engine.search(forms[form], k=3, mode="bm25")
    assert any(h.unit.meta.get("corpus_id") == corpus and _contains(h.unit, snippet) for h in hits), \
        [h.unit.id for h in hits]


def test_hits_are_ranked_and_scored(engine: RetrievalEngine) -> None:
    hits = engine.search("kiểm tra công tác cải cách hành chính", k=5)
    assert [h.rank for h in hits] == [1, 2, 3, 4, 5]
    assert all(a.score >= b.score for a, b in itertools.pairwise(hits))
    # No embedder: hybrid quietly means BM25.
    assert [h.unit.id for h in hits] == [h.unit.id for h in engine.search(
        "kiểm tra công tác cải cách hành chính", k=5, mode="bm25")]


def test_empty_query_and_nonsense(engine: RetrievalEngine) -> None:
    assert engine.search("   ") == []
    assert engine.search("zzqx wvvk") == []


def test_dense_mode_without_embedder_is_an_error(engine: RetrievalEngine) -> None:
    with pytest.raises(ValueError):
        engine.search("cải cách", mode="dense")


def test_locality_filter(engine: RetrievalEngine) -> None:
    hits = engine.search("kế hoạch cải cách hành chính", k=10, filters={"locality": "Hoài Nhơn"})
    assert hits and {h.unit.meta["corpus_id"] for h in hits} == {"001"}
    # A bare name covers the city and the province; with its level only that one.
    both = engine.search("cải cách hành chính", k=50, filters={"locality": "tay ninh"})
    assert {"Tỉnh Tây Ninh", "Thành phố Tây Ninh"} <= {h.unit.meta["locality"] for h in both}
    city = engine.search("cải cách hành chính", k=50, filters={"locality": "TP. Tây Ninh"})
    assert {h.unit.meta["locality"] for h in city} == {"Thành phố Tây Ninh"}


def test_plan_kind_year_filters(engine: RetrievalEngine, units: list[Unit]) -> None:
    plan_id = next(u.meta["plan_id"] for u in units if u.meta["corpus_id"] == "004")
    hits = engine.search("cải cách hành chính", k=20, filters={"plan_id": plan_id})
    assert hits and all(h.unit.meta["plan_id"] == plan_id for h in hits)
    tasks = engine.search("cải cách hành chính", k=20, filters={"kind": "plan_task"})
    assert tasks and all(h.unit.kind == "plan_task" for h in tasks)
    y2024 = engine.search("cải cách hành chính", k=50, filters={"year": 2024})
    assert y2024 and all(h.unit.meta["year"] <= 2024 <= h.unit.meta["year_end"] for h in y2024)
    assert engine.search("cải cách", filters={"year": 1999}) == []


def test_unknown_filter_key_is_rejected(engine: RetrievalEngine) -> None:
    with pytest.raises(FilterError):
        engine.search("cải cách", filters={"localty": "Tây Ninh"})


def test_bm25_cache_is_reused(units: list[Unit], tmp_path: Path) -> None:
    settings = Settings(index_dir=tmp_path / "index", chroma_path=tmp_path / "c")
    first = RetrievalEngine(units, embedder=None, settings=settings).warm_up()
    second_engine = RetrievalEngine(units, embedder=None, settings=settings)
    second = second_engine.warm_up()
    assert not first.sparse_cached and second.sparse_cached
    assert second_engine.search("sáp nhập tổ chức hội", k=1)
    changed = [*units[:-1], units[-1].model_copy(update={"text": units[-1].text + " thay đổi"})]
    assert not RetrievalEngine(changed, embedder=None, settings=settings).warm_up().sparse_cached


def test_all_units_tolerates_a_missing_provider(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING):
        got = all_units((("knowledge.not_written_yet", "units"), ("retrieval.testing", "paragraph_units")))
    assert got and len(got) == len(paragraph_units())
    assert "knowledge.not_written_yet" in caplog.text


def test_langchain_adapter_returns_documents(engine: RetrievalEngine) -> None:
    docs = UnitRetriever(engine=engine, k=3).invoke("sáp nhập giảm đầu mối các tổ chức hội hoài nhơn")
    assert len(docs) == 3 and all(isinstance(d, Document) for d in docs)
    meta = docs[0].metadata
    assert {"locator", "source", "title", "score", "plan_id"} <= set(meta)
    assert meta["score"] >= docs[1].metadata["score"]
    assert docs[0].page_content


def test_cli_search_json(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from typer.testing import CliRunner

    from retrieval import sources
    from retrieval.cli import app
    from settings import get_settings

    monkeypatch.setenv("EMBEDDING_BACKEND", "none")
    monkeypatch.setenv("INDEX_DIR", str(tmp_path / "index"))
    monkeypatch.setattr(sources, "PROVIDERS", (("retrieval.testing", "paragraph_units"),))
    get_settings.cache_clear()
    try:
        result = CliRunner().invoke(app, ["search", "sáp nhập tổ chức hội", "--k", "2", "--json",
                                          "--locality", "Hoài Nhơn"])
    finally:
        get_settings.cache_clear()
    assert result.exit_code == 0, result.output
    rows = json.loads(result.output)
    assert len(rows) == 2 and rows[0]["rank"] == 1 and rows[0]["locator"]


def test_places_and_years_in_queries_are_detected(units: list[Unit]) -> None:
    from retrieval.prior import MetadataPrior

    prior = MetadataPrior(units)
    assert prior.mentioned("KH CCHC TP TN 2021-2025") == ({"thanh pho tay ninh"}, {2021, 2025})
    assert prior.mentioned("tinh tay ninh nam 2024") == ({"tinh tay ninh"}, {2024})
    assert prior.mentioned("Tây Ninh") == ({"tinh tay ninh", "thanh pho tay ninh"}, set())
    assert prior.mentioned("tx Hoài Nhơn")[0] == {"thi xa hoai nhon"}
    assert prior.mentioned("tn có gì mới") == (set(), set())  # bare initials are too ambiguous
    scores = prior.scores("Ngã Năm 2024")
    assert scores is not None and scores.max() == 1.0
    assert prior.scores("thủ tục hành chính") is None


def test_broken_configured_embedder_falls_back_to_bm25(units: list[Unit], tmp_path: Path) -> None:
    settings = Settings(index_dir=tmp_path / "index", chroma_path=tmp_path / "c",
                        embedding_backend="sentence-transformers", embedding_model=str(tmp_path / "absent"))
    eng = RetrievalEngine(units[:50], settings=settings)
    report = eng.warm_up()
    assert eng.embedder is None and any("dense search disabled" in n for n in report.notes)
    assert eng.search("cải cách hành chính", k=2)
