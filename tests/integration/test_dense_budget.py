"""The query-embedding budget: under a burst, hybrid search sheds the dense path instead of queueing
behind the model; cached vectors and explicit dense searches are never shed (retrieval/budget.py)."""
from __future__ import annotations

from pathlib import Path

import pytest

from retrieval.budget import DenseBudget
from retrieval.engine import RetrievalEngine
from retrieval.testing import CountingEmbedder, HashEmbedder, paragraph_units
from settings import Settings

pytestmark = pytest.mark.integration


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_budget_refills_at_its_share_and_caps_at_the_burst() -> None:
    clock = Clock()
    budget = DenseBudget(0.5, burst_s=1.0, clock=clock)
    assert budget.allow()
    budget.charge(1.2)  # one expensive embedding overdraws the bucket …
    assert not budget.allow()
    clock.now += 0.3  # … refilled by 0.15 s: still in debt
    assert not budget.allow()
    clock.now += 0.2  # 0.25 s refilled in all: −0.2 + 0.25 > 0
    assert budget.allow()
    clock.now += 3600  # a quiet hour refills only up to the burst
    budget.charge(1.0)
    assert not budget.allow()


def test_zero_share_means_no_limit() -> None:
    budget = DenseBudget(0.0)
    budget.charge(10_000)
    assert budget.allow()


@pytest.fixture()
def engine(tmp_path: Path) -> RetrievalEngine:
    """An engine fed with the API's signals (questions waiting, the metrics counter), as the app's
    lifespan builds it."""
    from api.main import dense_signals

    units = [u for u in paragraph_units() if u.meta["corpus_id"] == "004"]
    settings = Settings(index_dir=tmp_path / "index", chroma_path=tmp_path / "chroma", chroma_host=None)
    eng = RetrievalEngine(units, embedder=CountingEmbedder(HashEmbedder()), settings=settings,
                          signals=dense_signals())
    eng.warm_up()
    return eng


def _undecided_queries(engine: RetrievalEngine) -> list[str]:
    """Questions whose BM25 ranking is not decisive, i.e. that would use the dense path."""
    queries = ["nâng cao chất lượng cải cách hành chính", "kiểm tra công tác cải cách", "chuyển đổi số",
               "tuyên truyền cải cách hành chính", "đánh giá chỉ số hài lòng", "thủ tục hành chính"]
    undecided = []
    for q in queries:
        scores = [h.score for h in engine.search(q, k=2, mode="bm25")]
        if len(scores) == 2 and scores[1] > 0.75 * scores[0]:
            undecided.append(q)
    assert len(undecided) >= 4, "the fixture corpus should give several undecided questions"
    return undecided


def test_spent_budget_sheds_the_dense_path_until_it_refills(engine: RetrievalEngine) -> None:
    clock = Clock()
    engine.dense_budget = DenseBudget(0.5, burst_s=1.0, clock=clock)
    counter = engine.embedder.inner  # type: ignore[union-attr]
    first, second, third, fourth = _undecided_queries(engine)[:4]

    engine.search(first, k=5)
    assert counter.queries == 1 and engine.dense_stats.snapshot()["embedded"] == 1

    engine.dense_budget.charge(5.0)  # a burst spent the budget …
    engine.search(second, k=5)  # … but a search with nothing else running still gets the model
    assert counter.queries == 2 and engine.dense_stats.snapshot()["shed"] == 0
    engine.dense_budget.charge(5.0)

    engine._in_flight = 1  # another question is being answered meanwhile
    shed = engine.search(third, k=5)
    assert counter.queries == 2, "the model must not run while the budget is spent in a burst"
    assert engine.dense_stats.snapshot()["shed"] == 1
    assert [h.unit.id for h in shed] == [h.unit.id for h in engine.search(third, k=5, mode="bm25")]

    engine.search(first, k=5)  # a cached vector costs nothing and is still used
    assert engine.dense_stats.snapshot()["cached"] == 1 and counter.queries == 2

    engine.search(fourth, k=5, mode="dense")  # an explicit dense search is never shed
    assert counter.queries == 3

    clock.now += 30  # refilled
    engine.search(third, k=5)
    assert counter.queries == 4 and engine.dense_stats.snapshot()["shed"] == 1


def test_metrics_count_shed_lookups(engine: RetrievalEngine) -> None:
    from api import observability

    def shed() -> float:
        return observability.REGISTRY.get_sample_value("retrieval_dense_queries_total", {"outcome": "shed"}) or 0.0

    before = shed()
    engine.dense_budget = DenseBudget(0.5, clock=Clock())
    engine.dense_budget.charge(5.0)
    engine._in_flight = 1
    engine.search(_undecided_queries(engine)[0], k=5)
    assert shed() == before + 1
    assert "retrieval_dense_queries_total{outcome=\"shed\"}" in observability.metrics_payload()[0].decode()


def test_questions_queueing_in_the_api_count_as_pressure(engine: RetrievalEngine) -> None:
    engine.dense_budget = DenseBudget(0.5, clock=Clock())
    engine.dense_budget.charge(5.0)
    query = _undecided_queries(engine)[0]
    engine.signals.pressure[:] = [lambda: False]
    engine.search(query, k=5)
    assert engine.dense_stats.snapshot()["shed"] == 0  # nothing waits: the lone question gets the model

    engine.dense_budget.charge(5.0)
    engine.signals.pressure[:] = [lambda: True]
    engine.search(query + " năm 2024", k=5)
    assert engine.dense_stats.snapshot()["shed"] == 1


async def test_chat_route_reports_questions_waiting_for_a_thread() -> None:
    import anyio

    from api.main import dense_signals
    from api.routes import chat

    assert chat.questions_waiting in dense_signals().pressure
    limiter = chat.chat_limiter()
    assert not chat.questions_waiting()
    release = anyio.Event()

    async def hold() -> None:
        async with limiter:
            await release.wait()

    async with anyio.create_task_group() as tg:
        for _ in range(limiter.total_tokens + 1):
            tg.start_soon(hold)
        await anyio.sleep(0.05)
        assert chat.questions_waiting()
        release.set()
    assert not chat.questions_waiting()
