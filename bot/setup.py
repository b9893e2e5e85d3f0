"""Make sure the store and index exist before the first answer, so a fresh clone just works."""
from __future__ import annotations

import logging
import threading

from sqlalchemy import func, select

log = logging.getLogger(__name__)
_lock = threading.Lock()
_ready = False


def ensure_ready(database_url: str | None = None) -> None:
    """Migrate the store and build it (and the index) when it is empty or its sources changed."""
    global _ready
    if _ready:
        return
    with _lock:
        if _ready:
            return
        from db import migrate, session_scope
        from knowledge.build import build_store
        from knowledge.models import PlanRow
        from knowledge.plans import load_plans

        migrate(database_url) if database_url else _migrate_default()
        with session_scope(database_url) as session:
            stored = dict(session.execute(select(PlanRow.id, PlanRow.source_sha256)).all())
            count = session.scalar(select(func.count()).select_from(PlanRow))
        fresh = {p.id: p.sha256 for p in load_plans()}
        if count == 0 or stored != fresh:
            log.info("knowledge store is empty or stale: building it")
            build_store(database_url, with_index=False, quiet=True)
        _ready = True


def _migrate_default() -> None:
    from db import migrate
    from settings import get_settings

    migrate(get_settings().database_url)


def quick_engine():
    """A BM25-only engine for a one-shot CLI answer when no dense index exists yet.

    Embedding every unit takes minutes on a small CPU; a single `python -m bot ask` must answer
    in seconds, so it ranks lexically until `make demo` / `python -m knowledge build` has built
    the dense index once.
    """
    from retrieval.engine import RetrievalEngine
    from retrieval.sources import all_units

    engine = RetrievalEngine(all_units(), embedder=None)
    engine.warm_up()
    return engine
