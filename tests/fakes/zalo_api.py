"""A fake Zalo OA API on 127.0.0.1: real HTTP, the endpoints and answers our client relies on.

    POST /v3.0/oa/message/cs           header access_token; {"recipient":{"user_id"},"message":{"text","attachment"?}}
    POST /v3.0/oa/message/transaction  same envelope; message.attachment = template of a transaction_* type
    POST /v4/oa/access_token           form refresh_token, app_id, grant_type=refresh_token; header secret_key

It records every message, issues single-use refresh tokens like Zalo does, answers -216 to an
invalid or expired access token (`expire_token()` makes the current one expire), and can be told
to fail the next call with any error code or to refuse button templates. Serves both the API and
the OAuth base URL.

Like Zalo it only lets the OA write to people who wrote to it (webhooks/zalo_window.py has the
rules and sources): a cs message more than `cs_window_s` (7 days) after the person's last
interaction gets -230, the cs message past `cs_quota` per interaction (0: no quota, Zalo's rule
since 2026) gets -311, a transaction message more than `transaction_window_s` (1 year) after it
gets -232, and an OA without transaction messages (`transaction_enabled=False`) gets -212. Zalo
learns of an interaction before we get the webhook, so tests build events with `event()`, which
records the interaction here; `user_interacts(user, at=…)` backdates one. A follow counts too,
so the greeting of a new follower goes out (Zalo's documents do not say; this is a guess).

Run it by hand for a demo:  python -m tests.fakes.zalo_api --port 8081
"""
from __future__ import annotations

import argparse
import json
import secrets
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Self
from urllib.parse import parse_qs

MAX_TEXT = 2000
DAY_S = 86400.0
TRANSACTION_ELEMENTS = frozenset({"banner", "header", "text", "table"})


class FakeZaloAPI:
    def __init__(self, *, app_id: str = "1234567890", secret_key: str = "app-secret",
                 access_token: str = "access-1", refresh_token: str = "refresh-1", port: int = 0,
                 cs_window_s: float = 7 * DAY_S, cs_quota: int = 0, transaction_window_s: float = 365 * DAY_S,
                 transaction_enabled: bool = True) -> None:
        self.app_id = app_id
        self.cs_window_s = cs_window_s
        self.cs_quota = cs_quota
        self.transaction_window_s = transaction_window_s
        self.transaction_enabled = transaction_enabled
        self.interactions: dict[str, float] = {}  # user id → time of the last interaction (epoch s)
        self.cs_since: dict[str, int] = {}  # user id → cs messages sent since that interaction
        self.secret_key = secret_key
        self.access_token: str | None = access_token
        self.refresh_token = refresh_token
        self.messages: list[dict[str, Any]] = []
        self.refreshes: list[dict[str, Any]] = []
        self.rejected: list[dict[str, Any]] = []
        self.reject_buttons = False
        self._fail: list[tuple[int, str]] = []
        self._lock = threading.Lock()
        self._serial = 1
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:  # keep test output clean
                pass

            def do_POST(self) -> None:
                raw = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                if self.path.split("?")[0] == "/v3.0/oa/message/cs":
                    status, body = fake._message(self.headers.get("access_token"), raw)
                elif self.path.split("?")[0] == "/v3.0/oa/message/transaction":
                    status, body = fake._transaction(self.headers.get("access_token"), raw)
                elif self.path.split("?")[0] == "/v4/oa/access_token":
                    status, body = fake._refresh(self.headers.get("secret_key"), raw)
                else:
                    status, body = 404, {"error": 404, "message": "not found"}
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    # ------------------------------------------------------------------ control
    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def expire_token(self) -> None:
        """The current access token stops working (as after 25 hours): sends get -216."""
        with self._lock:
            self.access_token = None

    def fail_next(self, code: int, message: str = "fake failure") -> None:
        """The next message call answers `{"error": code}` whatever it carries."""
        with self._lock:
            self._fail.append((code, message))

    def user_interacts(self, user_id: str, at: float | None = None) -> None:
        """`user_id` wrote to the OA at `at` (epoch seconds, default now): window and quota restart."""
        with self._lock:
            self.interactions[user_id] = time.time() if at is None else at
            self.cs_since[user_id] = 0

    def event(self, event_name: str, user_id: str, **kw: Any) -> dict[str, Any]:
        """A webhook event (see `zalo_event`) of a person acting now, noted as Zalo notes it."""
        kw.setdefault("app_id", self.app_id)
        event = zalo_event(event_name, user_id, **kw)
        if event_name.startswith("user_send_") or event_name == "follow":
            self.user_interacts(user_id, int(event["timestamp"]) / 1000)
        return event

    def texts_for(self, user_id: str) -> list[str]:
        return [m["text"] for m in self.messages if m["user_id"] == user_id]

    def wait_for(self, count: int, timeout: float = 10.0, user_id: str | None = None) -> list[dict[str, Any]]:
        """Block until `count` messages (to `user_id`, if given) arrived; return them."""
        deadline = time.monotonic() + timeout
        while True:
            got = [m for m in self.messages if user_id is None or m["user_id"] == user_id]
            if len(got) >= count or time.monotonic() > deadline:
                return got
            time.sleep(0.02)

    def __enter__(self) -> Self:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()

    # ------------------------------------------------------------------ endpoints
    def _refusal(self, token: str | None) -> dict | None:
        """A queued failure, or Zalo's answer to a missing or wrong token; None to go on (lock held)."""
        if self._fail:
            code, message = self._fail.pop(0)
            self.rejected.append({"error": code})
            return {"error": code, "message": message}
        if not token or token != self.access_token:
            self.rejected.append({"error": -216})
            return {"error": -216, "message": "Access token is invalid"}
        return None

    def _message(self, token: str | None, raw: bytes) -> tuple[int, dict]:
        with self._lock:
            if refused := self._refusal(token):
                return 200, refused
            try:
                body = json.loads(raw)
                user_id = str(body["recipient"]["user_id"])
                message = body["message"]
                text = message.get("text", "")
            except (ValueError, KeyError, TypeError):
                return 200, {"error": -201, "message": "Parameters are invalid"}
            if len(text) > MAX_TEXT:
                return 200, {"error": -201, "message": "Text length exceeds the limit"}
            attachment = message.get("attachment")
            if attachment is not None and self.reject_buttons:
                self.rejected.append({"error": -201, "attachment": attachment})
                return 200, {"error": -201, "message": "Template is not supported"}
            last = self.interactions.get(user_id)
            if last is None or time.time() - last > self.cs_window_s:
                self.rejected.append({"error": -230, "user_id": user_id, "kind": "cs"})
                return 200, {"error": -230, "message": "User has not interacted with the OA in the past 7 days"}
            if self.cs_quota and self.cs_since.get(user_id, 0) >= self.cs_quota:
                self.rejected.append({"error": -311, "user_id": user_id, "kind": "cs"})
                return 200, {"error": -311, "message": "Out of quota for responding to user message"}
            self.cs_since[user_id] = self.cs_since.get(user_id, 0) + 1
            return 200, self._record(user_id, "cs", text, attachment, token)

    def _record(self, user_id: str, kind: str, text: str, attachment: Any, token: str, **extra: Any) -> dict:
        self._serial += 1
        msg_id = secrets.token_hex(10)
        self.messages.append({"user_id": user_id, "kind": kind, "text": text, "attachment": attachment,
                              "message_id": msg_id, "token": token, **extra})
        return {"error": 0, "message": "Success", "data": {"message_id": msg_id, "user_id": user_id}}

    def _transaction(self, token: str | None, raw: bytes) -> tuple[int, dict]:
        with self._lock:
            if refused := self._refusal(token):
                return 200, refused
            try:
                body = json.loads(raw)
                user_id = str(body["recipient"]["user_id"])
                attachment = body["message"]["attachment"]
                payload = attachment["payload"]
                elements = payload["elements"]
                ok = (attachment["type"] == "template" and str(payload["template_type"]).startswith("transaction_")
                      and isinstance(elements, list) and elements
                      and all(e.get("type") in TRANSACTION_ELEMENTS for e in elements))
            except (ValueError, KeyError, TypeError, AttributeError):
                ok = False
            if not ok:
                self.rejected.append({"error": -201, "kind": "transaction"})
                return 200, {"error": -201, "message": "message is invalid!"}
            if not self.transaction_enabled:
                self.rejected.append({"error": -212, "kind": "transaction"})
                return 200, {"error": -212, "message": "App has not registed this api"}
            last = self.interactions.get(user_id)
            if last is None or time.time() - last > self.transaction_window_s:
                self.rejected.append({"error": -232, "user_id": user_id, "kind": "transaction"})
                return 200, {"error": -232, "message": "User has not interacted with the OA, or the last "
                                                       "interaction has expired"}
            text = "\n".join(str(e.get("content", "")) for e in elements if e.get("type") == "text")
            header = "\n".join(str(e.get("content", "")) for e in elements if e.get("type") == "header")
            return 200, self._record(user_id, "transaction", text, attachment, token, header=header,
                                     template_type=payload["template_type"])

    def _refresh(self, secret_key: str | None, raw: bytes) -> tuple[int, dict]:
        form = {k: v[0] for k, v in parse_qs(raw.decode()).items()}
        with self._lock:
            self.refreshes.append({"form": form, "secret_key": secret_key})
            if secret_key != self.secret_key or form.get("app_id") != self.app_id:
                return 200, {"error": -14002, "error_name": "Invalid app", "error_description": "app check failed"}
            if form.get("grant_type") != "refresh_token" or form.get("refresh_token") != self.refresh_token:
                return 200, {"error": -14014, "error_name": "Invalid refresh token",
                             "error_description": "Refresh token is invalid or was used"}
            self._serial += 1
            self.access_token = f"access-{self._serial}-{secrets.token_hex(4)}"
            self.refresh_token = f"refresh-{self._serial}-{secrets.token_hex(4)}"
            return 200, {"access_token": self.access_token, "refresh_token": self.refresh_token,
                         "expires_in": "90000"}


def main() -> None:  # pragma: no cover - manual demo helper
    parser = argparse.ArgumentParser(description="Fake Zalo OA API for demos (prints what the OA sends).")
    parser.add_argument("--port", type=int, default=8081)
    parser.add_argument("--access-token", default="access-1")
    parser.add_argument("--refresh-token", default="refresh-1")
    parser.add_argument("--app-id", default="1234567890")
    parser.add_argument("--secret-key", default="app-secret")
    args = parser.parse_args()
    fake = FakeZaloAPI(app_id=args.app_id, secret_key=args.secret_key, access_token=args.access_token,
                       refresh_token=args.refresh_token, port=args.port)
    seen = 0
    with fake:
        print(f"Fake Zalo API on {fake.base_url} (set ZALO_API_BASE and ZALO_OAUTH_BASE to it)", flush=True)
        try:
            while True:
                time.sleep(0.3)
                for m in fake.messages[seen:]:
                    print(f"→ {m['user_id']}: {m['text']}", flush=True)
                seen = len(fake.messages)
        except KeyboardInterrupt:
            pass


if __name__ == "__main__":  # pragma: no cover
    main()


# ---------------------------------------------------------------------- the platform's side: events
def zalo_event(event_name: str, user_id: str, *, app_id: str, text: str | None = None, msg_id: str | None = None,
               attachments: list[dict] | None = None, timestamp_ms: int | None = None,
               oa_id: str = "388613280878808645") -> dict[str, Any]:
    """An OA webhook event shaped like Zalo's (timestamp in milliseconds, as a string)."""
    ts = str(int(time.time() * 1000) if timestamp_ms is None else timestamp_ms)
    if event_name in ("follow", "unfollow"):
        return {"app_id": app_id, "oa_id": oa_id, "event_name": event_name, "timestamp": ts,
                "follower": {"id": user_id}, "user_id_by_app": "55" + user_id[-8:], "source": "oa_profile"}
    message: dict[str, Any] = {"msg_id": msg_id or secrets.token_hex(10)}
    if text is not None:
        message["text"] = text
    if attachments is not None:
        message["attachments"] = attachments
    return {"app_id": app_id, "event_name": event_name, "timestamp": ts, "sender": {"id": user_id},
            "recipient": {"id": oa_id}, "user_id_by_app": "55" + user_id[-8:], "message": message}


def signed(event: dict[str, Any], oa_secret_key: str, *, with_prefix: bool = True) -> tuple[bytes, dict[str, str]]:
    """The raw body and headers Zalo would send for `event`."""
    import hashlib

    raw = json.dumps(event, ensure_ascii=False).encode("utf-8")
    digest = hashlib.sha256(f"{event['app_id']}{raw.decode()}{event['timestamp']}{oa_secret_key}".encode()).hexdigest()
    return raw, {"Content-Type": "application/json", "X-ZEvent-Signature": ("mac=" if with_prefix else "") + digest}
