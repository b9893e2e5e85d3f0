"""Engine and session factory for the product's store.

SQLite (the default) gets WAL and a busy timeout so the API and the worker can share one file;
PostgreSQL is used as is. Schema changes go through Alembic (`migrate()`), never `create_all`,
so SQLite and PostgreSQL always carry the same schema as production.
"""
from __future__ import annotations

import fcntl
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from functools import lru_cache
from pathlib import Path
from typing import Self

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.pool import NullPool

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"


def make_engine(url: str) -> Engine:
    """Create an engine; for SQLite make the parent folder and enable WAL."""
    # A pre-ping catches PostgreSQL connections dropped by a restart or a proxy; a SQLite file
    # cannot drop, and the ping would be one more statement in every transaction.
    kwargs: dict = {"future": True, "pool_pre_ping": not url.startswith("sqlite")}
    if url.startswith("sqlite"):
        path = url.split("///", 1)[-1]
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        kwargs["connect_args"] = {"check_same_thread": False, "timeout": 30}
    engine = create_engine(url, **kwargs)
    if url.startswith("sqlite"):

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn, _record) -> None:  # pragma: no cover - trivial
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.close()

    return engine


# Any constant shared by every process of the product: the key of its PostgreSQL advisory lock.
_MIGRATION_LOCK_KEY = 7_410_025


def migrate(url: str) -> None:
    """Bring the database at `url` to the newest revision of every Alembic branch.

    Several processes may start at once (`uvicorn --workers 2`, API and worker containers), and each
    migrates in its start-up: they take turns — an advisory lock on PostgreSQL, the write gate's
    file lock on SQLite — so the second finds the schema current instead of racing on
    `alembic_version`.
    """
    from alembic import command
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    with _migration_lock(url):
        command.upgrade(cfg, "head")  # one linear history (tests/unit/test_borders.py)


@contextmanager
def _migration_lock(url: str) -> Iterator[None]:
    if url.startswith("sqlite"):
        with write_gate(url):
            yield
        return
    if not url.startswith("postgresql"):
        yield
        return
    from sqlalchemy import text

    engine = create_engine(url, poolclass=NullPool)
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT pg_advisory_lock(:k)"), {"k": _MIGRATION_LOCK_KEY})
            conn.commit()
            try:
                yield
            finally:
                conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": _MIGRATION_LOCK_KEY})
                conn.commit()
    finally:
        engine.dispose()


@lru_cache(maxsize=8)
def _factory(url: str) -> sessionmaker[Session]:
    return sessionmaker(make_engine(url), expire_on_commit=False)


def session_factory(url: str | None = None) -> sessionmaker[Session]:
    """A cached session factory for `url` (default: the configured DATABASE_URL)."""
    if url is None:
        from settings import get_settings

        url = get_settings().database_url
    return _factory(url)


class WriteGate:
    """Serialises write transactions on one SQLite file across threads *and* processes.

    SQLite has one writer at a time; when several writers collide the losers sleep in SQLite's
    busy handler (1, 2, 5, 10… ms), which under load costs more time than the writes themselves.
    Queueing instead wakes the next writer the moment the last one commits: a thread lock within
    the process, then an `flock` on `<database>.write-lock` between processes (uvicorn workers,
    the outbox worker). The kernel releases the flock if its holder dies, so a SIGKILL never
    leaves the database locked.
    """

    def __init__(self, db_path: str) -> None:
        self._thread_lock = threading.Lock()
        self._lock_path = f"{db_path}.write-lock" if db_path and db_path != ":memory:" else None
        self._fd: int | None = None

    def __enter__(self) -> Self:
        self._thread_lock.acquire()
        if self._lock_path is not None:
            try:
                if self._fd is None:
                    Path(self._lock_path).parent.mkdir(parents=True, exist_ok=True)
                    self._fd = os.open(self._lock_path, os.O_RDWR | os.O_CREAT, 0o600)
                fcntl.flock(self._fd, fcntl.LOCK_EX)
            except BaseException:
                self._thread_lock.release()
                raise
        return self

    def __exit__(self, *exc: object) -> None:
        try:
            if self._fd is not None:
                fcntl.flock(self._fd, fcntl.LOCK_UN)
        finally:
            self._thread_lock.release()


_WRITE_GATES: dict[str, WriteGate] = {}
_GATES_LOCK = threading.Lock()


def write_gate(url: str | None = None) -> WriteGate | nullcontext:
    """The `WriteGate` of a SQLite database; PostgreSQL handles concurrent writers itself (no gate)."""
    if url is None:
        from settings import get_settings

        url = get_settings().database_url
    url = str(url)
    if not url.startswith("sqlite"):
        return nullcontext()
    with _GATES_LOCK:
        gate = _WRITE_GATES.get(url)
        if gate is None:
            gate = _WRITE_GATES[url] = WriteGate(url.split("///", 1)[-1])
        return gate


def factory_write_gate(factory: sessionmaker[Session]) -> WriteGate | nullcontext:
    """`write_gate` of the database a session factory is bound to (the outbox worker's writes)."""
    return write_gate(factory.kw["bind"].url.render_as_string(hide_password=False))


@contextmanager
def session_scope(url: str | None = None, *, write: bool = False) -> Iterator[Session]:
    """A transaction: commit on success, roll back on error.

    `write=True` for short transactions that write under concurrency (intake paths): on SQLite
    they take the process's write gate (see `write_gate`).
    """
    with write_gate(url) if write else nullcontext():
        session = session_factory(url)()
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise
        finally:
            session.close()
