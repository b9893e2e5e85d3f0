"""The console's request guard: authentication for every route, CSRF for every POST.

Why one router-level guard instead of a check in each handler: a route added later is protected
without anyone remembering to protect it; only the login page is public, by an explicit list.

CSRF uses the synchroniser-token pattern: the token lives in the server-side session row and in a
hidden `csrf_token` field of every form; a POST whose field does not match is refused with 403.
The login form has no session yet, so it uses a signed random value in a short-lived cookie
(`console_prelogin`) echoed by the form (double submit), which stops login CSRF. A cross-site
`Origin` header is refused as well, as a second line behind SameSite=Lax cookies.
"""
from __future__ import annotations

import hmac
from urllib.parse import quote, urlsplit

from fastapi import HTTPException, Request
from fastapi.concurrency import run_in_threadpool

from console.auth import PRELOGIN_COOKIE, SESSION_COOKIE, Principal, load_principal, unsign

CSRF_FIELD = "csrf_token"
PUBLIC_PATHS = frozenset({"/console/login"})
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def _same_origin(request: Request) -> bool:
    origin = request.headers.get("origin")
    if not origin or origin == "null":
        return origin != "null"
    host = request.headers.get("host", "")
    return urlsplit(origin).netloc == host


def _lookup(cookie: str | None) -> Principal | None:
    from db import session_scope

    with session_scope() as db:
        return load_principal(db, cookie)


async def _posted_token(request: Request) -> str:
    ctype = request.headers.get("content-type", "")
    if "form" in ctype:
        form = await request.form()
        value = form.get(CSRF_FIELD)
        if isinstance(value, str):
            return value
    return request.headers.get("x-csrf-token", "")


def _refuse() -> HTTPException:
    return HTTPException(status_code=403, detail="Yêu cầu không hợp lệ (thiếu hoặc sai mã chống giả mạo). "
                                                 "Vui lòng tải lại trang và thử lại.")


async def guard(request: Request) -> None:
    """Router dependency: set `request.state.principal` or refuse the request.

    Unauthenticated requests are redirected to the login page (302, with `next` for GETs);
    POSTs must carry the session's CSRF token and must not come from another origin.
    """
    path = request.url.path
    unsafe = request.method not in SAFE_METHODS
    if unsafe and not _same_origin(request):
        raise _refuse()
    if path in PUBLIC_PATHS:
        request.state.principal = None
        if unsafe:
            expected = unsign(request.cookies.get(PRELOGIN_COOKIE), "prelogin")
            if not expected or not hmac.compare_digest(expected, await _posted_token(request)):
                raise _refuse()
        return
    principal = await run_in_threadpool(_lookup, request.cookies.get(SESSION_COOKIE))
    if principal is None:
        target = "/console/login"
        if not unsafe:
            nxt = path + (f"?{request.url.query}" if request.url.query else "")
            target += "?next=" + quote(nxt, safe="")
        raise HTTPException(status_code=302, detail="Cần đăng nhập", headers={"Location": target})
    if unsafe and not hmac.compare_digest(principal.csrf_token, await _posted_token(request)):
        raise _refuse()
    request.state.principal = principal


def current(request: Request) -> Principal:
    """Endpoint dependency: the principal the guard established."""
    principal = getattr(request.state, "principal", None)
    if principal is None:  # defensive: a route mounted outside the guarded router
        raise HTTPException(status_code=302, detail="Cần đăng nhập", headers={"Location": "/console/login"})
    return principal


__all__ = ["CSRF_FIELD", "PUBLIC_PATHS", "current", "guard"]
