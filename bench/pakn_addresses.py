"""Benchmark: PAKN petitions with old (pre-1/7/2025) and new addresses → the right office.

Reads the labelled set `tests/data/pakn_addresses.jsonl` (petitions typed as people type: with and
without diacritics, "p3"/"F3"/"tp"/"h.", old districts, new wards, Long An → Tây Ninh, Bình Định →
Gia Lai, Sóc Trăng → Cần Thơ, province only, no address; each label's source is in the file), runs
the locality step of triage (`pakn.triage.locate`) and the router with the labelled category, and
prints the share routed to the expected office, overall and per kind of address, with the misses.
The category is given, not classified, so the number measures the address handling alone.

`--sample N` adds a generated check over the whole old map of Tây Ninh, Long An, Bình Định and
Sóc Trăng: N old wards drawn at random (seeded), each typed four ways (official with commas,
folded, abbreviated "p3 tp tay ninh" / "x. cat hanh h. phu cat", and without the province inside a
sentence), expected at the successor both converters agree on (wards they disagree on are left out).

`--converter vietnam-address-converter` swaps the old→new table for that package's (install it
beside the project, e.g. `uv pip install --target /tmp/vac vietnam-address-converter` and put that
directory on PYTHONPATH), to compare the two on the same petitions.

    python -m bench.pakn_addresses [--data tests/data/pakn_addresses.jsonl] [--show-misses]
                                   [--sample 200] [--converter vietnamadminunits|vietnam-address-converter]
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


def evaluate(rows: list[dict], index=None) -> tuple[float, list[dict], Counter, Counter]:
    """(accuracy, misses, hits per kind, total per kind) of routing each petition."""
    from pakn.routing import route
    from pakn.triage import locate

    misses: list[dict] = []
    hits: Counter = Counter()
    total: Counter = Counter()
    for r in rows:
        loc, _ = locate(r["content"], r.get("location"), index=index)
        got = route(r["category"], loc).office_id
        total[r["kind"]] += 1
        if got == r["expected_office"]:
            hits[r["kind"]] += 1
        else:
            misses.append({**r, "got": got})
    return sum(hits.values()) / len(rows), misses, hits, total


class _VacUnit:
    def __init__(self, ward: str | None, province: str | None) -> None:
        self.ward, self.province, self.OldAdminUnit = ward, province, None


def vac_convert():
    """A `convert` for pakn.old_units.OldUnits backed by vietnam-address-converter (not a dependency)."""
    from vietnam_address_converter import create_converter

    conv = create_converter()

    def convert(canonical: str) -> _VacUnit:
        ward, district, province = (p.strip() for p in canonical.split(","))
        res = conv.convert_old_to_new({"province_name": province, "district_name": district, "ward_name": ward})
        out = res.get("result") or {}
        return _VacUnit((out.get("new_ward") or {}).get("name_with_type"),
                        (out.get("new_province") or {}).get("name_with_type"))

    return convert


_ABBR_WARD = {"Phường": "p", "Xã": "x.", "Thị trấn": "tt"}
_ABBR_DISTRICT = {"Thành phố": "tp", "Thị xã": "tx", "Huyện": "h.", "Quận": "q."}


def _abbreviate(name: str, table: dict[str, str]) -> str:
    from vntext import fold_words

    for full, short in table.items():
        if name.startswith(full + " "):
            rest = fold_words(name[len(full) + 1:])
            return f"{short}{rest}" if rest.isdigit() and short == "p" else f"{short} {rest}"
    return fold_words(name)


def sample_rows(n: int, seed: int = 2025) -> list[dict]:
    """Old wards of four old provinces typed four ways; labels where both converters agree."""
    import random

    from pakn.old_units import OldUnits
    from vntext import fold_words, slugify

    units = OldUnits()
    other = OldUnits(rows=[], convert=vac_convert())
    olds = [o for os_ in units.wards.values() for o in os_
            if o.province_short in ("Tây Ninh", "Long An", "Bình Định", "Sóc Trăng")]
    random.Random(seed).shuffle(olds)
    slug = {"Tỉnh Tây Ninh": "tay-ninh", "Tỉnh Gia Lai": "gia-lai", "Thành phố Cần Thơ": "can-tho"}
    rows: list[dict] = []
    for o in olds:
        if len(rows) >= 4 * n:
            break
        a, b = units.successor(o), other.successor(o)
        if a is None or b is None or (fold_words(a.ward), fold_words(a.province)) != (fold_words(b.ward), fold_words(b.province)):
            continue
        expected = f"{slug[a.province]}.xa.{slugify(a.ward)}"
        means = f"{o.ward}, {o.district}, {o.province}"
        abbreviated = (f"rac thai o {_abbreviate(o.ward, _ABBR_WARD)} "
                       f"{_abbreviate(o.district, _ABBR_DISTRICT)} khong ai thu gom")
        forms = {
            "official": ("Rác thải ùn ứ bốc mùi", means),
            "folded": (f"rac thai un u boc mui o {fold_words(o.ward)} {fold_words(o.district)} {fold_words(o.province_short)}", None),
            "abbreviated": (abbreviated, None),
            "no_province": (f"Rác thải ở {o.ward.lower()}, {o.district.lower()} không ai thu gom", None),
        }
        for kind, (content, location) in forms.items():
            rows.append({"id": f"s{len(rows)}", "content": content, "location": location, "category": "moi_truong",
                         "kind": f"sample_{kind}", "means": means, "expected_office": expected})
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=DATA)
    ap.add_argument("--show-misses", action="store_true")
    ap.add_argument("--sample", type=int, default=0, help="also N generated old wards × 4 typings")
    ap.add_argument("--converter", choices=("vietnamadminunits", "vietnam-address-converter"),
                    default="vietnamadminunits")
    args = ap.parse_args()
    t0 = time.perf_counter()
    from pakn.localities import LocalityIndex
    from pakn.old_units import OldUnits

    index = (LocalityIndex(old_units=OldUnits(convert=vac_convert()))
             if args.converter == "vietnam-address-converter" else LocalityIndex())
    build = time.perf_counter() - t0
    sets = [("labelled set", load(args.data))]
    if args.sample:
        sets.append(("generated sample", sample_rows(args.sample)))
    print(f"converter: {args.converter}; locality index build {build:.2f} s")
    for name, rows in sets:
        t0 = time.perf_counter()
        acc, misses, hits, total = evaluate(rows, index)
        per = (time.perf_counter() - t0) / len(rows) * 1000
        print(f"{name}: {len(rows)} petitions, {len(rows) - len(misses)} routed to the expected office, "
              f"accuracy {acc:.3f} ({per:.2f} ms a petition)")
        for kind in sorted(total):
            print(f"  {kind:20s} {hits[kind]:4d}/{total[kind]:4d}")
        if args.show_misses or name == "labelled set":
            for m in misses:
                print(f"  MISS {m['id']} [{m['kind']}] {m.get('location') or m['content']!r}: "
                      f"expected {m['expected_office']}, got {m['got']}")


if __name__ == "__main__":
    main()
