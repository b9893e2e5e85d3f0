"""Recognise the locality a petition names and map it to the units in force since 1/7/2025.

Citizens still write the old names ("phường 3 TP Tây Ninh", "tinh long an", "thị xã Ngã Năm")
months after the merger, often without diacritics. Current provinces and wards/communes come from
the `vietnam-provinces` package (34 provinces, 3,321 wards); it carries no old → new mapping, so
old provinces, old districts and aliases come from `knowledge/pakn/localities.yaml`.

Matching works on accent-folded syllables, longest phrase first, and uses the word in front of a
name ("tỉnh", "huyện", "thị xã", "xã", "phường", "p.") to know which table to look in. A bare ward
name is only trusted when it is the whole location string: too many ward names are ordinary words
("An Ninh", "Thống Nhất") to fish them out of free text. Evidence is weighed per province; a ward
only counts when its province agrees. Unknown → None; the caller explains that to the citizen.
"""
from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import yaml
from pydantic import BaseModel, Field, field_validator

from pakn import fold, slugify

DATA_PATH = Path(__file__).resolve().parent.parent / "knowledge" / "pakn" / "localities.yaml"

_PROVINCE_MARKERS = {("tinh",), ("thanh", "pho"), ("tp",)}
_DISTRICT_MARKERS = {("huyen",), ("quan",), ("thi", "xa"), ("tx",), ("thanh", "pho"), ("tp",)}
_WARD_MARKERS = {("xa",), ("phuong",), ("p",), ("dac", "khu"), ("thi", "tran"), ("tt",)}
_MAX_NAME = 5
_SEGMENT = re.compile(r"[,;\n()\[\]|]+")  # not ".": "TP.HCM", "P. Gò Dầu"


class Locality(BaseModel):
    """A recognised place, expressed in today's units; `old_name` is the old unit the text used."""

    province_code: int
    province_name: str
    province_slug: str = Field(description='folded name with hyphens, e.g. "tay-ninh"')
    ward_code: int | None = None
    ward_name: str | None = None
    ward_slug: str | None = Field(None, description='e.g. "phuong-go-dau" (type included: names repeat)')
    matched: str = Field(description="the words of the text that were recognised")
    old_name: str | None = Field(None, description="old unit named in the text, if any")


class LocalityData(BaseModel):
    """knowledge/pakn/localities.yaml."""

    aliases: dict[str, list[str]] = {}
    old_provinces: dict[str, str]
    old_districts: dict[str, list[str]]

    @field_validator("old_provinces")
    @classmethod
    def _successors_exist(cls, v: dict[str, str]) -> dict[str, str]:
        current = {_short_province(p.name) for p in _vp_provinces()}
        bad = sorted(s for s in v.values() if fold(s) not in current)
        if bad:
            raise ValueError(f"unknown successor provinces: {bad}")
        return v


@dataclass(frozen=True)
class _Entry:
    kind: str            # province | old_province | old_district | ward
    province_code: int
    ward_code: int | None
    label: str           # display name of the matched unit


def _vp_provinces():
    from vietnam_provinces import Province

    return list(Province.iter_all())


def _short_province(name: str) -> str:
    f = fold(name)
    return f.removeprefix("thanh pho ").strip()


def _short_ward(name: str) -> str:
    f = fold(name)
    for p in ("phuong ", "xa ", "dac khu "):
        if f.startswith(p):
            return f[len(p):]
    return f


class LocalityIndex:
    """Phrase tables built once from vietnam-provinces and localities.yaml."""

    def __init__(self, data_path: Path = DATA_PATH) -> None:
        from vietnam_provinces import Ward

        data = LocalityData.model_validate(yaml.safe_load(data_path.read_text(encoding="utf-8")))
        self.provinces = {int(p.code): p for p in _vp_provinces()}
        by_short = {_short_province(p.name): int(p.code) for p in self.provinces.values()}
        self.wards = {int(w.code): w for w in Ward.iter_all()}

        self.province_phrases: dict[str, list[_Entry]] = defaultdict(list)
        for short, code in by_short.items():
            self.province_phrases[short].append(_Entry("province", code, None, self.provinces[code].name))
        for canon, aliases in data.aliases.items():
            code = by_short[fold(canon)]
            for a in aliases:
                self.province_phrases[fold(a)].append(_Entry("province", code, None, self.provinces[code].name))
        self.old_province_of: dict[str, int] = {}
        for old, new in data.old_provinces.items():
            code = by_short[fold(new)]
            self.old_province_of[fold(old)] = code
            self.province_phrases[fold(old)].append(_Entry("old_province", code, None, f"tỉnh {old} (cũ)"))

        self.district_phrases: dict[str, list[_Entry]] = defaultdict(list)
        for old_prov, names in data.old_districts.items():
            f_old = fold(old_prov)
            code = self.old_province_of.get(f_old, by_short.get(f_old))
            if code is None:
                raise ValueError(f"localities.yaml: unknown old province {old_prov!r}")
            for n in names:
                key = fold(n).removeprefix("thanh pho ").strip()
                self.district_phrases[key].append(_Entry("old_district", code, None, f"{n} ({old_prov} cũ)"))

        self.ward_phrases: dict[str, list[_Entry]] = defaultdict(list)
        for w in self.wards.values():
            self.ward_phrases[_short_ward(w.name)].append(_Entry("ward", int(w.province_code), int(w.code), w.name))

    # -- matching -------------------------------------------------------------------------------

    def _scan(self, toks: list[str], whole: bool) -> list[tuple[float, _Entry, str]]:
        """(weight, entry, matched words) for every recognised phrase, longest match first."""
        found: list[tuple[float, _Entry, str]] = []
        i = 0
        n = len(toks)
        while i < n:
            marker: tuple[str, ...] | None = None
            for m in ((toks[i],), tuple(toks[i:i + 2])):
                if m in _PROVINCE_MARKERS | _DISTRICT_MARKERS | _WARD_MARKERS:
                    marker = m
            start = i + (len(marker) if marker else 0)
            hit = None
            for size in range(min(_MAX_NAME, n - start), 0, -1):
                phrase = " ".join(toks[start:start + size])
                tables: list[tuple[float, list[_Entry]]] = []
                if marker in _WARD_MARKERS:
                    tables = [(2.0, self.ward_phrases.get(phrase, []))]
                elif marker in _DISTRICT_MARKERS and marker in _PROVINCE_MARKERS:  # "tp", "thành phố"
                    tables = [(3.0, self.province_phrases.get(phrase, [])), (2.0, self.district_phrases.get(phrase, []))]
                elif marker in _DISTRICT_MARKERS:
                    tables = [(2.0, self.district_phrases.get(phrase, []))]
                elif marker in _PROVINCE_MARKERS:
                    tables = [(3.0, self.province_phrases.get(phrase, []))]
                else:
                    if size == 1 and not whole:
                        continue  # a lone syllable in free text is never trusted
                    prov = self.province_phrases.get(phrase, [])
                    # A bare current province name means the province, not its old capital city.
                    tables = [(3.0, prov)] if prov else [(2.0, self.district_phrases.get(phrase, []))]
                    if whole and start == 0 and size == n:
                        tables.append((1.5, self.ward_phrases.get(phrase, [])))
                entries = [(w, e) for w, es in tables for e in es]
                if entries:
                    words = " ".join(toks[i:start + size])
                    # One phrase is one piece of evidence: each province it may mean gets its best
                    # weight, divided by how many provinces it may mean (ambiguity dilutes).
                    best: dict[int, float] = {}
                    for w, e in entries:
                        best[e.province_code] = max(best.get(e.province_code, 0.0), w)
                    share = 1.0 / len(best)
                    counted: set[int] = set()
                    for w, e in entries:
                        weight = 0.0
                        if w == best[e.province_code] and e.province_code not in counted:
                            weight = w * share
                            counted.add(e.province_code)
                        found.append((weight, e, words))
                    hit = start + size
                    break
            i = hit if hit else i + 1
        return found

    def recognise(self, text: str | None, *, whole: bool = False) -> Locality | None:
        """The locality named in `text`, or None. `whole=True` when `text` is only a place name."""
        if not text or not text.strip():
            return None
        # A name never spans punctuation: "xã Phước Vinh, Tây Ninh" is not "xã Phước Vĩnh Tây".
        segments = [fold(seg).split() for seg in _SEGMENT.split(text)]
        segments = [t for t in segments if t]
        whole = whole and len(segments) == 1
        found = [hit for toks in segments for hit in self._scan(toks, whole)]
        if not found:
            return None
        score: dict[int, float] = defaultdict(float)
        for w, e, _ in found:
            score[e.province_code] += w
        ranked = sorted(score.items(), key=lambda kv: -kv[1])
        if len(ranked) > 1 and ranked[0][1] == ranked[1][1]:
            return None  # two provinces equally likely: refuse rather than misroute
        code = ranked[0][0]
        mine = [(w, e, words) for w, e, words in found if e.province_code == code]
        ward = next((e for _, e, _ in mine if e.kind == "ward"), None)
        old_provs = [e for _, e, _ in mine if e.kind == "old_province"]
        olds = old_provs + [
            e for _, e, _ in mine
            if e.kind == "old_district"
            and (not old_provs or any(op.label.split(" ", 1)[1].removesuffix(" (cũ)") in e.label for op in old_provs))
        ]
        old_name = "; ".join(dict.fromkeys(e.label for e in olds)) or None
        p = self.provinces[code]
        w = self.wards.get(ward.ward_code) if ward else None
        return Locality(
            province_code=code,
            province_name=p.name,
            province_slug=p.codename.replace("_", "-"),
            ward_code=int(w.code) if w else None,
            ward_name=w.name if w else None,
            ward_slug=w.codename.replace("_", "-") if w else None,
            matched="; ".join(dict.fromkeys(words for _, _, words in mine)),
            old_name=old_name,
        )


@lru_cache(maxsize=1)
def get_index() -> LocalityIndex:
    """Process-wide index (building it reads 3,321 wards once)."""
    return LocalityIndex()


def recognise(text: str | None, *, whole: bool = False) -> Locality | None:
    """Recognise a locality in free text (`whole=False`) or in a location field (`whole=True`)."""
    return get_index().recognise(text, whole=whole)


def province_by_slug(slug: str) -> Locality | None:
    """The current province with this slug ("tay-ninh"), as a Locality without ward."""
    for p in get_index().provinces.values():
        if p.codename.replace("_", "-") == slug:
            return Locality(province_code=int(p.code), province_name=p.name,
                            province_slug=slug, matched=p.name)
    return None


__all__ = ["Locality", "province_by_slug", "recognise", "slugify"]
