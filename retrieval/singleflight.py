"""A value built once, on first demand, by exactly one caller: concurrent first callers wait.

Why not `functools.lru_cache`: it is thread-safe only in the sense that its dictionary is never
corrupted — N threads that miss at once all run the function. For a model or an index that is N
loads at once on a small CPU (8 first petitions each embedding the 569 classifier examples took
over two minutes on two cores). `SingleFlight` holds a lock around the build, so the first caller
builds and the others wait for its result; after that, reading the value takes no lock.

A build that raises leaves nothing cached: the next caller tries again (a transient failure must
not poison the process).
"""
from __future__ import annotations

import functools
import threading
from collections.abc import Callable
from typing import Generic, TypeVar

T = TypeVar("T")
_UNSET: object = object()


class SingleFlight(Generic[T]):
    """Calling it returns the built value; `cache_clear()` forgets it (tests, after a rebuild)."""

    def __init__(self, build: Callable[[], T]) -> None:
        self._build = build
        self._value: object = _UNSET
        self._lock = threading.Lock()
        self.builds = 0  # how many times the value was built (observable in tests and benches)
        functools.update_wrapper(self, build)

    def __call__(self) -> T:
        value = self._value
        if value is not _UNSET:
            return value  # type: ignore[return-value]
        with self._lock:
            if self._value is _UNSET:
                self.builds += 1
                self._value = self._build()
            return self._value  # type: ignore[return-value]

    @property
    def loaded(self) -> bool:
        """Whether the value exists (never builds it: for readiness probes)."""
        return self._value is not _UNSET

    def cache_clear(self) -> None:
        """Forget the value; the next call builds it again (lru_cache's name, so callers need not care)."""
        with self._lock:
            self._value = _UNSET


def single_flight(build: Callable[[], T]) -> SingleFlight[T]:
    """Decorator form for a zero-argument loader."""
    return SingleFlight(build)
