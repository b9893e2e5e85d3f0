"""Package borders (issue 16): which package may import which, read from the sources' imports.

`retrieval/` ranks and knows nothing of channels, the dialogue, petitions or the knowledge store;
`webhooks/` knows nothing of ranking; `vntext` (the base of the text layer) imports no package of
the product, so nothing can form a circle through it. The relational store (`db/`: engine,
sessions, `Base`, the one Alembic history) belongs to no feature and imports none; the
conversation table belongs to `bot/`, which never reaches the staff console, not even through
another package (its CLI builds its services through runtime.services, never runtime.cli).
Entry shims (`__main__.py`) hand over to the composition root (`runtime/`), the one place
allowed to put packages together.
"""
from __future__ import annotations

import ast
import configparser
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PRODUCT = ("api", "bot", "console", "db", "knowledge", "pakn", "retrieval", "runtime", "vntext", "webhooks")
FEATURES = ("api", "bot", "console", "knowledge", "pakn", "retrieval", "webhooks")


def _imports(path: Path) -> Iterator[str]:
    """Every absolute module name a source file imports, at any depth (imports inside functions too)."""
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            yield from (a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            yield node.module
            yield from (f"{node.module}.{a.name}" for a in node.names)


def _sources(package: str) -> Iterator[Path]:
    yield from (p for p in (ROOT / package).rglob("*.py") if "migrations" not in p.relative_to(ROOT).parts)


def _module(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def module_graph() -> dict[str, set[str]]:
    """Product module → product modules it imports (entry shims `__main__` left out: nothing imports them)."""
    modules = {_module(p): p for pkg in PRODUCT for p in _sources(pkg) if p.name != "__main__.py"}
    modules["settings"] = ROOT / "settings.py"
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        targets = set()
        for imported in _imports(path):
            # `from a.b import c` names module a.b.c when c is a module, else a.b
            while imported and imported not in modules:
                imported = imported.rpartition(".")[0]
            if imported and imported != name:
                targets.add(imported)
        graph[name] = targets
    return graph


def reachable(graph: dict[str, set[str]], start: str) -> set[str]:
    seen: set[str] = set()
    todo = [start]
    while todo:
        for nxt in graph.get(todo.pop(), ()):
            if nxt not in seen:
                seen.add(nxt)
                todo.append(nxt)
    return seen


def imported_packages(package: str, skip: tuple[str, ...] = ()) -> set[str]:
    found: set[str] = set()
    for path in _sources(package):
        if path.name not in skip:
            found |= {n.split(".")[0] for n in _imports(path)}
    return (found & set(PRODUCT)) - {package}


@pytest.mark.parametrize("package,forbidden,skip", [
    ("retrieval", {"knowledge", "bot", "api", "webhooks", "console", "pakn", "runtime"}, ("__main__.py",)),
    ("webhooks", {"retrieval"}, ()),
    ("vntext", set(PRODUCT), ()),
    ("db", set(FEATURES) | {"runtime", "vntext"}, ()),
    ("bot", {"console"}, ()),
])
def test_package_imports_stay_inside_its_border(package: str, forbidden: set[str], skip: tuple[str, ...]) -> None:
    assert not imported_packages(package, skip) & forbidden


def test_the_border_reader_sees_imports_inside_functions() -> None:
    """The reader must see lazy imports, or a border could be crossed inside a function unnoticed."""
    graph = module_graph()
    assert "console.cli" in graph["runtime.cli"]  # a top-level import
    assert "db.engine" in graph["api.main"] or "db" in graph["api.main"]
    assert imported_packages("runtime") >= {"bot", "console", "pakn"}


def test_bot_never_reaches_the_console_through_another_package() -> None:
    graph = module_graph()
    leaks = {m: sorted(c for c in reachable(graph, m) if c.split(".")[0] == "console")
             for m in graph if m.split(".")[0] == "bot"}
    assert not {m: c for m, c in leaks.items() if c}


def test_knowledge_and_retrieval_form_no_import_circle() -> None:
    """Through any chain of modules (retrieval → pakn → knowledge → retrieval was one), neither
    package's code leads back to itself through the other."""
    graph = module_graph()
    for start in (m for m in graph if m.split(".")[0] == "retrieval"):
        assert not {r for r in reachable(graph, start) if r.split(".")[0] == "knowledge"}, start


def test_entry_shims_hand_over_to_the_composition_root() -> None:
    for pkg in ("bot", "retrieval"):
        assert {n.split(".")[0] for n in _imports(ROOT / pkg / "__main__.py")} == {"runtime"}


def test_one_declarative_base_and_the_conversation_table_in_bot() -> None:
    bases, conversations = [], []
    for pkg in PRODUCT:
        for path in _sources(pkg):
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if isinstance(node, ast.ClassDef):
                    names = {b.id if isinstance(b, ast.Name) else getattr(b, "attr", "") for b in node.bases}
                    if "DeclarativeBase" in names:
                        bases.append(_module(path))
                elif isinstance(node, ast.Assign) and any(
                        isinstance(t, ast.Name) and t.id == "__tablename__" for t in node.targets) \
                        and isinstance(node.value, ast.Constant) and node.value.value == "conversations":
                    conversations.append(_module(path))
    assert bases == ["db.base"]
    assert conversations == ["bot.models"]


def test_migrations_are_one_linear_history_owned_by_db() -> None:
    from alembic.script import ScriptDirectory

    from db.engine import MIGRATIONS_DIR

    assert MIGRATIONS_DIR == ROOT / "db" / "migrations"
    assert [p.relative_to(ROOT).as_posix() for p in ROOT.glob("*/migrations")] == ["db/migrations"]
    ini = configparser.ConfigParser()
    ini.read(ROOT / "alembic.ini")
    assert ini["alembic"]["script_location"] == "db:migrations"
    script = ScriptDirectory(str(MIGRATIONS_DIR))
    assert len(script.get_heads()) == 1, f"more than one head: {script.get_heads()} — chain the new revision"
    assert script.get_base() == "0001"
