"""Retrieval quality, latency and build time in one run.

    .venv/bin/python -m bench.retrieval [--queries tests/data/retrieval_queries.jsonl] [--fusion-grid]

Reads lines {"id", "doc", "gold": [snippets], "accented", "folded", "abbrev"}; a retrieved unit is a
hit when its text (or text + context) contains a gold snippet — compared without accents or case,
whitespace collapsed — and its meta corpus_id equals `doc`. Prints Recall@1, Recall@5 and MRR (over
the top 5) for BM25, dense and hybrid per query form; p50/p95 warm query latency (query embedding
not cached, then cached); and index build time cold (with the vectors shipped in knowledge/index,
or with `--no-seed` without them) and as an incremental no-op, each in a fresh
temporary index/Chroma directory so earlier runs cannot help.
"""
from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from retrieval import engine as engine_mod
from retrieval.engine import RetrievalEngine
from retrieval.normalize import loose_key
from retrieval.types import Unit

FORMS = ("accented", "folded", "abbrev")
MODES = ("bm25", "dense", "hybrid")


def load_queries(path: Path) -> list[dict]:
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    return [r for r in rows if r.get("gold")]


def load_units() -> list[Unit]:
    from retrieval.sources import all_units

    units = all_units()
    if not any(u.kind.startswith("plan") for u in units):
        from retrieval.testing import paragraph_units

        print("knowledge.plans unavailable: using paragraph units")
        units += paragraph_units()
    return units


def is_hit(unit: Unit, row: dict) -> bool:
    if str(unit.meta.get("corpus_id")) != str(row["doc"]):
        return False
    hay = loose_key(unit.text + " \n " + unit.context)
    return any(loose_key(g) in hay for g in row["gold"])


def evaluate(engine: RetrievalEngine, rows: list[dict], mode: str, form: str) -> dict[str, float]:
    r1 = r5 = rr = 0.0
    n = 0
    misses = []
    for row in rows:
        q = row.get(form)
        if not q:
            continue
        n += 1
        hits = engine.search(q, k=5, mode=mode)  # type: ignore[arg-type]
        rank = next((h.rank for h in hits if is_hit(h.unit, row)), None)
        if rank:
            r5 += 1
            rr += 1 / rank
            r1 += rank == 1
        else:
            misses.append(row["id"])
    n = max(n, 1)
    return {"R@1": r1 / n, "R@5": r5 / n, "MRR": rr / n, "n": n, "misses": misses}


def settings_in(tmp: Path):
    from settings import Settings

    return Settings(index_dir=tmp / "index", chroma_path=tmp / "chroma", chroma_host=None)


def pct(values: list[float], p: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, round(p / 100 * (len(values) - 1)))]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--queries", type=Path, default=ROOT / "tests/data/retrieval_queries.jsonl")
    ap.add_argument("--fusion-grid", action="store_true", help="also compare fusion methods/weights")
    ap.add_argument("--misses", action="store_true", help="print ids of missed queries")
    ap.add_argument("--reuse", type=Path, default=None,
                    help="index/Chroma directory kept between runs (for tuning; build numbers then warm)")
    ap.add_argument("--no-seed", action="store_true",
                    help="cold build without the shipped vectors (knowledge/index): every unit embedded by the model")
    args = ap.parse_args()
    if args.no_seed:
        engine_mod.load_seed = lambda name: {}  # type: ignore[assignment]

    rows = load_queries(args.queries)
    units = load_units()
    print(f"{len(rows)} queries, {len(units)} units")

    with tempfile.TemporaryDirectory() as tmpdir:
        tmp = args.reuse or Path(tmpdir)
        t = time.perf_counter()
        engine = RetrievalEngine(units, settings=settings_in(tmp))
        cold = engine.warm_up()
        cold_s = time.perf_counter() - t
        t = time.perf_counter()
        again = RetrievalEngine(units, settings=settings_in(tmp))
        noop = again.warm_up()
        noop_s = time.perf_counter() - t
        print(f"build cold: {cold_s:.2f} s (bm25 {cold.sparse_s:.2f} s, dense {cold.dense_s:.2f} s, "
              f"embedded {cold.dense.embedded if cold.dense else 0}, "
              f"from the shipped vectors {cold.dense.seeded if cold.dense else 0})")
        print(f"build incremental no-op: {noop_s:.2f} s (bm25 cached={noop.sparse_cached}, "
              f"embedded {noop.dense.embedded if noop.dense else 0})")

        print(f"\n{'mode':8} {'form':9} {'R@1':>6} {'R@5':>6} {'MRR':>6}")
        for mode in MODES:
            for form in FORMS:
                m = evaluate(engine, rows, mode, form)
                print(f"{mode:8} {form:9} {m['R@1']:6.3f} {m['R@5']:6.3f} {m['MRR']:6.3f}   (n={m['n']})")
                if args.misses and m["misses"]:
                    print("          misses:", " ".join(m["misses"]))

        if args.fusion_grid:
            print("\nfusion grid (hybrid, mean over forms): method weights  R@1 R@5 MRR")
            saved = engine_mod.FUSION, engine_mod.WEIGHTS
            for method, weights in [("rrf", (1.0, 1.0)), ("rrf", (1.0, 0.7)), ("rrf", (0.7, 1.0)),
                                    ("rrf", (1.0, 0.5)), ("weighted", (0.5, 0.5)), ("weighted", (0.6, 0.4)),
                                    ("weighted", (0.4, 0.6)), ("weighted", (0.7, 0.3))]:
                engine_mod.FUSION, engine_mod.WEIGHTS = method, weights
                ms = [evaluate(engine, rows, "hybrid", f) for f in FORMS]
                print(f"  {method:8} {weights}  " + "  ".join(
                    f"{statistics.mean(m[key] for m in ms):.3f}" for key in ("R@1", "R@5", "MRR"))
                      + "   min R@5 " + f"{min(m['R@5'] for m in ms):.3f}"
                      + "   min MRR " + f"{min(m['MRR'] for m in ms):.3f}")
            engine_mod.FUSION, engine_mod.WEIGHTS = saved

        queries = [row[f] for row in rows for f in FORMS if row.get(f)]
        for label, clear in (("uncached query embedding", True), ("cached query embedding", False)):
            lat = []
            if not clear:
                for q in queries:
                    engine.search(q, k=5)
            for q in queries:
                if clear and engine.embedder is not None:
                    engine.embedder._cache.clear()
                t = time.perf_counter()
                engine.search(q, k=5)
                lat.append((time.perf_counter() - t) * 1000)
            print(f"hybrid latency, {label}: p50 {pct(lat, 50):.1f} ms, p95 {pct(lat, 95):.1f} ms "
                  f"({len(lat)} queries)")
        lat = []
        for q in queries:
            t = time.perf_counter()
            engine.search(q, k=5, mode="bm25")
            lat.append((time.perf_counter() - t) * 1000)
        print(f"bm25 latency: p50 {pct(lat, 50):.1f} ms, p95 {pct(lat, 95):.1f} ms")


if __name__ == "__main__":
    main()
