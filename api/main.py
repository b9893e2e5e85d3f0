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
    yield


def create_app() -> FastAPI:
    """Build the application with all routers."""
    app = FastAPI(title="Trợ lý hành chính công", version="0.1.0", lifespan=lifespan)
    from api.routes import chat, health

    app.include_router(health.router)
    app.include_router(chat.router)
    from api.routes import open311, pakn

    app.include_router(pakn.router)
    app.include_router(open311.router)
    return app


app = create_app()
