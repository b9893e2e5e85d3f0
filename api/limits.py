"""Abuse limits: one request-body cap for every route and rate limits on the costly POSTs.

* `BodySizeLimitMiddleware` — every request body is capped at `settings.max_body_bytes` (the console's
  catalogue upload, `UPLOAD_PATHS`, at `settings.catalogue_upload_max_bytes` plus the form). A declared
  Content-Length above the cap is refused before reading; a chunked body is read up to the cap
  and refused as soon as it passes it. The app runs only with a complete, small-enough body, so a
  refused request can have stored nothing.
* `RateLimitMiddleware` — `POST /api/v1/chat`, `POST /api/v1/pakn` and Open311's `POST …/requests.(json|xml)`
  are limited to
  `settings.rate_limit_per_ip_per_minute` per client address, and the public lookups of a petition
  (`GET /api/v1/pakn/{code}`, Open311 `GET …/requests…`) to `settings.lookup_rate_limit_per_minute`
  per address, over a sliding 60-second window. The per-user limit
  (`settings.rate_limit_per_minute`) is applied by the routes themselves through `enforce_user_limit`,
  once they know the identity the server verified (`api.identity`): a user named in the body could
  be renamed at will (case, invisible characters, another channel) to dodge it. 429 carries a
  Vietnamese `detail` and `Retry-After`.
* Sliding-window log: in-process by default (`MemoryLimiter`), shared across processes through
  Redis when `settings.redis_url` is set (`RedisLimiter`, one atomic Lua script per hit). If Redis
  cannot be reached the request is let through and a warning logged: an outage of the limiter
  must not take the citizen service down.
"""
from __future__ import annotations

import asyncio
import json
import logging
import math
import threading
import time
import uuid
from collections import deque
from collections.abc import Sequence
from typing import Any

log = logging.getLogger(__name__)

WINDOW_S = 60.0
LIMITED = {("POST", "/api/v1/chat"): "chat", ("POST", "/api/v1/pakn"): "pakn",
           ("POST", "/open311/v2/requests.json"): "pakn", ("POST", "/open311/v2/requests.xml"): "pakn"}
# Public lookups by tracking code: a code must not be guessable by brute force (see pakn.service.new_code).
# The search of published answers (page and API) scans many rows and is limited the same way.
LOOKUP_PREFIXES = ("/api/v1/pakn/", "/open311/v2/requests", "/pakn/da-tra-loi")
LOOKUP_EXCLUDED_SUFFIXES = ("/classify",)
BODY_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
# Routes that take a file: their own, larger cap (an export of the national TTHC database is megabytes).
UPLOAD_PATHS = frozenset({"/console/catalogue/imports"})
MULTIPART_OVERHEAD = 16_000  # boundaries, part headers and the form's other fields


def too_large_detail(limit: int) -> str:
    return f"Dữ liệu gửi lên quá lớn (tối đa {max(1, limit // 1000)} KB)."


def too_many_detail(retry_after: int) -> str:
    return f"Bạn đã gửi quá nhiều yêu cầu. Vui lòng thử lại sau {retry_after} giây."


async def _json_response(send: Any, status: int, body: dict[str, Any],
                         headers: Sequence[tuple[bytes, bytes]] = ()) -> None:
    raw = json.dumps(body, ensure_ascii=False).encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(raw)).encode()),
                            *headers]})
    await send({"type": "http.response.body", "body": raw})


async def _too_many(send: Any, path: str, retry_after: int) -> None:
    """429 with `Retry-After`: on Open311 paths in GeoReport v2's error shape (`<errors>` for `.xml`,
    `[{"code", "description"}]` otherwise), since its clients parse only that; elsewhere `{"detail"}`."""
    headers = [(b"retry-after", str(retry_after).encode())]
    if not path.startswith("/open311/"):
        await _json_response(send, 429, {"detail": too_many_detail(retry_after)}, headers)
        return
    from api.routes.open311 import o311_error

    response = o311_error(429, too_many_detail(retry_after), "xml" if path.endswith(".xml") else "json")
    await send({"type": "http.response.start", "status": 429,
                "headers": [*response.raw_headers, *headers]})
    await send({"type": "http.response.body", "body": response.body})


def _replay(body: bytes, receive: Any) -> Any:
    """A `receive` that yields the buffered body once, then defers to the real one (disconnects)."""
    sent = False

    async def replay() -> dict[str, Any]:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        message: dict[str, Any] = await receive()
        return message

    return replay


class BodySizeLimitMiddleware:
    """413 for any request whose body exceeds `max_body_bytes` (default: settings at call time)."""

    def __init__(self, app: Any, max_body_bytes: int | None = None) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes

    def limit(self, path: str = "") -> int:
        if self.max_body_bytes is not None:
            return self.max_body_bytes
        from settings import get_settings

        s = get_settings()
        if path in UPLOAD_PATHS:
            return max(s.max_body_bytes, s.catalogue_upload_max_bytes + MULTIPART_OVERHEAD)
        return s.max_body_bytes

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http" or scope["method"] not in BODY_METHODS:
            await self.app(scope, receive, send)
            return
        limit = self.limit(scope.get("path", ""))
        headers = dict(scope.get("headers") or [])
        declared = headers.get(b"content-length", b"").decode("latin-1").strip()
        if declared.isdigit() and int(declared) > limit:
            await _json_response(send, 413, {"detail": too_large_detail(limit)})
            return
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > limit:
                await _json_response(send, 413, {"detail": too_large_detail(limit)})
                return
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        scope.setdefault("state", {})["body_checked"] = True
        await self.app(scope, _replay(b"".join(chunks), receive), send)


# ---------------------------------------------------------------- limiters


class MemoryLimiter:
    """Sliding-window log per key, in this process."""

    def __init__(self, window_s: float = WINDOW_S) -> None:
        self.window_s = window_s
        self._hits: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    async def hit(self, key: str, limit: int, now: float | None = None) -> int:
        """Record a hit; 0 if allowed, else the seconds until the next hit would be allowed."""
        now = time.monotonic() if now is None else now
        with self._lock:
            q = self._hits.setdefault(key, deque())
            while q and q[0] <= now - self.window_s:
                q.popleft()
            if len(q) >= limit:
                return max(1, math.ceil(q[0] + self.window_s - now))
            q.append(now)
            if len(self._hits) > 50_000:  # forget idle keys so the map cannot grow without bound
                for k in [k for k, v in self._hits.items() if not v or v[-1] <= now - self.window_s]:
                    del self._hits[k]
            return 0


# KEYS[1] = the window's sorted set; ARGV = now (ms), window (ms), limit, unique member.
_LUA = """
local key, now, window, limit = KEYS[1], tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
redis.call('ZREMRANGEBYSCORE', key, '-inf', now - window)
if redis.call('ZCARD', key) >= limit then
  local oldest = redis.call('ZRANGE', key, 0, 0, 'WITHSCORES')
  return math.max(1, math.ceil((tonumber(oldest[2]) + window - now) / 1000))
end
redis.call('ZADD', key, now, ARGV[4])
redis.call('PEXPIRE', key, window)
return 0
"""


class RedisLimiter:
    """Sliding-window log per key in a Redis sorted set, shared by every process."""

    def __init__(self, url: str, prefix: str = "trolyhc:", window_s: float = WINDOW_S) -> None:
        import redis.asyncio as aioredis

        self.prefix = prefix + "rl:"
        self.window_s = window_s
        self.url = url
        self._aioredis = aioredis
        self._clients: dict[int, Any] = {}  # one client per event loop (TestClient runs one per test)

    def _client(self) -> Any:
        loop = asyncio.get_running_loop()
        client = self._clients.get(id(loop))
        if client is None:
            client = self._aioredis.Redis.from_url(self.url, socket_timeout=1.0, socket_connect_timeout=1.0)
            self._clients = {id(loop): client}
        return client

    async def hit(self, key: str, limit: int, now: float | None = None) -> int:
        now_ms = int((time.time() if now is None else now) * 1000)
        script = self._client().register_script(_LUA)
        return int(await script(keys=[self.prefix + key],
                                args=[now_ms, int(self.window_s * 1000), limit, f"{now_ms}-{uuid.uuid4().hex}"]))


def make_limiter(settings: Any) -> MemoryLimiter | RedisLimiter:
    if settings.redis_url:
        return RedisLimiter(settings.redis_url, settings.redis_key_prefix)
    return MemoryLimiter()


# ---------------------------------------------------------------- middleware


def limited_kind(scope: dict[str, Any]) -> str | None:
    """Which limit a request falls under ("chat", "pakn", "lookup"), or None."""
    if scope["type"] != "http":
        return None
    method, path = str(scope.get("method")), str(scope.get("path", "")).rstrip("/")
    if method == "GET" and path.startswith(LOOKUP_PREFIXES) and not path.endswith(LOOKUP_EXCLUDED_SUFFIXES):
        return "lookup"
    return LIMITED.get((method, path))


async def _hit(limiter: Any, key: str, limit: int, weight: int = 1) -> int:
    """Charge `weight` hits to `key`; the Retry-After of the first refused one, else 0 (an outage allows)."""
    try:
        for _ in range(max(1, weight)):
            retry_after = int(await limiter.hit(key, limit))
            if retry_after:
                return retry_after
    except Exception as exc:  # noqa: BLE001 - limiter outage: let the request through
        log.warning("rate limiter unavailable (%s); request allowed", type(exc).__name__)
    return 0


async def enforce_user_limit(request: Any, kind: str, user_key: str) -> None:
    """429 once the verified user `user_key` passes `settings.rate_limit_per_minute` on `kind`."""
    from fastapi import HTTPException

    from settings import get_settings

    limit = get_settings().rate_limit_per_minute
    limiter = request.scope.get("state", {}).get("rate_limiter")
    if limit <= 0 or limiter is None:
        return
    retry_after = await _hit(limiter, f"{kind}:user:{user_key}", limit)
    if retry_after:
        log.info("rate limit reached on %s (user)", kind)
        raise HTTPException(429, detail=too_many_detail(retry_after), headers={"Retry-After": str(retry_after)})


async def charge_lookups(request: Any, extra: int) -> None:
    """Charge `extra` more lookups to this address (one request asking for several codes)."""
    from fastapi import HTTPException

    from settings import get_settings

    limit = get_settings().lookup_rate_limit_per_minute
    limiter = request.scope.get("state", {}).get("rate_limiter")
    if limit <= 0 or limiter is None or extra <= 0:
        return
    client = request.client.host if request.client else "unknown"
    retry_after = await _hit(limiter, f"lookup:ip:{client}", limit, extra)
    if retry_after:
        raise HTTPException(429, detail=too_many_detail(retry_after), headers={"Retry-After": str(retry_after)})


class RateLimitMiddleware:
    """Per-address and per-user sliding-window limits on the limited routes (see module docstring).

    Must sit inside `BodySizeLimitMiddleware`, which guarantees the body it buffers is small.
    """

    def __init__(self, app: Any, limiter: Any = None) -> None:
        self.app = app
        self._limiter = limiter

    def limiter(self, settings: Any) -> Any:
        if self._limiter is None:
            self._limiter = make_limiter(settings)
        return self._limiter

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        kind = limited_kind(scope)
        if kind is None:
            await self.app(scope, receive, send)
            return
        from settings import get_settings

        settings = get_settings()
        if settings.rate_limit_per_minute <= 0:  # limits switched off (load benchmarks)
            await self.app(scope, receive, send)
            return
        limiter = self.limiter(settings)
        scope.setdefault("state", {})["rate_limiter"] = limiter  # for enforce_user_limit in the routes
        per_ip = settings.lookup_rate_limit_per_minute if kind == "lookup" else settings.rate_limit_per_ip_per_minute
        client = scope.get("client")
        if per_ip > 0:
            retry_after = await _hit(limiter, f"{kind}:ip:{client[0] if client else 'unknown'}", per_ip)
            if retry_after:
                log.info("rate limit reached on %s (address)", kind)
                await _too_many(send, scope.get("path", ""), retry_after)
                return
        await self.app(scope, receive, send)
