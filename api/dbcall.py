"""Run a short, synchronous store transaction from an async route, the cheapest safe way.

Why not always `run_in_threadpool`: measured on PAKN intake (bench/pakn.py, SQLite), handing each
request's transaction to a pool thread doubled the server's CPU per request (4.8 → 2.5 ms) — the
event loop and forty pool threads pass the GIL back and forth on every request. A SQLite
transaction is local and sub-millisecond, and the process's write gate serialises such
transactions anyway, so on SQLite it runs inline on the event loop. PostgreSQL means network
round trips: those still go to the thread pool so the loop never waits on the network.
"""
from __future__ import annotations

from collections.abc import Callable
from typing import ParamSpec, TypeVar

from fastapi.concurrency import run_in_threadpool

P = ParamSpec("P")
T = TypeVar("T")


async def db_call(fn: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
    """`fn(*args, **kwargs)`: inline when the configured database is SQLite, else in the thread pool."""
    from settings import get_settings

    if get_settings().database_url.startswith("sqlite"):
        return fn(*args, **kwargs)
    return await run_in_threadpool(fn, *args, **kwargs)
