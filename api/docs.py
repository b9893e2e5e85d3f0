"""The API explorer (/docs, Swagger UI) and reference (/redoc, ReDoc) with no CDN.

FastAPI's own pages load Swagger UI and ReDoc from a CDN (and ReDoc's fonts from Google), so they
were blank on a machine without internet — the usual case for an office's intranet server. Here
they load the same bundles from this server: the pinned `fastapi-offline` package ships
swagger-ui-bundle.js, swagger-ui.css and redoc.standalone.js, served at /docs/static. Swagger UI's
validator badge (an image from validator.swagger.io) is turned off, and ReDoc's "by Redocly" logo,
an image its bundle loads from Redocly's CDN, is refused by the pages' own CSP: these two pages
start their viewer with an inline script and style, so they cannot carry the app-wide CSP
(api.headers), but theirs still lets them load, fetch or connect to this origin only. Production
serves none of this (see `api.main`).
"""
from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html, get_swagger_ui_oauth2_redirect_html
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

ASSETS_URL = "/docs/static"
FAVICON_URL = "/static/favicon.svg"  # webhooks/static, served with the web chat
CSP = ("default-src 'self'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline'; "
       "img-src 'self' data:; worker-src 'self' blob:; object-src 'none'; base-uri 'none'; "
       "form-action 'self'; frame-ancestors 'none'")


def assets_dir() -> Path:
    """Where the installed fastapi-offline keeps its Swagger UI and ReDoc files."""
    import fastapi_offline

    return Path(fastapi_offline.__file__).resolve().parent / "static"


def _local_only(response: HTMLResponse) -> HTMLResponse:
    response.headers["Content-Security-Policy"] = CSP
    return response


def install(app: FastAPI, *, docs_url: str = "/docs", redoc_url: str = "/redoc") -> None:
    """Serve /docs and /redoc from local assets. The app must be built with docs_url=None and
    redoc_url=None so FastAPI's CDN pages are not registered too."""
    openapi_url = app.openapi_url or "/openapi.json"
    oauth2_redirect_url = f"{docs_url}/oauth2-redirect"
    app.mount(ASSETS_URL, StaticFiles(directory=assets_dir()), name="docs-assets")

    @app.get(docs_url, include_in_schema=False)
    def swagger_ui() -> HTMLResponse:
        return _local_only(get_swagger_ui_html(
            openapi_url=openapi_url, title=f"{app.title} — Swagger UI", oauth2_redirect_url=oauth2_redirect_url,
            swagger_js_url=f"{ASSETS_URL}/swagger-ui-bundle.js", swagger_css_url=f"{ASSETS_URL}/swagger-ui.css",
            swagger_favicon_url=FAVICON_URL, swagger_ui_parameters={"validatorUrl": None}))

    @app.get(oauth2_redirect_url, include_in_schema=False)
    def swagger_ui_redirect() -> HTMLResponse:
        return get_swagger_ui_oauth2_redirect_html()

    @app.get(redoc_url, include_in_schema=False)
    def redoc() -> HTMLResponse:
        return _local_only(get_redoc_html(openapi_url=openapi_url, title=f"{app.title} — ReDoc",
                              redoc_js_url=f"{ASSETS_URL}/redoc.standalone.js", redoc_favicon_url=FAVICON_URL,
                              with_google_fonts=False))


__all__ = ["ASSETS_URL", "install"]
