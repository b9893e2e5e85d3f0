"""A fake Telegram Bot API on 127.0.0.1: real HTTP at `/bot<token>/<method>`, like the real one.

Implements what our bot calls: getMe, sendMessage, setWebhook, deleteWebhook, getWebhookInfo,
answerCallbackQuery, sendChatAction. Parameters are read the way Telegram reads them (JSON,
form-urlencoded as python-telegram-bot sends, with nested objects as JSON strings), every call
is recorded, and a wrong token gets 401 like the real server. Point the bot at it with
`base_url=fake.base_url` (PTB appends the token).
"""
from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Self
from urllib.parse import parse_qs


class FakeTelegramAPI:
    def __init__(self, token: str = "123456:TEST-TOKEN", username: str = "tthc_test_bot") -> None:
        self.token = token
        self.username = username
        self.calls: list[dict[str, Any]] = []
        self.webhook: dict[str, Any] = {}
        self._message_id = 1000
        self._lock = threading.Lock()
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def _handle(self) -> None:
                raw = self.rfile.read(int(self.headers.get("Content-Length", 0) or 0))
                status, body = fake._dispatch(self.path, self.headers.get("Content-Type", ""), raw)
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_POST = _handle
            do_GET = _handle

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def base_url(self) -> str:
        """What PTB's `base_url` expects: it appends the token."""
        return f"http://127.0.0.1:{self.server.server_address[1]}/bot"

    def sent(self, chat_id: int | None = None) -> list[dict[str, Any]]:
        return [c["params"] for c in self.calls if c["method"] == "sendMessage"
                and (chat_id is None or int(c["params"]["chat_id"]) == chat_id)]

    def wait_for_sent(self, count: int, timeout: float = 10.0, chat_id: int | None = None) -> list[dict[str, Any]]:
        deadline = time.monotonic() + timeout
        while True:
            got = self.sent(chat_id)
            if len(got) >= count or time.monotonic() > deadline:
                return got
            time.sleep(0.02)

    def __enter__(self) -> Self:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()

    # ------------------------------------------------------------------ protocol
    def _dispatch(self, path: str, content_type: str, raw: bytes) -> tuple[int, dict]:
        parts = path.split("?")[0].strip("/").split("/")
        if len(parts) != 2 or not parts[0].startswith("bot"):
            return 404, {"ok": False, "error_code": 404, "description": "Not Found"}
        token, method = parts[0][3:], parts[1]
        if token != self.token:
            return 401, {"ok": False, "error_code": 401, "description": "Unauthorized"}
        params = _params(content_type, raw)
        with self._lock:
            self.calls.append({"method": method, "params": params})
            handler = getattr(self, f"_m_{method}", None)
            if handler is None:
                return 404, {"ok": False, "error_code": 404, "description": "Not Found: method not found"}
            return handler(params)

    def _m_getMe(self, params: dict) -> tuple[int, dict]:
        return 200, {"ok": True, "result": {"id": int(self.token.split(":")[0]), "is_bot": True,
                                            "first_name": "Trợ lý hành chính", "username": self.username,
                                            "can_join_groups": False, "can_read_all_group_messages": False,
                                            "supports_inline_queries": False}}

    def _m_sendMessage(self, params: dict) -> tuple[int, dict]:
        if "chat_id" not in params or not str(params.get("text", "")).strip():
            return 400, {"ok": False, "error_code": 400, "description": "Bad Request: message text is empty"}
        if len(str(params["text"])) > 4096:
            return 400, {"ok": False, "error_code": 400, "description": "Bad Request: message is too long"}
        self._message_id += 1
        result: dict[str, Any] = {"message_id": self._message_id, "date": int(time.time()),
                                  "chat": {"id": int(params["chat_id"]), "type": "private"},
                                  "from": {"id": int(self.token.split(":")[0]), "is_bot": True,
                                           "first_name": "Trợ lý hành chính"},
                                  "text": params["text"]}
        if params.get("reply_markup"):
            result["reply_markup"] = params["reply_markup"]
        return 200, {"ok": True, "result": result}

    def _m_setWebhook(self, params: dict) -> tuple[int, dict]:
        self.webhook = params
        return 200, {"ok": True, "result": True, "description": "Webhook was set"}

    def _m_deleteWebhook(self, params: dict) -> tuple[int, dict]:
        self.webhook = {}
        return 200, {"ok": True, "result": True, "description": "Webhook was deleted"}

    def _m_getWebhookInfo(self, params: dict) -> tuple[int, dict]:
        return 200, {"ok": True, "result": {"url": self.webhook.get("url", ""), "has_custom_certificate": False,
                                            "pending_update_count": 0}}

    def _m_answerCallbackQuery(self, params: dict) -> tuple[int, dict]:
        return 200, {"ok": True, "result": True}

    def _m_sendChatAction(self, params: dict) -> tuple[int, dict]:
        return 200, {"ok": True, "result": True}


def _params(content_type: str, raw: bytes) -> dict[str, Any]:
    """Bot API parameters from JSON or a form, decoding nested JSON values as Telegram does."""
    if not raw:
        return {}
    if "application/json" in content_type:
        data = json.loads(raw)
        return data if isinstance(data, dict) else {}
    out: dict[str, Any] = {}
    for key, values in parse_qs(raw.decode("utf-8"), keep_blank_values=True).items():
        value: Any = values[0]
        if value[:1] in ("{", "["):
            try:
                value = json.loads(value)
            except ValueError:
                pass
        out[key] = value
    return out
