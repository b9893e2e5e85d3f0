"""One object builds and owns the running parts (runtime.services), and tests build it with fakes.

Pure: no database is opened (a `Services` built here never touches its SQLite URL), no server,
no subprocess.
"""
from __future__ import annotations

import ast
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from types import SimpleNamespace

import pytest
from fastapi.testclient import TestClient

from retrieval.budget import DenseSignals
from runtime import services as services_module
from tests.fakes.triage import FakeTriage

ROOT = Path(__file__).resolve().parents[2]


def test_tests_build_the_services_with_fakes(make_services) -> None:
    fake_chat, fake = SimpleNamespace(url=None, loaded_engine=None), FakeTriage()
    services = make_services(chat=fake_chat, triage=fake)
    assert services.chat is fake_chat and services.triage is fake
    assert services.engine is None  # nothing was loaded
    assert services.database_url == services.settings.database_url


def test_petition_intake_triages_with_the_services_triage() -> None:
    """No process-wide hook: the triage handed in is the one used (pakn.service.TRIAGE is gone)."""
    from pakn import service

    fake = FakeTriage()
    fake.office_id = "office-from-the-fake"
    prepared = service.prepare_submission(content="Đèn đường trước chợ hỏng cả tháng nay rồi",
                                          location=None, contact=None, channel="api", triage=fake)
    assert prepared.values["office_id"] == "office-from-the-fake"
    assert not hasattr(service, "TRIAGE")


def test_routes_get_the_app_services_through_a_dependency() -> None:
    """Two apps with different fakes side by side: each route sees its own app's triage."""
    from api.main import create_app

    apps = []
    for office in ("office-a", "office-b"):
        fake = FakeTriage()
        fake.office_id = office
        apps.append(create_app(triage=fake))
    for app, office in zip(apps, ("office-a", "office-b")):
        r = TestClient(app).post("/api/v1/pakn/classify", json={"content": "Rác thải bốc mùi đầu hẻm"})
        assert r.status_code == 200, r.text
        assert r.json()["office"]["id"] == office


def test_the_chat_service_builds_its_engine_once_for_concurrent_first_callers(
        monkeypatch: pytest.MonkeyPatch, make_services) -> None:
    """Every model/index load is single-flight; the engine gets the services' signals."""
    import retrieval.engine
    import retrieval.sources
    from bot.service import ChatService

    built: list[object] = []

    class SlowEngine:
        def __init__(self, units, *, signals=None, **_kw) -> None:
            time.sleep(0.05)  # widen the window in which a second caller could start a build
            self.signals = signals
            built.append(self)

        def warm_up(self) -> None:
            pass

    monkeypatch.setattr(retrieval.engine, "RetrievalEngine", SlowEngine)
    monkeypatch.setattr(retrieval.sources, "all_units", list)
    signals = DenseSignals()
    chat = ChatService(database_url="sqlite:///:memory:", signals=signals, phraser=None)
    services = make_services(chat=chat, signals=signals)
    assert services.engine is None
    barrier = threading.Barrier(8)

    def first_call(_: int) -> object:
        barrier.wait()
        return chat.engine

    with ThreadPoolExecutor(8) as pool:
        got = list(pool.map(first_call, range(8)))
    assert len(built) == 1 and all(g is built[0] for g in got)
    assert services.engine is built[0] and built[0].signals is signals


def test_the_engine_sheds_only_under_the_pressure_it_was_given() -> None:
    """The pressure signals belong to the engine's builder, not to a module global."""
    calm, busy = DenseSignals(pressure=[lambda: False]), DenseSignals(pressure=[lambda: True])
    assert not calm.under_pressure(1) and busy.under_pressure(1)
    assert calm.under_pressure(2)  # a second search running at the same time is pressure anyway
    seen: list[str] = []
    DenseSignals(observers=[seen.append]).observe("shed")
    assert seen == ["shed"]


def _cached_functions() -> set[str]:
    """Every `lru_cache`/`single_flight` function of the product, as `module.name`."""
    found: set[str] = set()
    for pkg in ("api", "bot", "console", "db", "knowledge", "pakn", "retrieval", "runtime", "vntext", "webhooks"):
        for path in (ROOT / pkg).rglob("*.py"):
            if "migrations" in path.parts:
                continue
            module = ".".join(path.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__")
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                    for dec in node.decorator_list:
                        target = dec.func if isinstance(dec, ast.Call) else dec
                        name = target.id if isinstance(target, ast.Name) else getattr(target, "attr", "")
                        if name in ("lru_cache", "cache", "single_flight"):
                            found.add(f"{module}.{node.name}")
    found.add("settings.get_settings")
    return found


def test_every_process_wide_cache_is_cleared_in_one_place() -> None:
    listed = {f"{module}.{name}" for module, names in services_module._CACHES for name in names}
    assert _cached_functions() - services_module.PURE_MEMOS == listed


def test_clear_caches_forgets_the_data_files(monkeypatch: pytest.MonkeyPatch) -> None:
    from knowledge import plans

    first = plans.load_plans()
    assert plans.load_plans() is first
    services_module.clear_caches()
    assert plans.load_plans() is not first


def test_no_stateful_singleton_is_left() -> None:
    """The chat service, the engine, the triage hook and the dense-budget signals live in Services."""
    import bot.service
    import pakn.service
    import retrieval.budget
    import retrieval.engine

    assert not hasattr(bot.service, "get_chat_service")
    assert not hasattr(retrieval.engine, "get_engine") and not hasattr(retrieval.engine, "_ENGINE")
    assert not hasattr(pakn.service, "TRIAGE")
    assert not hasattr(retrieval.budget, "PRESSURE") and not hasattr(retrieval.budget, "OBSERVERS")
