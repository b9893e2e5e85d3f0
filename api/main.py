"""The FastAPI application: one place where every router is registered.

`create_app()` builds the app; the lifespan loads settings, migrates the store and warms the
retrieval index once, so the first request is as fast as the rest.
"""
from __future__ import annotations

from contextlib import asynccontextmanager

from fastapi import FastAPI

from settings import get_settings


@asynccontextmanager
async def lifespan(app: FastAPI):
    from knowledge.store import migrate

    settings = get_settings()
    migrate(settings.database_url)
    from bot.service import get_chat_service
    from bot.setup import ensure_ready

    ensure_ready()
    get_chat_service().warm_up()
    from pakn.localities import get_index

    get_index()  # PAKN place tables (10,040 old wards with them, ~1 s): at start, not on the first petition
    from webhooks.routes import start_channels, stop_channels

    await start_channels(app)  # inbox worker, Zalo/Telegram senders for PAKN replies
    yield
    await stop_channels(app)


def create_app() -> FastAPI:
    """Build the application with all routers."""
    from api.logging import setup_logging

    setup_logging()  # JSON lines with personal data masked, before anything logs
    app = FastAPI(title="Trợ lý hành chính công", version="0.1.0", lifespan=lifespan)
    from api.limits import BodySizeLimitMiddleware, RateLimitMiddleware
    from api.observability import MetricsMiddleware

    # Outermost first: metrics see every response (413/429 included), the body cap runs before the limiter.
    app.add_middleware(RateLimitMiddleware)
    app.add_middleware(BodySizeLimitMiddleware)
    app.add_middleware(MetricsMiddleware)
    from api.routes import chat, health

    app.include_router(health.router)  # /healthz, /readyz, /metrics
    app.include_router(chat.router)
    from webhooks.routes import register as register_channels

    register_channels(app)  # /webhooks/zalo, /webhooks/telegram, web chat page at /
    from api.routes import open311, pakn

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
