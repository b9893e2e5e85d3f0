"""The FastAPI application: one place where every router is registered.

`create_app()` builds the app; the lifespan loads settings, migrates the store and loads every
model and index — the retrieval index, the chat service, the PAKN classifier and ward index — once,
before the server accepts a connection, so the first requests are as fast as the rest and `/readyz`
never says ready while a load is pending. In development it also starts the local mail sink
(pakn/mailsink.py) so petitions e-mailed to offices arrive somewhere visible.
"""
from __future__ import annotations

from contextlib import asynccontextmanager

from fastapi import FastAPI

from settings import get_settings


@asynccontextmanager
async def lifespan(app: FastAPI):
    from db import migrate

    settings = get_settings()
    migrate(settings.database_url)
    from bot.service import get_chat_service
    from bot.setup import ensure_ready

    ensure_ready()
    get_chat_service().warm_up()
    from pakn.triage import warm_up as warm_up_triage

    warm_up_triage()  # PAKN classifier (shipped example vectors), ward index, routing rules
    from pakn.mailsink import start_dev_mail_sink

    app.state.mail_sink = start_dev_mail_sink(settings)  # development only; None otherwise
    from webhooks.routes import start_channels, stop_channels

    await start_channels(app)  # inbox worker, Zalo/Telegram senders for PAKN replies
    try:
        yield
    finally:
        await stop_channels(app)
        if app.state.mail_sink is not None:
            app.state.mail_sink.stop()


def create_app() -> FastAPI:
    """Build the application with all routers."""
    from api.logging import setup_logging

    setup_logging()  # JSON lines with personal data masked, before anything logs
    settings = get_settings()
    # Production serves no API explorer: the schema is published with the code, not by the server.
    # Elsewhere /docs and /redoc are api.docs's pages, which load nothing from a CDN.
    production = settings.env == "production"
    app = FastAPI(title="Trợ lý hành chính công", version="0.1.0", lifespan=lifespan, docs_url=None,
                  redoc_url=None, openapi_url=None if production else "/openapi.json")
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
