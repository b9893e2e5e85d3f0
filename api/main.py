"""The FastAPI application: one place where every router is registered.

`create_app()` builds the app; its lifespan builds the running parts once (runtime.services: it
migrates the store and loads every model and index — the retrieval index, the chat service, the
PAKN classifier and ward index — before the server accepts a connection, so the first requests are
as fast as the rest and `/readyz` never says ready while a load is pending; it starts the channel
layer, the embedded outbox worker and, in development, the local mail sink) and hands them to
routes through `api.deps.get_services`.
"""
from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any

from fastapi import FastAPI

from retrieval.budget import DenseSignals
from retrieval.singleflight import SingleFlight
from settings import get_settings


def lifespan_with(**parts: Any) -> Callable[[FastAPI], AbstractAsyncContextManager[None]]:
    """The app's lifespan: build the services once (runtime.services) and keep them on
    `app.state.services` for routes (`api.deps.get_services`) until shutdown. `parts` replace real
    parts in tests (`triage=FakeTriage()`, `chat=…`)."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        from runtime.services import running_services

        async with running_services(get_settings(), signals=dense_signals(), **parts) as services:
            app.state.services = services
            app.state.channels = services.channels  # the webhook routes' own view (webhooks.routes)
            app.state.mail_sink = services.mail_sink
            try:
                yield
            finally:
                app.state.services = None
                app.state.channels = None

    return lifespan


def dense_signals() -> DenseSignals:
    """What the API tells its retrieval engine (retrieval/budget.py): questions waiting for an
    answer thread count as pressure, and each dense lookup is counted on /metrics."""
    from api.observability import count_dense_query
    from api.routes.chat import questions_waiting

    return DenseSignals(pressure=[questions_waiting], observers=[count_dense_query])


def _unstarted(parts: dict[str, Any]) -> SingleFlight[Any]:
    """Services for an app whose lifespan never ran: built once, on first use, without starting
    anything (the keyword arguments that only steer the start-up are not parts)."""
    from runtime.services import build_services

    given = {k: v for k, v in parts.items() if k in ("chat", "engine", "triage")}
    return SingleFlight(lambda: build_services(get_settings(), signals=dense_signals(), **given))


def create_app(**parts: Any) -> FastAPI:
    """Build the application with all routers; `parts` replace real running parts (tests)."""
    from api.logging import setup_logging

    setup_logging()  # JSON lines with personal data masked, before anything logs
    settings = get_settings()
    # Production serves no API explorer: the schema is published with the code, not by the server.
    # Elsewhere /docs and /redoc are api.docs's pages, which load nothing from a CDN.
    production = settings.env == "production"
    app = FastAPI(title="Trợ lý hành chính công", version="0.1.0", lifespan=lifespan_with(**parts), docs_url=None,
                  redoc_url=None, openapi_url=None if production else "/openapi.json")
    app.state.services = None
    app.state.unstarted_services = _unstarted(parts)  # see api.deps.get_services
    if not production:
        from api import docs

        docs.install(app)
    from api.clients import ClientRegistry
    from api.headers import SecurityHeadersMiddleware
    from api.limits import BodySizeLimitMiddleware, RateLimitMiddleware
    from api.observability import MetricsMiddleware
    from api.proxy import TrustedProxyMiddleware
    from db import session_scope

    app.state.api_clients = ClientRegistry(session_scope)  # API keys (api.clients), verified per request
    # Added innermost first, so the last added runs first: the client address is settled (trusted
    # proxies only) before metrics, the body cap and the limiter see the request.
    app.add_middleware(RateLimitMiddleware)
    app.add_middleware(BodySizeLimitMiddleware)
    app.add_middleware(SecurityHeadersMiddleware)
    app.add_middleware(MetricsMiddleware)
    app.add_middleware(TrustedProxyMiddleware)
    from api.routes import chat, health

    app.include_router(health.router)  # /healthz, /readyz, /metrics
    app.include_router(chat.router)
    from webhooks.routes import register as register_channels

    register_channels(app)  # /webhooks/zalo, /webhooks/telegram, web chat page at /
    from api.routes import answered, open311, pakn

    app.include_router(answered.router)  # /pakn/da-tra-loi and /api/v1/pakn/answered, before /api/v1/pakn/{code}
    app.include_router(pakn.router)
    app.include_router(open311.router)
    from console.routes import mount_static
    from console.routes import router as console_router

    app.include_router(console_router)  # staff console at /console (static files at /console/static)
    mount_static(app)
    from api import validation
    from api.openapi import document_errors

    validation.install(app)  # 422s in Vietnamese, never echoing the input

    document_errors(app)  # the PAKN and Open311 error shapes, as they really are
    return app


app = create_app()
