"""The client's address: the peer's, unless the peer is a configured reverse proxy.

Why: rate limits and the console's login lockout key on the client address. Uvicorn by default
believes `X-Forwarded-For` from any loopback peer, so a client on the same host (or behind a
proxy that passes the header through) could rotate the header and be a new address on every
request. Our entry points start uvicorn with `--no-proxy-headers` (Makefile, docker/), and this
middleware applies uvicorn's own proxy-header logic only for peers listed in
`settings.forwarded_allow_ips` — empty by default, i.e. no header is believed.
"""
from __future__ import annotations

from typing import Any

from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware


class TrustedProxyMiddleware:
    def __init__(self, app: Any) -> None:
        self.app = app
        self._delegates: dict[str, ProxyHeadersMiddleware] = {}

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        from settings import get_settings

        trusted = get_settings().forwarded_allow_ips.strip()
        if scope["type"] not in ("http", "websocket") or not trusted:
            await self.app(scope, receive, send)
            return
        delegate = self._delegates.get(trusted)
        if delegate is None:
            hosts = [h.strip() for h in trusted.split(",") if h.strip()]
            delegate = self._delegates[trusted] = ProxyHeadersMiddleware(self.app, trusted_hosts=hosts)
        await delegate(scope, receive, send)  # type: ignore[arg-type]  # an ASGI scope, as uvicorn's own
