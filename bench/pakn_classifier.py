"""Measure the PAKN classifier on the held-out sets and triage latency.

Run: `.venv/bin/python bench/pakn_classifier.py`. Prints accuracy (raw top-1 and after the
low-confidence fallback), per-category accuracy, the worst confusions, the threshold trade-off and
triage latency p50/p95 — the numbers the classifier's parameters were chosen by. Then the same
accuracy summary on heldout_b.yaml, a second held-out set written independently of heldout.yaml.
"""
from __future__ import annotations

import statistics
import sys
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from pakn.classifier import HELDOUT_PATH, get_classifier, load_examples
from pakn.triage import triage

HELDOUT_B_PATH = HELDOUT_PATH.with_name("heldout_b.yaml")


def main() -> None:
    t0 = time.perf_counter()
    clf = get_classifier()
    print(f"build: {time.perf_counter() - t0:.2f}s  examples={len(clf.texts)}  params={clf.params}")
    held = load_examples(HELDOUT_PATH, "heldout", clf.categories)
    rows = []
    for text, gold in held:
        probs = clf.probabilities(text)
        i = int(probs.argmax())
        rows.append((gold, clf.slugs[i], float(probs[i])))
    n = len(rows)
    raw = sum(g == p for g, p, _ in rows) / n
    th = clf.params.threshold
    final = sum((p if c >= th else "khac") == g for g, p, c in rows) / n
    auto = [(g, p) for g, p, c in rows if c >= th]
    print(f"\nheldout n={n}  top-1 accuracy={raw:.3f}  after fallback={final:.3f}")
    lexical = sum(not clf.needs_semantic(clf.lexical_probabilities(t)) for t, _ in held)
    print(f"cascade: the lexical view decides {lexical}/{n} ({lexical / n:.0%}) without an embedding "
          f"(lexical_first={clf.params.lexical_first})")
    print(f"threshold={th}: auto-routed {len(auto)}/{n} with accuracy "
          f"{sum(g == p for g, p in auto) / max(1, len(auto)):.3f}; to human queue {n - len(auto)} "
          f"(of which misclassified {sum(g != p for g, p, c in rows if c < th)})")
    print("\nthreshold trade-off:")
    for t in (0.16, 0.18, 0.20, 0.22, 0.25, 0.30):
        a = [(g, p) for g, p, c in rows if c >= t]
        print(f"  {t:.2f}: auto {len(a):3d}/{n}  auto-accuracy {sum(g == p for g, p in a) / max(1, len(a)):.3f}")
    print("\nper-category top-1 accuracy:")
    for slug in clf.slugs:
        r = [(g, p) for g, p, _ in rows if g == slug]
        print(f"  {slug:20s} {sum(g == p for g, p in r) / len(r):.2f}  ({len(r)})")
    conf = Counter((g, p) for g, p, _ in rows if g != p)
    print("\nworst confusions (gold → predicted):")
    for (g, p), c in conf.most_common(8):
        print(f"  {g:20s} → {p:20s} {c}")

    if HELDOUT_B_PATH.exists():
        rows_b = []
        for text, gold in load_examples(HELDOUT_B_PATH, "heldout", clf.categories):
            probs = clf.probabilities(text)
            i = int(probs.argmax())
            rows_b.append((gold, clf.slugs[i], float(probs[i])))
        nb = len(rows_b)
        print(f"\nheldout_b n={nb}  top-1 accuracy={sum(g == p for g, p, _ in rows_b) / nb:.3f}  "
              f"after fallback={sum((p if c >= th else 'khac') == g for g, p, c in rows_b) / nb:.3f}")
        print("per-category top-1 accuracy (heldout_b):")
        for slug in clf.slugs:
            r = [(g, p) for g, p, _ in rows_b if g == slug]
            if r:
                print(f"  {slug:20s} {sum(g == p for g, p in r) / len(r):.2f}  ({len(r)})")
        print("worst confusions (heldout_b, gold → predicted):")
        for (g, p), c in Counter((g, p) for g, p, _ in rows_b if g != p).most_common(8):
            print(f"  {g:20s} → {p:20s} {c}")

    clf._query_cache.clear()  # measure real embedding cost, not the cache filled above
    lat = []
    for text, _ in held:
        s = time.perf_counter()
        triage(text)
        lat.append((time.perf_counter() - s) * 1000)
    lat.sort()
    p95 = lat[int(0.95 * (len(lat) - 1))]
    print(f"\ntriage latency (first call per text): p50={statistics.median(lat):.1f} ms  p95={p95:.1f} ms")
    lat = []
    for text, _ in held:
        s = time.perf_counter()
        triage(text)
        lat.append((time.perf_counter() - s) * 1000)
    lat.sort()
    print(f"triage latency (repeat, query cache): p50={statistics.median(lat):.1f} ms  "
          f"p95={lat[int(0.95 * (len(lat) - 1))]:.1f} ms")


if __name__ == "__main__":
    main()
