"""Tokenisation for BM25: syllables + syllable bigrams vs a Vietnamese word segmenter (pyvi).

    .venv/bin/python -m bench.segmentation [--pyvi-path DIR]

pyvi is not a project dependency; install it somewhere aside to run this comparison
(`pip install --target /tmp/segdeps pyvi`, then `--pyvi-path /tmp/segdeps`). Every scheme indexes
the same normalised text (lexicon and number rules applied) of text + context in one BM25 field,
and is scored with the same hit rule as bench/retrieval.py over the top 5.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import bm25s
import numpy as np

from bench.retrieval import FORMS, is_hit, load_queries, load_units
from retrieval.normalize import index_terms, normalize, normalize_tokens
from vntext import fold, has_diacritics


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--queries", type=Path, default=ROOT / "tests/data/retrieval_queries.jsonl")
    ap.add_argument("--pyvi-path", default="/tmp/segdeps")
    args = ap.parse_args()
    sys.path.append(args.pyvi_path)
    try:
        from pyvi import ViTokenizer
    except ImportError:
        ViTokenizer = None
        print("pyvi not importable: only syllable schemes compared")

    rows = load_queries(args.queries)
    units = load_units()
    texts = [u.text + " " + u.title + " " + u.context for u in units]

    def syl_bigram(text: str, query: bool) -> list[str]:
        toks = normalize_tokens(text, query=query)
        return index_terms(toks, accented=not query or has_diacritics(text))

    def syl_only(text: str, query: bool) -> list[str]:
        toks = normalize_tokens(text, query=query)
        acc = not query or has_diacritics(text)
        return (toks if acc else []) + ["~" + fold(t) for t in toks]

    def pyvi_words(text: str, query: bool, with_syllables: bool = False) -> list[str]:
        norm = normalize(text, query=query)
        words = ViTokenizer.tokenize(norm).split()
        acc = not query or has_diacritics(text)
        terms = (words if acc else []) + ["~" + fold(w) for w in words]
        if with_syllables:
            terms += syl_only(text, query)
        return terms

    schemes = {"syllables+bigrams": syl_bigram, "syllables": syl_only}
    if ViTokenizer is not None:
        schemes["pyvi words"] = pyvi_words
        schemes["pyvi words+syllables"] = lambda t, q: pyvi_words(t, q, True)

    print(f"{len(rows)} queries, {len(units)} units; BM25 over text+title+context, top 5")
    print(f"{'scheme':22} {'form':9} {'R@1':>6} {'R@5':>6} {'MRR':>6}  index s  query ms")
    for name, fn in schemes.items():
        t = time.perf_counter()
        bm = bm25s.BM25()
        bm.index([fn(x, False) for x in texts], show_progress=False)
        index_s = time.perf_counter() - t
        for form in FORMS:
            r1 = r5 = rr = 0.0
            n = 0
            t = time.perf_counter()
            for row in rows:
                q = row.get(form)
                if not q:
                    continue
                n += 1
                scores = bm.get_scores(fn(q, True))
                top = np.argsort(-scores)[:5]
                rank = next((r + 1 for r, i in enumerate(top) if scores[i] > 0 and is_hit(units[i], row)), None)
                if rank:
                    r5 += 1
                    rr += 1 / rank
                    r1 += rank == 1
            q_ms = (time.perf_counter() - t) / max(n, 1) * 1000
            print(f"{name:22} {form:9} {r1 / n:6.3f} {r5 / n:6.3f} {rr / n:6.3f}  {index_s:7.2f}  {q_ms:7.2f}")


if __name__ == "__main__":
    main()
