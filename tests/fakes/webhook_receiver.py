"""A real HTTP server on 127.0.0.1 standing in for an office's case-management system.

It verifies the `X-Signature: sha256=<hex>` HMAC of the raw body, honours `Idempotency-Key`
(a repeat is answered 200 but not accepted twice), and can answer a scripted sequence of status
codes first (e.g. [500, 500]) to exercise retries. `hold_s` keeps each request open that long, and
`max_in_flight` records how many were open at once (a slow office server; parallel delivery).
"""
from __future__ import annotations

import hashlib
import hmac
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Self


class WebhookReceiver:
    def __init__(self, secret: str, script: list[int] | None = None, hold_s: float = 0.0) -> None:
        self.secret = secret.encode()
        self.hold_s = hold_s
        self.in_flight = 0
        self.max_in_flight = 0
        self.script = list(script or [])
        self.requests: list[dict] = []      # every request, as received
        self.accepted: dict[str, dict] = {}  # idempotency key → document, first delivery only
        self.bad_signatures = 0
        self.truncated = 0  # requests whose body ended before its Content-Length (sender killed)
        self.lock = threading.Lock()
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:  # keep test output clean
                pass

            def do_POST(self) -> None:
                with owner.lock:
                    owner.in_flight += 1
                    owner.max_in_flight = max(owner.max_in_flight, owner.in_flight)
                try:
                    self._handle()
                finally:
                    with owner.lock:
                        owner.in_flight -= 1

            def _handle(self) -> None:
                if owner.hold_s:
                    time.sleep(owner.hold_s)
                declared = int(self.headers.get("Content-Length", 0))
                raw = self.rfile.read(declared)
                if len(raw) < declared:
                    # The sender died mid-request (SIGKILL in the durability bench): like any HTTP
                    # server, drop the incomplete request; it is neither a delivery nor a forgery.
                    with owner.lock:
                        owner.truncated += 1
                    self.close_connection = True
                    return
                sig = self.headers.get("X-Signature", "")
                key = self.headers.get("Idempotency-Key", "")
                expected = "sha256=" + hmac.new(owner.secret, raw, hashlib.sha256).hexdigest()
                valid = hmac.compare_digest(expected, sig)
                with owner.lock:
                    owner.requests.append({"path": self.path, "raw": raw, "signature": sig, "key": key,
                                           "valid": valid})
                    if not valid:
                        owner.bad_signatures += 1
                        code = 401
                    elif owner.script:
                        code = owner.script.pop(0)
                    else:
                        code = 200
                        owner.accepted.setdefault(key, json.loads(raw))
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                body = b'{"ok":true}' if code == 200 else b'{"ok":false}'
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/pakn"

    def __enter__(self) -> Self:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
