"""Where a test lives says what it may do (issue 16): tests/unit is pure (tests/unit/conftest.py
refuses PostgreSQL, subprocesses, servers and the network), every module of tests/integration
carries the `integration` marker and tests/browser the `browser` marker, so `-m "not integration"`
and `.ci/run` (all of them) select what they mean."""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

TESTS = Path(__file__).resolve().parents[1]


def module_marks(path: Path) -> set[str]:
    """The markers of a module's `pytestmark` (a single mark or a list of them)."""
    for node in ast.parse(path.read_text(encoding="utf-8")).body:
        if isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id == "pytestmark" for t in node.targets):
            values = node.value.elts if isinstance(node.value, ast.List) else [node.value]
            return {v.attr for v in values if isinstance(v, ast.Attribute)}
    return set()


@pytest.mark.parametrize("folder,mark", [("integration", "integration"), ("browser", "browser")])
def test_every_module_carries_its_folders_marker(folder: str, mark: str) -> None:
    unmarked = [p.name for p in sorted((TESTS / folder).glob("test_*.py")) if mark not in module_marks(p)]
    assert not unmarked


def test_no_unit_test_is_marked_integration_or_browser() -> None:
    marked = [p.name for p in sorted((TESTS / "unit").glob("test_*.py")) if module_marks(p) & {"integration", "browser"}]
    assert not marked
