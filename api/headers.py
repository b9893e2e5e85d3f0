"""Security headers on every response, so no page can be left without them.

Why app-wide: the console set its own headers and the web chat page at `/` had none (framing,
MIME sniffing, script sources). A header a route sets itself is kept; the defaults fill in the
rest. The CSP allows only this origin's scripts and styles — the web chat and the console load
nothing from elsewhere. The /docs and /redoc pages (api.docs, local assets) start Swagger UI and
ReDoc with an inline script, so they get the other headers but not the CSP (and are not served in
production, see `api.main`).
"""
from __future__ import annotations

from typing import Any

CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; object-src 'none'; "
       "base-uri 'none'; form-action 'self'; frame-ancestors 'none'")
DEFAULTS: tuple[tuple[bytes, bytes], ...] = (
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"same-origin"),
)
NO_CSP_PATHS = ("/docs", "/redoc")


class SecurityHeadersMiddleware:
    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = scope.get("path", "")

        async def send_with_headers(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers") or [])
                present = {k.lower() for k, _ in headers}
                headers += [(k, v) for k, v in DEFAULTS if k not in present]
                content_type = next((v for k, v in headers if k.lower() == b"content-type"), b"")
                if (content_type.startswith(b"text/html") and b"content-security-policy" not in present
                        and not path.startswith(NO_CSP_PATHS)):
                    headers.append((b"content-security-policy", CSP.encode()))
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_headers)
