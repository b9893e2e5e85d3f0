"""Start the real API with uvicorn on a free loopback port for a benchmark, and stop it after."""
from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import IO

ROOT = Path(__file__).resolve().parent.parent


def stop_process(proc: subprocess.Popen, timeout_s: float = 10) -> None:
    """Terminate a helper process, and kill it if it does not exit in time."""
    proc.terminate()
    try:
        proc.wait(timeout_s)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(5)


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of a process and its children (uvicorn `--workers`), from /proc."""
    total, parents = 0, {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:  # the process ended meanwhile
            continue
        parents[int(stat.parent.name)] = (int(fields[1]), int(fields[11]) + int(fields[12]))
    for p, (ppid, ticks) in parents.items():
        if p == pid or ppid == pid:
            total += ticks
    return total / os.sysconf("SC_CLK_TCK")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def api_process(env: dict[str, str] | None = None, timeout_s: float = 180, *, app: str = "api.main:app",
                log_level: str = "warning", args: Sequence[str] = (),
                log: IO[bytes] | None = None) -> Iterator[tuple[str, subprocess.Popen]]:
    """Yield the base URL and the process of a freshly started API; kill it on exit.

    The process is exposed so a load test can read its CPU time and attach a profiler to it;
    `log` receives the server's stdout and stderr (default: this process's).
    """
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", app, "--host", "127.0.0.1", "--port", str(port),
         "--log-level", log_level, *args],
        cwd=ROOT, env={**os.environ, "HF_HUB_OFFLINE": "1", "RATE_LIMIT_PER_MINUTE": "0", **(env or {})},
        stdout=log, stderr=log,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.time() + timeout_s
        while time.time() < deadline:
            if proc.poll() is not None:
                raise RuntimeError("API exited during start-up")
            try:
                with urllib.request.urlopen(url + "/healthz", timeout=1):
                    break
            except OSError:
                time.sleep(0.3)
        else:
            raise RuntimeError("API did not start in time")
        yield url, proc
    finally:
        stop_process(proc)


@contextlib.contextmanager
def running_api(env: dict[str, str] | None = None, timeout_s: float = 180) -> Iterator[str]:
    """Yield the base URL of a freshly started API; kill it on exit."""
    with api_process(env, timeout_s) as (url, _proc):
        yield url
