"""Zalo Official Account API client: send consultation (CS) and transaction messages, keep the
token pair fresh.

Protocol (Zalo OA API v3 / OAuth v4):

* Send: `POST {api_base}/v3.0/oa/message/cs`, header `access_token`, JSON
  `{"recipient": {"user_id": …}, "message": {"text": …, "attachment"?: …}}`. The answer is
  `{"error": 0, "message": "Success", "data": {"message_id": …}}`; any other `error` is a failure.
  Text over 2,000 characters is refused, so long replies are split at sentence ends.
* Quick replies: a `template` attachment whose payload holds `buttons` of type `oa.query.show`;
  a tap comes back as an ordinary `user_send_text` carrying the button's `payload`. They go on
  the last piece of a reply only. If Zalo refuses the buttons, the suggestions are sent as a
  numbered list in the text instead.
* Transaction messages: `POST {api_base}/v3.0/oa/message/transaction`, same envelope, the
  message being a `template` attachment `{"template_type", "language": "VI", "elements": [header,
  text, table]}`. Which of them Zalo accepts when is decided in `webhooks/zalo_window.py`.
* Tokens: an access token lives 25 hours. `POST {oauth_base}/v4/oa/access_token` with form
  `refresh_token, app_id, grant_type=refresh_token` and header `secret_key` returns a new
  access token AND a new refresh token; the old refresh token is dead from then on. So the new
  pair is committed to the `zalo_tokens` table before it is used. Error -216 (access token
  invalid/expired) triggers one refresh and one retry.

### Usage example
    client = ZaloClient.from_settings(get_settings())
    client.send_reply("2468458835296197922", reply)
"""
from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import httpx

from bot.types import Reply
from db import session_scope
from webhooks.base import render_text, split_text
from webhooks.errors import ChannelSendError, TokenRefreshError, ZaloApiError
from webhooks.models import ZaloTokenRow, utcnow

log = logging.getLogger(__name__)

MAX_TEXT_CHARS = 2000
MAX_BUTTONS = 5
MAX_BUTTON_TITLE = 100
TOKEN_EXPIRED = -216
REFRESH_MARGIN = timedelta(minutes=10)
DEFAULT_TTL = timedelta(hours=25)


@dataclass(frozen=True)
class TokenPair:
    access_token: str
    refresh_token: str
    expires_at: datetime | None


class TokenStore:
    """The durable token pair of one Zalo app (table `zalo_tokens`)."""

    def __init__(self, app_id: str, database_url: str | None = None) -> None:
        self.app_id = app_id or "default"
        self.url = database_url

    def load(self) -> TokenPair | None:
        with session_scope(self.url) as session:
            row = session.get(ZaloTokenRow, self.app_id)
            if row is None:
                return None
            return TokenPair(row.access_token, row.refresh_token, row.expires_at)

    def save(self, pair: TokenPair) -> None:
        with session_scope(self.url) as session:
            row = session.get(ZaloTokenRow, self.app_id)
            if row is None:
                row = ZaloTokenRow(app_id=self.app_id)
                session.add(row)
            row.access_token = pair.access_token
            row.refresh_token = pair.refresh_token
            row.expires_at = pair.expires_at
            row.updated_at = utcnow()

    def seed(self, access_token: str, refresh_token: str) -> None:
        """Store the configured pair once; a stored (newer, refreshed) pair always wins."""
        if (access_token or refresh_token) and self.load() is None:
            self.save(TokenPair(access_token, refresh_token, None))


class ZaloClient:
    """Blocking client (call it from a worker thread); thread-safe, refreshes at most once at a time."""

    def __init__(self, *, app_id: str, app_secret_key: str, tokens: TokenStore,
                 api_base: str = "https://openapi.zalo.me", oauth_base: str = "https://oauth.zaloapp.com",
                 transport: httpx.BaseTransport | None = None, timeout_s: float = 10.0,
                 on_cs_sent: Callable[[str], None] | None = None) -> None:
        self.app_id = app_id
        # Called with the user id after each accepted cs message (the per-interaction quota count).
        self.on_cs_sent = on_cs_sent
        self.app_secret_key = app_secret_key
        self.tokens = tokens
        self.api_base = api_base.rstrip("/")
        self.oauth_base = oauth_base.rstrip("/")
        self._http = httpx.Client(transport=transport, timeout=timeout_s)
        self._refresh_lock = threading.Lock()

    @classmethod
    def from_settings(cls, settings: Any, *, transport: httpx.BaseTransport | None = None) -> ZaloClient:
        store = TokenStore(settings.zalo_app_id, settings.database_url)
        store.seed(settings.zalo_access_token.get_secret_value(), settings.zalo_refresh_token.get_secret_value())
        return cls(app_id=settings.zalo_app_id, app_secret_key=settings.zalo_app_secret_key.get_secret_value(),
                   tokens=store, api_base=settings.zalo_api_base, oauth_base=settings.zalo_oauth_base,
                   transport=transport)

    def close(self) -> None:
        self._http.close()

    # ------------------------------------------------------------------ sending
    def send_reply(self, user_id: str, reply: Reply) -> list[str]:
        """Send a bot reply: text + "Nguồn" line, split; suggestions as buttons on the last piece."""
        buttons = _buttons(reply.suggestions)
        if not buttons:
            return self.send_text(user_id, render_text(reply, numbered_suggestions=bool(reply.suggestions)))
        pieces = split_text(render_text(reply), MAX_TEXT_CHARS)
        ids = [self._send(user_id, piece) for piece in pieces[:-1]]
        try:
            ids.append(self._send(user_id, pieces[-1], _button_attachment(buttons)))
        except ZaloApiError as exc:
            # Buttons are a nicety: if Zalo refuses them, fall back to a numbered list in text.
            log.warning("zalo refused quick-reply buttons (error %s); sending them as text", exc.code)
            fallback = render_text(reply.model_copy(update={"reply": pieces[-1], "citations": []}),
                                   numbered_suggestions=True)
            ids.extend(self._send(user_id, p) for p in split_text(fallback, MAX_TEXT_CHARS))
        return ids

    def send_text(self, user_id: str, text: str) -> list[str]:
        """Send plain text, split into pieces Zalo accepts; returns Zalo message ids."""
        return [self._send(user_id, piece) for piece in split_text(text, MAX_TEXT_CHARS)]

    def send_transaction(self, user_id: str, template_type: str, *, header: str, body: str,
                         table: list[tuple[str, str]] | None = None) -> str:
        """Send one transaction message (a header, a text, an optional key/value table)."""
        elements: list[dict[str, Any]] = [{"type": "header", "content": header, "align": "left"},
                                          {"type": "text", "content": body, "align": "left"}]
        if table:
            elements.append({"type": "table", "content": [{"key": k, "value": v} for k, v in table]})
        message = {"attachment": {"type": "template", "payload": {
            "template_type": template_type, "language": "VI", "elements": elements}}}
        return self._call("transaction", {"recipient": {"user_id": user_id}, "message": message})

    def _send(self, user_id: str, text: str, attachment: dict | None = None) -> str:
        message: dict[str, Any] = {"text": text}
        if attachment:
            message["attachment"] = attachment
        message_id = self._call("cs", {"recipient": {"user_id": user_id}, "message": message})
        if self.on_cs_sent is not None:
            try:
                self.on_cs_sent(user_id)
            except Exception:  # the message is out; a lost count must not make the outbox re-send it
                log.exception("could not count a zalo cs message")
        return message_id

    def _call(self, kind: str, body: dict) -> str:
        """POST one message of `kind` ("cs", "transaction"); one token refresh on -216."""
        token = self._access_token()
        data = self._post_message(token, body, kind)
        if data.get("error") == TOKEN_EXPIRED:
            token = self.refresh(failed_token=token).access_token
            data = self._post_message(token, body, kind)
        if data.get("error", 0) != 0:
            raise ZaloApiError(int(data.get("error", -1)), str(data.get("message", "")))
        return str((data.get("data") or {}).get("message_id", ""))

    def _post_message(self, token: str, body: dict, kind: str = "cs") -> dict:
        try:
            resp = self._http.post(f"{self.api_base}/v3.0/oa/message/{kind}", json=body,
                                   headers={"access_token": token})
        except httpx.HTTPError as exc:
            raise ChannelSendError(f"Zalo API unreachable: {type(exc).__name__}") from exc
        if resp.status_code >= 500:
            raise ChannelSendError(f"Zalo API HTTP {resp.status_code}")
        try:
            data = resp.json()
        except ValueError as exc:
            raise ChannelSendError(f"Zalo API sent non-JSON (HTTP {resp.status_code})") from exc
        return data if isinstance(data, dict) else {"error": -1, "message": "unexpected answer"}

    # ------------------------------------------------------------------ tokens
    def _access_token(self) -> str:
        pair = self.tokens.load()
        if pair is None or not pair.access_token:
            if pair is not None and pair.refresh_token:
                return self.refresh(failed_token=None).access_token
            raise TokenRefreshError("no Zalo access token configured")
        if pair.expires_at is not None and pair.expires_at - REFRESH_MARGIN <= utcnow() and pair.refresh_token:
            return self.refresh(failed_token=pair.access_token).access_token
        return pair.access_token

    def refresh(self, failed_token: str | None) -> TokenPair:
        """Exchange the refresh token for a new pair and store it durably before returning it.

        If another thread or process already refreshed (the stored access token is no longer
        `failed_token`), the stored pair is used: spending the single-use refresh token twice
        would lock the OA out.
        """
        with self._refresh_lock:
            current = self.tokens.load()
            if current is not None and current.access_token and current.access_token != failed_token \
                    and (current.expires_at is None or current.expires_at - REFRESH_MARGIN > utcnow()):
                return current
            if current is None or not current.refresh_token:
                raise TokenRefreshError("no Zalo refresh token stored")
            try:
                resp = self._http.post(
                    f"{self.oauth_base}/v4/oa/access_token",
                    data={"refresh_token": current.refresh_token, "app_id": self.app_id,
                          "grant_type": "refresh_token"},
                    headers={"secret_key": self.app_secret_key},
                )
                data = resp.json()
            except (httpx.HTTPError, ValueError) as exc:
                raise TokenRefreshError(f"token refresh failed: {type(exc).__name__}") from exc
            if not isinstance(data, dict) or not data.get("access_token") or not data.get("refresh_token"):
                code = data.get("error") if isinstance(data, dict) else None
                raise TokenRefreshError(f"Zalo refused the token refresh (error {code})")
            ttl = _seconds(data.get("expires_in"))
            pair = TokenPair(str(data["access_token"]), str(data["refresh_token"]),
                             utcnow() + (timedelta(seconds=ttl) if ttl else DEFAULT_TTL))
            self.tokens.save(pair)  # durable BEFORE first use: the old refresh token is now spent
            log.info("zalo access token refreshed")
            return pair


def _seconds(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def _buttons(suggestions: list[str]) -> list[dict[str, str]]:
    out = []
    for s in suggestions[:MAX_BUTTONS]:
        s = s.strip()
        if s and len(s) <= MAX_BUTTON_TITLE:
            out.append({"title": s, "type": "oa.query.show", "payload": s})
    return out


def _button_attachment(buttons: list[dict[str, str]]) -> dict[str, Any]:
    return {"type": "template", "payload": {"buttons": buttons}}
