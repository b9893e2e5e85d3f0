"""Benchmark: PAKN petitions with old (pre-1/7/2025) and new addresses → the right office.

Reads the labelled set `tests/data/pakn_addresses.jsonl` (petitions typed as people type: with and
without diacritics, "p3"/"F3"/"tp"/"h.", old districts, new wards, Long An → Tây Ninh, Bình Định →
Gia Lai, Sóc Trăng → Cần Thơ, province only, no address; each label's source is in the file), runs
the locality step of triage (`pakn.triage.locate`) and the router with the labelled category, and
prints the share routed to the expected office, overall and per kind of address, with the misses.
The category is given, not classified, so the number measures the address handling alone.

    python -m bench.pakn_addresses [--data tests/data/pakn_addresses.jsonl] [--show-misses]
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

DATA = ROOT / "tests" / "data" / "pakn_addresses.jsonl"


def load(path: Path = DATA) -> list[dict]:
    """The labelled petitions, one JSON object a line."""
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def evaluate(rows: list[dict]) -> tuple[float, list[dict], Counter, Counter]:
    """(accuracy, misses, hits per kind, total per kind) of routing each petition."""
    from pakn.routing import route
    from pakn.triage import locate

    misses: list[dict] = []
    hits: Counter = Counter()
    total: Counter = Counter()
    for r in rows:
        loc, _ = locate(r["content"], r.get("location"))
        got = route(r["category"], loc).office_id
        total[r["kind"]] += 1
        if got == r["expected_office"]:
            hits[r["kind"]] += 1
        else:
            misses.append({**r, "got": got})
    return sum(hits.values()) / len(rows), misses, hits, total


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=DATA)
    ap.add_argument("--show-misses", action="store_true")
    args = ap.parse_args()
    rows = load(args.data)
    t0 = time.perf_counter()
    from pakn.localities import get_index

    get_index()
    build = time.perf_counter() - t0
    t0 = time.perf_counter()
    acc, misses, hits, total = evaluate(rows)
    per = (time.perf_counter() - t0) / len(rows) * 1000
    print(f"petitions: {len(rows)}  routed to the expected office: {len(rows) - len(misses)}  accuracy: {acc:.3f}")
    for kind in sorted(total):
        print(f"  {kind:14s} {hits[kind]:3d}/{total[kind]:3d}")
    print(f"locality index build {build:.2f} s; locate+route {per:.2f} ms a petition (first call per old ward converts)")
    if args.show_misses or misses:
        for m in misses:
            print(f"MISS #{m['id']} [{m['kind']}] {m.get('location') or m['content']!r}: expected {m['expected_office']}, got {m['got']}")


if __name__ == "__main__":
    main()
