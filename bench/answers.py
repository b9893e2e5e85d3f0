"""Answer accuracy per kind and /api/v1/chat latency, in one run, against the real API.

Reads every case file in tests/data/eval/ (the shared dev set is one of them) in the grader's
format and scores it the way ../shared/eval/grade.py does (accent- and case-insensitive matching,
refusal for out-of-scope, category for routing cases, the last turn for multi-turn cases).
Usage: python bench/answers.py [--only KIND] [-v]
"""
from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench._server import running_api
from vntext import fold

EVAL_DIR = Path(__file__).resolve().parent.parent / "tests" / "data" / "eval"


def post(url: str, payload: dict) -> tuple[dict, float]:
    req = urllib.request.Request(url, json.dumps(payload).encode(), {"Content-Type": "application/json"})
    t = time.perf_counter()
    with urllib.request.urlopen(req, timeout=60) as r:
        body = json.loads(r.read())
    return body, time.perf_counter() - t


def grade(url: str, case: dict, lat: list[float]) -> tuple[bool, str]:
    if case["kind"] == "route":
        r, dt = post(url + "/api/v1/pakn/classify", {"content": case["content"]})
        return r.get("category") in case["cat"], f"category={r.get('category')}"
    user = f"bench-{case['id']}-{time.time_ns()}"
    r = {}
    for turn in case.get("turns", [case.get("q")]):
        r, dt = post(url + "/api/v1/chat", {"user_id": user, "text": turn, "channel": "api"})
        lat.append(dt)
    reply = r.get("reply", "") or ""
    if case["kind"] == "oos":
        return r.get("answered") is False, reply[:120]
    f = fold(reply)
    ok = all(fold(x) in f for x in case.get("all", [])) and (
        "any" not in case or any(fold(x) in f for x in case["any"]))
    return ok, reply[:160].replace("\n", " ")


def load_cases(only: str | None) -> list[dict]:
    cases, seen = [], set()
    for path in sorted(EVAL_DIR.glob("*.jsonl")):
        for line in path.read_text(encoding="utf-8").splitlines():
            if line.strip():
                c = json.loads(line)
                if c["id"] in seen:
                    continue
                seen.add(c["id"])
                if not only or c["kind"] == only:
                    cases.append(c)
    return cases


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--only")
    ap.add_argument("--url", help="use a running API instead of starting one")
    ap.add_argument("-v", action="store_true")
    a = ap.parse_args()
    cases = load_cases(a.only)
    per: dict[str, list[bool]] = {}
    per_field: dict[str, list[bool]] = {}
    lat: list[float] = []

    def run(url: str) -> None:
        for c in cases:
            try:
                ok, info = grade(url, c, lat)
            except Exception as e:  # noqa: BLE001 - a crash is a failed case
                ok, info = False, f"ERROR {type(e).__name__}: {e}"
            per.setdefault(c["kind"], []).append(ok)
            if c["kind"] == "tthc":
                per_field.setdefault(c.get("field", "overview"), []).append(ok)
            if a.v or not ok:
                print(f"{'PASS' if ok else 'FAIL'} {c['id']}: {info}", file=sys.stderr)

    if a.url:
        run(a.url)
    else:
        with running_api() as url:
            run(url)
    total = sum(sum(v) for v in per.values())
    n = sum(len(v) for v in per.values())
    for kind, v in sorted(per.items()):
        print(f"{kind:8s} {sum(v):4d}/{len(v):4d} = {sum(v) / len(v):.3f}")
    if per_field:
        fields = "  ".join(f"{f} {sum(v)}/{len(v)}" for f, v in sorted(per_field.items()))
        print(f"tthc by field: {fields}")
    lat.sort()
    if lat:
        print(f"overall  {total:4d}/{n:4d} = {total / n:.3f}   chat latency p50 {statistics.median(lat) * 1000:.0f} ms,"
              f" p95 {lat[int(0.95 * (len(lat) - 1))] * 1000:.0f} ms over {len(lat)} requests")


if __name__ == "__main__":
    main()
