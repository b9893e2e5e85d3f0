"""Where retrieval units come from: plan sections/tasks and procedure fields.

Providers are imported lazily (importing `retrieval` must stay cheap and must not parse plans) and
each is optional: while a provider module is missing or broken the other still serves, with a
warning in the log rather than an empty bot.
"""
from __future__ import annotations

import importlib
import logging
from collections.abc import Callable

from retrieval.types import Unit

log = logging.getLogger(__name__)

# (module, function) pairs; each function returns list[Unit].
PROVIDERS: tuple[tuple[str, str], ...] = (
    ("knowledge.plans", "plan_units"),
    ("knowledge.procedures", "procedure_units"),
)


def _load(module: str, func: str) -> Callable[[], list[Unit]] | None:
    try:
        return getattr(importlib.import_module(module), func)
    except (ImportError, AttributeError) as exc:
        log.warning("retrieval: unit provider %s.%s unavailable: %s", module, func, exc)
        return None


def all_units(providers: tuple[tuple[str, str], ...] | None = None) -> list[Unit]:
    """Every unit from every available provider (default `PROVIDERS`), ids de-duplicated."""
    units: list[Unit] = []
    seen: set[str] = set()
    for module, func in PROVIDERS if providers is None else providers:
        provider = _load(module, func)
        if provider is None:
            continue
        try:
            got = provider()
        except Exception as exc:  # noqa: BLE001 - one broken provider must not take the other down
            log.warning("retrieval: unit provider %s.%s failed: %s", module, func, exc)
            continue
        for unit in got:
            if unit.id in seen:
                log.warning("retrieval: duplicate unit id %s from %s ignored", unit.id, module)
                continue
            seen.add(unit.id)
            units.append(unit)
    return units
