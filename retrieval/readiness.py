"""A marker that the dense (embedding) index is complete.

Embedding every unit takes minutes on a small CPU. Long-running processes (the API, `python -m
knowledge build`) build it and leave this marker; one-shot processes (a CLI question) check it and
rank lexically until it exists instead of blocking on a full build.
"""
from __future__ import annotations

from pathlib import Path


def _marker() -> Path:
    from settings import get_settings

    return get_settings().index_dir / "dense.ready"


def dense_index_ready() -> bool:
    return _marker().exists()


def mark_dense_index_ready() -> None:
    from settings import get_settings

    if get_settings().embedding_backend == "none":
        return
    marker = _marker()
    marker.parent.mkdir(parents=True, exist_ok=True)
    marker.write_text("ok\n", encoding="utf-8")
