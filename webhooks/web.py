"""The web chat page: one Jinja2 template and local static assets (no CDN), served at `/`.

The page talks to `POST /api/v1/chat` (registered by `api.routes.chat`) with `channel: "web"`. Who
the visitor is comes from a signed, HttpOnly session cookie this page issues (`api.identity`), not
from anything the page's script could choose, so a conversation continues across reloads and
nobody else can continue it.
"""
from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import FileResponse, HTMLResponse
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates

HERE = Path(__file__).resolve().parent
templates = Jinja2Templates(directory=str(HERE / "templates"))

router = APIRouter(tags=["web"])


@router.get("/", response_class=HTMLResponse, include_in_schema=False)
def chat_page(request: Request) -> HTMLResponse:
    """The web chat page."""
    from api.identity import has_web_session, issue_web_session

    response = templates.TemplateResponse(request, "chat.html", {"chat_url": "/api/v1/chat"})
    if not has_web_session(request):
        issue_web_session(request, response)
    response.headers["Cache-Control"] = "no-store"
    return response


@router.get("/favicon.ico", include_in_schema=False)
def favicon() -> FileResponse:
    """The icon browsers ask for on their own (the pages also link /static/favicon.svg)."""
    return FileResponse(HERE / "static" / "favicon.ico", media_type="image/x-icon",
                        headers={"Cache-Control": "public, max-age=86400"})


def register(app: FastAPI) -> None:
    app.include_router(router)
    app.mount("/static", StaticFiles(directory=str(HERE / "static")), name="static")
