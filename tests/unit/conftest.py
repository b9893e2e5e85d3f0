"""Unit tests are pure (issue 16): no PostgreSQL, no subprocess, no server, no network.

Enforced, not promised: every unit test runs with process spawning, socket `bind`/`connect` and the
PostgreSQL fixture refused, so a test that needs one fails here with the reason and belongs in
tests/integration (marked `integration`, and `slow` when it takes more than a few seconds).
SQLite files and in-process ASGI clients (Starlette's TestClient) are pure: no socket is opened.
"""
from __future__ import annotations

import os
import socket
import subprocess

import pytest


def _refuse(what: str):
    def refuse(*_args, **_kwargs):
        raise AssertionError(f"a unit test must be pure: {what} belongs in tests/integration")

    return refuse


@pytest.fixture(autouse=True)
def _pure(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(subprocess.Popen, "__init__", _refuse("a subprocess"))
    monkeypatch.setattr(os, "fork", _refuse("a forked process"))
    monkeypatch.setattr(socket.socket, "bind", _refuse("a server (socket bind)"))
    monkeypatch.setattr(socket.socket, "connect", _refuse("the network (socket connect)"))
    monkeypatch.setattr(socket, "create_connection", _refuse("the network (socket connect)"))


@pytest.fixture(scope="session")
def pg_url() -> str:
    pytest.fail("a unit test must be pure: PostgreSQL belongs in tests/integration")
