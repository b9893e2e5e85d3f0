"""Who is speaking on the REST routes: an identity the server issued or verified, never one the client names.

Why: a conversation (with its unsent petition draft: content, address, name, phone) and a person's
"my petitions" follow the identity a message arrives under. If a client could choose
`channel: zalo, user_id: <victim>` it could read and send the victim's draft. So:

* Zalo and Telegram identities come only from their verified webhooks (`webhooks/`); Open311
  from its own route. The REST chat accepts only its own channels, `web` and `api`.
* `web`: the browser holds a random token in a signed, HttpOnly, SameSite=Strict cookie issued by
  this server (`WEB_COOKIE`); the conversation is keyed by a hash of that token, so neither the
  page's script nor the database holds a usable credential.
* `api`: an integration presents its key (`Authorization: Bearer hc_…` or `X-API-Key`, see
  `api.clients`). The `user_id` it sends is only a label inside that client's namespace:
  `<client>:<label>`. Outside production a request without a key belongs to the one local client
  (`local`), which is how the demo, the grader and the CLI talk to a development server.
* A label is folded (NFKC, case, invisible characters, spaces) before use, so "U1", "u1" and
  "u\u200b1" are one person for the conversation and for the per-user rate limit.
"""
from __future__ import annotations

import hashlib
import secrets
import unicodedata
from dataclasses import dataclass

from fastapi import HTTPException, Request, Response
from fastapi.exceptions import RequestValidationError

from api import signing
from api.clients import SCOPE_CHAT, ApiClient, ClientRegistry
from settings import get_settings

WEB_COOKIE = "hc_chat"
# Over HTTPS the cookie carries the __Host- prefix: browsers then accept it only when it is Secure,
# has Path=/ and no Domain, so a sibling subdomain (or a plain-HTTP page on the same name) cannot
# plant a cookie of its choosing for a visitor and read their conversation later.
SECURE_WEB_COOKIE = "__Host-" + WEB_COOKIE
WEB_COOKIE_PURPOSE = "webchat"
WEB_COOKIE_MAX_AGE_S = 180 * 24 * 3600
LOCAL_CLIENT = ApiClient("local", SCOPE_CHAT)
REST_CHANNELS = ("api", "web")


@dataclass(frozen=True)
class Caller:
    """The identity one request speaks for: the channel and user the bot and the pipeline see."""

    channel: str
    user_id: str
    client_id: str

    @property
    def limit_key(self) -> str:
        return f"{self.channel}:{self.user_id}"


def fold_label(label: str | None) -> str:
    """A client's user label in one spelling: NFKC, no invisible or control characters, case-folded."""
    text = unicodedata.normalize("NFKC", label or "")
    text = "".join(ch for ch in text if unicodedata.category(ch)[0] != "C")
    return " ".join(text.casefold().split())


def _registry(request: Request) -> ClientRegistry:
    registry = getattr(request.app.state, "api_clients", None)
    if registry is None:
        from db import session_scope

        registry = request.app.state.api_clients = ClientRegistry(session_scope)
    return registry


def presented_key(request: Request) -> str | None:
    """The API key a request presents, if any (Bearer token or X-API-Key header)."""
    scheme, _, token = (request.headers.get("authorization") or "").partition(" ")
    if scheme.lower() == "bearer" and token.strip().startswith("hc_"):
        return token.strip()
    return (request.headers.get("x-api-key") or "").strip() or None


def api_client(request: Request, *, scope: str = SCOPE_CHAT) -> ApiClient:
    """The verified client of an `api`-channel request (401 when a key is wrong or, in production, missing)."""
    key = presented_key(request)
    if key is None:
        if get_settings().env != "production":
            return LOCAL_CLIENT
        raise HTTPException(401, detail="Cần khóa API của ứng dụng (Authorization: Bearer hc_…) để dùng kênh “api”.",
                            headers={"WWW-Authenticate": "Bearer"})
    client = _registry(request).verify(key)
    if client is None or client.scope != scope:
        raise HTTPException(401, detail="Khóa API không hợp lệ hoặc đã bị thu hồi.",
                            headers={"WWW-Authenticate": "Bearer"})
    return client


def namespaced_user(client: ApiClient, label: str | None) -> str:
    """`<client>:<folded label>`; 422 when the label is empty once folded."""
    folded = fold_label(label)
    if not folded:
        raise HTTPException(422, detail="Thiếu mã người dùng (user_id).")
    return f"{client.id}:{folded[:128]}"


def web_user(request: Request, response: Response) -> str:
    """The web visitor's id: from a valid session cookie, or a new one issued on `response`."""
    token = _session_token(request)
    if token is None:
        token = issue_web_session(request, response)
    return hashlib.sha256(token.encode()).hexdigest()[:32]


def issue_web_session(request: Request, response: Response) -> str:
    """Set a fresh signed session cookie on `response` and return its token.

    Secure in production and over HTTPS; not on a plain-HTTP development server, where some
    browsers would drop a Secure cookie and every message would then start a new conversation.
    """
    token = secrets.token_urlsafe(32)
    secure = _secure(request)
    response.set_cookie(SECURE_WEB_COOKIE if secure else WEB_COOKIE, signing.sign(token, WEB_COOKIE_PURPOSE),
                        max_age=WEB_COOKIE_MAX_AGE_S, httponly=True, samesite="strict", secure=secure, path="/")
    return token


def _secure(request: Request) -> bool:
    return get_settings().env == "production" or request.url.scheme == "https"


def _session_token(request: Request) -> str | None:
    """The token of a valid session cookie: only the __Host- one where the cookie must be Secure."""
    name = SECURE_WEB_COOKIE if _secure(request) else WEB_COOKIE
    return signing.unsign(request.cookies.get(name), WEB_COOKIE_PURPOSE)


def has_web_session(request: Request) -> bool:
    return _session_token(request) is not None


def check_rest_channel(channel: str | None, allowed: tuple[str, ...] = REST_CHANNELS) -> str:
    """The channel a REST body names, refused unless REST may speak for it."""
    channel = (channel or "api").strip().lower()
    if channel not in allowed:
        raise HTTPException(422, detail=(
            f"Kênh gửi không hợp lệ: “{channel[:32]}”. Qua REST chỉ dùng kênh {' hoặc '.join(allowed)}; "
            "tin nhắn Zalo, Telegram chỉ đến qua webhook đã xác thực của kênh đó."))
    return channel


def chat_caller(request: Request, response: Response, channel: str | None, user_label: str | None) -> Caller:
    """The identity of one `POST /api/v1/chat` (see the module docstring). Refusals are validation
    errors in the route's documented 422 shape."""
    channel = (channel or "api").strip().lower()
    if channel not in REST_CHANNELS:
        raise RequestValidationError([{"type": "channel_not_allowed", "loc": ("body", "channel"),
                                       "msg": "channel not allowed", "input": None}])
    if channel == "web":
        return Caller("web", web_user(request, response), "web")
    client = api_client(request)
    if not fold_label(user_label):  # the same Vietnamese 422 as any other missing field
        raise RequestValidationError([{"type": "missing", "loc": ("body", "user_id"), "msg": "Field required",
                                       "input": None}])
    return Caller("api", namespaced_user(client, user_label), client.id)
