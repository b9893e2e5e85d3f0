"""Sweeps over every pre-2025 ward of the map (over 10,000): slow data checks, not units (moved from tests/unit)."""
from __future__ import annotations

import socket

import pytest

from pakn.old_units import OldUnits

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def test_conversion_never_touches_the_network(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every old ward of the map converts with sockets blocked (the library geocodes only when a
    street is in the string, and ours never has one)."""

    def refuse(*_a, **_k):
        raise AssertionError("vietnamadminunits tried to reach the network")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    units = OldUnits()
    olds = [o for same_name in units.wards.values() for o in same_name]
    assert len(olds) > 10_000
    converted = [units.successor(o) for o in olds]
    assert sum(c is not None for c in converted) / len(olds) > 0.99
    assert sum(c.split for c in converted if c) > 400  # split wards went through the no-street path


def test_every_successor_is_a_ward_of_vietnam_provinces() -> None:
    """The converter's 2025 names must be the names `vietnam-provinces` (office ids) uses."""
    from pakn.localities import get_index

    index = get_index()
    units = index.old_units
    missing = set()
    for same_name in units.wards.values():
        for o in same_name:
            s = units.successor(o)
            if s is None:
                continue
            code = next((c for c, p in index.provinces.items()
                         if s.province.endswith(p.name.removeprefix("Thành phố "))), None)
            from vntext import fold_words

            if code is None or (code, fold_words(s.ward)) not in index.ward_by_name:
                missing.add((s.ward, s.province))
    assert not missing, sorted(missing)[:20]
