"""Fixtures shared by the Open311 tests: the app with the test database and a fake triage
(`make_app`), and that app served by uvicorn on a loopback port for third-party clients (`served`:
the base URL, `api_key` required for POST) — the `georeport` (PyPI) and `open311` (npm) clients."""
from __future__ import annotations

import socket
import threading
import time

import pytest


@pytest.fixture
def make_app(app_with_env, db_url: str, fake_triage):
    def make(**env: str):
        return app_with_env(**{"DATABASE_URL": db_url, "STAFF_API_TOKEN": "georeport-staff-token-123",
                               "RATE_LIMIT_PER_MINUTE": "1000", **env})

    return make


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def served(make_app, monkeypatch: pytest.MonkeyPatch):
    import uvicorn

    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")  # requests must not send loopback to a proxy
    monkeypatch.delenv("GEOREPORT_API_KEY", raising=False)
    app = make_app(OPEN311_API_KEY_REQUIRED="true")
    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="off"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 60
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    assert server.started
    yield f"http://127.0.0.1:{port}/open311/v2"
    server.should_exit = True
    thread.join(30)
