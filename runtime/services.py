"""The running parts of one process, built in one place: `Services`.

Why one object: before, start-up was spread over the app lifespan, a router lifespan (the outbox
worker) and `Channels.start`, and stateful parts lived in process-wide singletons (the chat
service, the retrieval engine, the triage hook, the dense-budget signals), so a test had to clear
caches and patch module globals to get a clean or fake part. Now the API's lifespan
(`running_services`, an async context manager) and the CLI (`build_services`) build the same
object; routes receive it through a FastAPI dependency (`api.deps.get_services`); tests build it
with fakes (`build_services(chat=…, triage=…)`).

What is deliberately *not* in here: immutable caches of shipped data files (the TTHC catalogue,
plans, offices, lexicons, the petition classifier built from its shipped example vectors). They
are the same for every `Services` of a process; `clear_caches()` forgets all of them at once.
"""
from __future__ import annotations

import asyncio
import logging
import os
import socket
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from retrieval.budget import DenseSignals
from settings import Settings, get_settings

if TYPE_CHECKING:
    from bot.service import ChatService
    from pakn.worker import Worker
    from retrieval.engine import RetrievalEngine
    from webhooks.routes import Channels

log = logging.getLogger(__name__)

# Petition triage: (content, location, *, semantic=…) → a triage result (pakn.triage.Triage).
Triage = Callable[..., Any]


def default_triage(content: str, location: str | None = None, *, semantic: bool = True) -> Any:
    """The real triage (pakn.triage): classifier, ward index, routing rules, due dates."""
    from pakn.triage import triage

    return triage(content, location, semantic=semantic)


@dataclass
class Services:
    """Settings, database, knowledge and retrieval, chat, petitions, channels, outbox worker."""

    settings: Settings
    chat: ChatService
    triage: Triage = default_triage
    signals: DenseSignals = field(default_factory=DenseSignals)
    channels: Channels | None = None
    worker: Worker | None = None
    mail_sink: Any = None

    @property
    def database_url(self) -> str:
        return self.chat.url or self.settings.database_url

    @property
    def engine(self) -> RetrievalEngine | None:
        """The retrieval engine, once the chat service has one (never builds it: readiness reads this)."""
        return self.chat.loaded_engine

    def warm_up(self) -> None:
        """Load every model and index before the first request (each load is single-flight)."""
        self.chat.warm_up()
        if self.triage is default_triage:
            from pakn.triage import warm_up as warm_up_triage

            warm_up_triage()  # PAKN classifier (shipped example vectors), ward index, routing rules


def build_services(settings: Settings | None = None, *, chat: ChatService | None = None,
                   engine: RetrievalEngine | None = None, triage: Triage | None = None,
                   signals: DenseSignals | None = None) -> Services:
    """Build the services of one process without starting background work (the CLI, tests).

    Anything not given is the real part: the chat service over the settings' database, with a
    retrieval engine of its own fed by `signals`.
    """
    settings = settings or get_settings()
    signals = signals or DenseSignals()
    if chat is None:
        from bot.service import ChatService

        chat = ChatService(database_url=settings.database_url, engine=engine, signals=signals,
                           triage=triage or default_triage)
    return Services(settings=settings, chat=chat, triage=triage or default_triage, signals=signals)


@asynccontextmanager
async def running_services(settings: Settings | None = None, *, warm: bool = True, build_store: bool = True,
                           start_channels: bool = True, start_worker: bool | None = None,
                           **parts: Any) -> AsyncIterator[Services]:
    """The API process's services: migrate, build, warm up, start the mail sink (development),
    the channel layer and the embedded outbox worker; stop them in reverse order on exit.

    `parts` are passed to `build_services` (`signals=`: the API's dense-budget signals) or replace
    real parts in tests (`chat=`, `triage=`, `channels=`).
    Intake-only servers (bench/pakn.py, bench/durability.py) skip the knowledge build and the
    warm-up (`build_store=False, warm=False`) and may leave out the channels; `start_worker`
    defaults to `settings.pakn_worker_in_api`.
    """
    from db import migrate

    settings = settings or get_settings()
    await asyncio.to_thread(migrate, settings.database_url)
    if build_store and "chat" not in parts:
        from bot.setup import ensure_ready

        await asyncio.to_thread(ensure_ready)
    channels = parts.pop("channels", None)
    services = build_services(settings, **parts)
    if warm:
        await asyncio.to_thread(services.warm_up)
    from pakn.mailsink import start_dev_mail_sink

    services.mail_sink = start_dev_mail_sink(settings)  # development only; None otherwise
    if channels is None and start_channels:
        from webhooks.routes import Channels

        channels = Channels(settings, service=lambda: services.chat)
    if channels is not None:
        await channels.start()  # inbox worker, Zalo/Telegram senders for PAKN replies
    services.channels = channels
    thread = None
    if settings.pakn_worker_in_api if start_worker is None else start_worker:
        # One outbox worker inside the API process: a single-container deployment then delivers
        # without a second service (pakn/worker.py); dedicated workers may run alongside.
        from pakn.worker import Worker

        services.worker = Worker(settings.database_url, worker_id=f"api:{socket.gethostname()}:{os.getpid()}")
        thread = services.worker.start_thread()
    try:
        yield services
    finally:
        if services.worker is not None:
            services.worker.stop()
            if thread is not None:
                await asyncio.to_thread(thread.join, 15)
        if channels is not None:
            await channels.stop()
        services.channels = None
        if services.mail_sink is not None:
            services.mail_sink.stop()


def clear_caches() -> None:
    """Forget every cache of shipped data files and of settings (after editing the files or the
    environment in a test). Stateful parts are never cached: they live in `Services`."""
    import importlib

    for module, names in _CACHES:
        mod = importlib.import_module(module)
        for name in names:
            getattr(mod, name).cache_clear()


# Every process-wide cache of the product, by module: `clear_caches()` walks this list, and
# tests/unit/test_services.py checks that no `lru_cache`/`single_flight` is missing from it.
_CACHES: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("settings", ("get_settings",)),
    ("db.engine", ("_factory",)),
    ("retrieval.normalize", ("default_lexicon",)),
    ("knowledge.dialogue_lexicon", ("dialogue_lexicon",)),
    ("knowledge.offices", ("_load_default", "ward_office", "ward_offices")),
    ("knowledge.plans", ("load_plans",)),
    ("knowledge.procedures", ("_cached", "field_lexicon", "_shorthand", "fold")),
    ("knowledge.procedure_variants", ("procedure_variants",)),
    ("pakn.clusters", ("_sensitive_words",)),
    ("pakn.classifier", ("get_classifier",)),
    ("pakn.localities", ("get_index",)),
    ("pakn.routing", ("load_routing",)),
    ("pakn.legal_deadlines", ("legal_deadlines",)),
    ("pakn.escalation", ("escalation_config",)),
    ("bot.understand", ("_provinces", "_plan_places")),
    ("api.routes.open311", ("_services",)),
)
# Memos of pure functions of their argument (no file behind them): nothing to forget.
PURE_MEMOS = frozenset({"vntext.fold", "vntext.strip_diacritics",
                        "pakn.duedates._vn_holidays"})
