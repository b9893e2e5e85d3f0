"""Package borders (issue 16): which package may import which, read from the sources' imports.

`retrieval/` ranks and knows nothing of channels, the dialogue or the knowledge store (the one
exception: its CLI's `seed` command also writes the petition classifier's shipped vectors);
`webhooks/` knows nothing of ranking; `vntext` (the base of the text layer) imports no package of
the product, so nothing can form a circle through it.
"""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PRODUCT = ("api", "bot", "console", "knowledge", "pakn", "retrieval", "vntext", "webhooks")


def imported_packages(package: str, skip: tuple[str, ...] = ()) -> set[str]:
    found: set[str] = set()
    for path in (ROOT / package).rglob("*.py"):
        if path.name in skip:
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = ([a.name for a in node.names] if isinstance(node, ast.Import)
                     else [node.module or ""] if isinstance(node, ast.ImportFrom) and node.level == 0 else [])
            found |= {n.split(".")[0] for n in names}
    return (found & set(PRODUCT)) - {package}


@pytest.mark.parametrize("package,forbidden,skip", [
    ("retrieval", {"knowledge", "bot", "api", "webhooks", "console", "pakn"}, ("cli.py",)),
    ("webhooks", {"retrieval"}, ()),
    ("vntext", set(PRODUCT), ()),
])
def test_package_imports_stay_inside_its_border(package: str, forbidden: set[str], skip: tuple[str, ...]) -> None:
    assert not imported_packages(package, skip) & forbidden
