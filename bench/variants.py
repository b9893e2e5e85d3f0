"""Procedure-variant identification: does the bot end on the procedure the citizen meant?

Runs tests/data/variants/variants.jsonl in-process through `ChatService`: each case is a question
typed as people type ("mat cccd roi lam lai o dau"), optionally the citizen's next message (a
button's label, "2", "bi mat vi roi"), the procedure the conversation must end on, and whether the
first reply must be our one short question (`asks`). A case passes when the conversation ends on
that procedure and the bot asked exactly when the case says it should.

Retrieval is BM25-only by default (as in the unit tests, built in seconds); `--app-engine` uses the
engine the API builds (embeddings as configured). State goes to a throwaway SQLite database unless
DATABASE_URL is set.
Usage: python -m bench.variants [-v] [--app-engine]
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import uuid
from datetime import date
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

CASES = Path(__file__).resolve().parent.parent / "tests" / "data" / "variants" / "variants.jsonl"
TODAY = date(2026, 12, 2)  # the day the questions are asked (fees in force)


def load_cases(path: Path = CASES) -> list[dict]:
    cases = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    ids = [c["id"] for c in cases]
    if len(set(ids)) != len(ids):
        raise SystemExit(f"{path}: duplicate case ids")
    return cases


def build_service(app_engine: bool):
    tmp = Path(tempfile.mkdtemp(prefix="bench-variants-"))
    os.environ.setdefault("DATABASE_URL", f"sqlite:///{tmp}/bench.db")
    os.environ.setdefault("CHROMA_PATH", str(tmp / "chroma"))
    os.environ.setdefault("INDEX_DIR", str(tmp / "index"))
    from bot.service import ChatService
    from bot.setup import ensure_ready

    ensure_ready()
    if app_engine:
        from runtime.services import build_services

        engine = build_services().chat.engine
    else:
        from retrieval.engine import RetrievalEngine
        from retrieval.sources import all_units
        from settings import Settings

        engine = RetrievalEngine(all_units(), embedder=None,
                                 settings=Settings(index_dir=tmp / "bm25" / "index", chroma_path=tmp / "bm25" / "chroma",
                                                   embedding_backend="none"))
        engine.warm_up()
    return ChatService(engine=engine, clock=lambda: TODAY, max_fact_age_days=180)


def run_case(service, case: dict) -> tuple[bool, bool, str | None, str]:
    """(passed, asked, final procedure key, first reply's start) of one case."""
    from bot.types import InboundMessage
    from knowledge.procedures import load_catalogue

    user = f"bench-variant-{case['id']}-{uuid.uuid4().hex[:8]}"
    first = service.handle(InboundMessage(channel="bench", user_id=user, text=case["q"]))
    asked = first.intent == "clarify"
    if case.get("reply"):
        service.handle(InboundMessage(channel="bench", user_id=user, text=case["reply"]))
    final = (service.state.load("bench", user) or {}).get("procedure")
    service.forget("bench", user)
    expected = load_catalogue().get(case["procedure"])
    if expected is None:
        raise SystemExit(f"case {case['id']}: procedure {case['procedure']!r} is not in the catalogue")
    ok = final == expected.key and asked == bool(case.get("asks"))
    return ok, asked, final, first.reply.split("\n", 1)[0][:90]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    ap.add_argument("-v", action="store_true", help="print every case, not only failures")
    ap.add_argument("--app-engine", action="store_true", help="retrieval as the API builds it (slower)")
    a = ap.parse_args()
    cases = load_cases()
    service = build_service(a.app_engine)
    passed = asked_n = expected_asks = 0
    for case in cases:
        ok, asked, final, head = run_case(service, case)
        passed += ok
        asked_n += asked
        expected_asks += bool(case.get("asks"))
        if a.v or not ok:
            print(f"{'PASS' if ok else 'FAIL'} {case['id']}: {case['q']!r}"
                  f"{' → ' + repr(case['reply']) if case.get('reply') else ''} ended on {final} "
                  f"(want {case['procedure']}), asked={asked}: {head}", file=sys.stderr)
    n = len(cases)
    two_turn = sum(1 for c in cases if c.get("reply"))
    print(f"variants {passed:4d}/{n:4d} = {passed / n:.3f}   asked a question in {asked_n} "
          f"(cases expecting one: {expected_asks}); two-turn cases {two_turn}")


if __name__ == "__main__":
    main()
