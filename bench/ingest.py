"""Time to build the knowledge store (and the retrieval index) from scratch on a temp database.

Usage: python bench/ingest.py [--no-index]
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--no-index", action="store_true")
    a = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        os.environ["DATABASE_URL"] = f"sqlite:///{tmp}/bench.db"
        os.environ["CHROMA_PATH"] = f"{tmp}/chroma"
        os.environ["INDEX_DIR"] = f"{tmp}/index"
        from knowledge.build import build_store
        from settings import get_settings

        get_settings.cache_clear()
        t = time.perf_counter()
        report = build_store(with_index=not a.no_index, quiet=True)
        cold = time.perf_counter() - t
        t = time.perf_counter()
        build_store(with_index=not a.no_index, quiet=True)
        warm = time.perf_counter() - t
    print(f"plans {report.plans}  sections {report.sections}  tasks {report.tasks}  offices {report.offices}  "
          f"index units {report.units}")
    print(f"build from scratch: {cold:.2f} s   rebuild (nothing changed): {warm:.2f} s")


if __name__ == "__main__":
    main()
