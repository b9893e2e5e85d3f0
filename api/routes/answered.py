"""Published answers (issue 19, item 3): the public page `GET /pakn/da-tra-loi` and its API
`GET /api/v1/pakn/answered`.

Why publish: people with the same problem (a broken street light, a late land certificate) find
the office's answer without filing again, and offices are seen to answer. What is shown follows
`pakn.published` — the one rule shared with the REST lookup and Open311: the office's masked
answer, category, ward, office and dates for any answered petition but a complaint or
denunciation (never published); the petition's own masked words only when it was filed through
Open311. Search folds accents and case (`retrieval.normalize.loose_key`) and looks only at what a
result shows.

The page is rendered on the server (Jinja2, autoescaped) with a plain GET form: it runs no script
at all, so it needs nothing beyond the app-wide CSP (`api.headers`) that the web chat page has.
Both routes count against the per-address lookup limit (`api.limits`): a search scans many rows.

This router is included before the PAKN router so `/api/v1/pakn/answered` is not read as a
tracking code by `GET /api/v1/pakn/{code}`.
"""
from __future__ import annotations

from urllib.parse import urlencode

from fastapi import APIRouter, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse

from api.routes.pakn import VN_TZ, iso
from pakn.published import MAX_QUERY_CHARS, AnsweredItem

router = APIRouter(tags=["pakn"])
PAGE_SIZE = 20
MAX_OFFSET = 5000


def item_view(item: AnsweredItem) -> dict:
    from pakn.service import STATUS_VI

    return {"code": item.code, "status": item.status, "status_name": STATUS_VI.get(item.status),
            "category": item.category, "category_name": item.category_name, "ward": item.ward,
            "office": {"id": item.office_id, "name": item.office_name},
            "created_at": iso(item.created_at), "answered_at": iso(item.answered_at),
            "description": item.description, "answer": item.answer}


def _search(q: str | None, category: str | None, limit: int, offset: int) -> tuple[list[AnsweredItem], int]:
    from db import session_scope
    from pakn.published import search_answered

    with session_scope() as session:
        return search_answered(session, q, category=category, limit=limit, offset=offset)


@router.get("/api/v1/pakn/answered")
async def answered_api(q: str | None = Query(None, max_length=MAX_QUERY_CHARS),
                       category: str | None = Query(None, max_length=40),
                       limit: int = Query(PAGE_SIZE, ge=1, le=50),
                       offset: int = Query(0, ge=0, le=MAX_OFFSET)) -> dict:
    """Answered petitions, newest answer first; `q` matches the shown text without accents or case."""
    items, total = await run_in_threadpool(_search, q, category, limit, offset)
    return {"q": q or "", "total": total, "limit": limit, "offset": offset, "items": [item_view(i) for i in items]}


def _date(dt) -> str:
    return dt.astimezone(VN_TZ).strftime("%d/%m/%Y") if dt else ""


@router.get("/pakn/da-tra-loi", response_class=HTMLResponse, include_in_schema=False)
async def answered_page(request: Request) -> HTMLResponse:
    """The public page of answered petitions, with a search box (`q`) and pages (`trang`)."""
    from webhooks.web import templates

    q = (request.query_params.get("q") or "").strip()[:MAX_QUERY_CHARS]
    raw_page = request.query_params.get("trang") or "1"
    page = int(raw_page) if raw_page.isdigit() and 0 < int(raw_page) <= MAX_OFFSET // PAGE_SIZE else 1
    items, total = await run_in_threadpool(_search, q, None, PAGE_SIZE, (page - 1) * PAGE_SIZE)
    pages = max(1, -(-total // PAGE_SIZE))

    def link(n: int) -> str:
        return "/pakn/da-tra-loi?" + urlencode({k: v for k, v in (("q", q), ("trang", n)) if v})

    rows = [{**item_view(i), "created": _date(i.created_at), "answered": _date(i.answered_at)} for i in items]
    response = templates.TemplateResponse(request, "answered.html", {
        "q": q, "items": rows, "total": total, "page": page, "pages": pages,
        "prev_url": link(page - 1) if page > 1 else None, "next_url": link(page + 1) if page < pages else None})
    response.headers["Cache-Control"] = "no-cache"
    return response
