"""LangChain adapter: the retrieval engine as a `BaseRetriever` returning `Document`s.

Lets an LLM chain (bot phrasing, evaluations) use exactly the evidence the bot cites: each
Document carries the unit text as `page_content` and the citation fields in `metadata`.
"""
from __future__ import annotations

from typing import Any

from langchain_core.callbacks import CallbackManagerForRetrieverRun
from langchain_core.documents import Document
from langchain_core.retrievers import BaseRetriever
from pydantic import ConfigDict

from retrieval.engine import Mode, RetrievalEngine
from retrieval.types import SearchHit


def hit_to_document(hit: SearchHit) -> Document:
    """One hit as a Document: unit metadata plus id, kind, source, title, locator, score, rank."""
    u = hit.unit
    metadata: dict[str, Any] = {**u.meta, "id": u.id, "kind": u.kind, "source": u.source, "title": u.title,
                                "locator": u.locator, "score": hit.score, "rank": hit.rank}
    return Document(page_content=u.text, metadata=metadata, id=u.id)


class UnitRetriever(BaseRetriever):
    """`BaseRetriever` over a `RetrievalEngine` (the caller's: runtime.services builds one per process)."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    engine: RetrievalEngine
    k: int = 5
    mode: Mode = "hybrid"
    filters: dict[str, Any] | None = None

    def _get_relevant_documents(self, query: str, *, run_manager: CallbackManagerForRetrieverRun,
                                **kwargs: Any) -> list[Document]:
        hits = self.engine.search(query, k=kwargs.get("k", self.k), filters=kwargs.get("filters", self.filters),
                             mode=kwargs.get("mode", self.mode))
        return [hit_to_document(h) for h in hits]
