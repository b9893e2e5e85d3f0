"""Conversation state on SQLite and PostgreSQL: saved, replaced, and safe when one user's first
messages arrive together (two channel deliveries, a double tap)."""
from __future__ import annotations

import threading
import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest

from bot.state import StateStore

pytestmark = pytest.mark.integration


def test_save_replaces_and_load_returns_it(db_url: str) -> None:
    store, user = StateStore(db_url), uuid.uuid4().hex
    assert store.load("zalo", user) == {}
    store.save("zalo", user, {"intent": "tthc", "procedure": "khai-sinh"})
    store.save("zalo", user, {"intent": "plan"})
    assert store.load("zalo", user) == {"intent": "plan"}
    assert store.load("telegram", user) == {}  # per channel
    store.forget("zalo", user)
    assert store.load("zalo", user) == {}


def test_concurrent_first_saves_of_one_user_do_not_collide(db_url: str) -> None:
    """Threads lined up on a barrier save the first state of the same new user at once, for many
    users: a read-then-insert loses such races (a duplicate-key error, a 500 in the chat)."""
    store = StateStore(db_url)
    threads = 4
    for _ in range(15):
        user = uuid.uuid4().hex
        barrier = threading.Barrier(threads)

        def first_save(i: int, user: str = user, barrier: threading.Barrier = barrier) -> None:
            barrier.wait()
            store.save("api", user, {"turn": i})

        with ThreadPoolExecutor(threads) as pool:
            list(pool.map(first_save, range(threads)))  # re-raises a collision
        assert store.load("api", user) in [{"turn": i} for i in range(threads)]
