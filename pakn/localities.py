"""Recognise the locality a petition names and map it to the units in force since 1/7/2025.

Citizens still write the old names ("phường 3 TP Tây Ninh", "tinh long an", "thị xã Ngã Năm")
months after the merger, often without diacritics. Current provinces and wards/communes come from
the `vietnam-provinces` package (34 provinces, 3,321 wards); it carries no old → new mapping, so
old provinces, hand-listed old districts, aliases and unit abbreviations ("p3", "F3", "h.", "tx")
come from `knowledge/pakn/localities.yaml`, and every old ward and district of the 63-province map,
with the ward that succeeded it, from `vietnamadminunits` (see pakn/old_units.py).

Matching works on accent-folded syllables, longest phrase first, and uses the word in front of a
name ("tỉnh", "huyện", "thị xã", "xã", "phường", "p.") to know which table to look in. A bare ward
name is only trusted when it is the whole location string (or the first part of a location field):
too many ward names are ordinary words ("An Ninh", "Thống Nhất") to fish them out of free text; for
the same reason an old district from the library's list needs its "huyện"/"quận"/"thị xã"/"TP".
Evidence is weighed per province; a ward only counts when its province agrees. An old ward name is
shared by many old districts ("Phường 3"), so it counts only when the district or province written
beside it leaves one successor; otherwise the petition stays at province level rather than going
to the wrong ward. Nor does an old ward name count alone: it needs its own old district beside it
(or, in the location field, its province): "các xã biên giới", "gọi phường 3 lần", "xa lắm" are
words, though xã Biên Giới, Phường 3 and thị trấn Lâm existed. Unknown → None; the caller explains that to the citizen.
"""
from __future__ import annotations

import re
import unicodedata
from collections import defaultdict
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import yaml
from pydantic import BaseModel, Field, ValidationError, field_validator

from knowledge.errors import KnowledgeError
from pakn.old_units import OldUnits, OldWard, Successor, short_unit
from vntext import fold_words, slugify

DATA_PATH = Path(__file__).resolve().parent.parent / "knowledge" / "pakn" / "localities.yaml"

_PROVINCE_MARKERS = {("tinh",), ("thanh", "pho"), ("tp",)}
_DISTRICT_MARKERS = {("huyen",), ("quan",), ("thi", "xa"), ("tx",), ("thanh", "pho"), ("tp",)}
_WARD_MARKERS = {("xa",), ("phuong",), ("p",), ("dac", "khu"), ("thi", "tran"), ("tt",)}
_MAX_NAME = 5
_SEGMENT = re.compile(r"[,;\n()\[\]|]+")  # not ".": "TP.HCM", "P. Gò Dầu"
_TWO_WORD_MARKERS = {m for m in _PROVINCE_MARKERS | _DISTRICT_MARKERS | _WARD_MARKERS if len(m) == 2}
_UNIT_TYPE = re.compile(r"^(phường|xã|thị trấn|đặc khu)\s+")
_GLUED = re.compile(r"^([a-z]{1,2})(\d{1,2})$")  # "p3", "f12", "q1"


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
    successor_note: str | None = Field(
        None, description='for the citizen: "Phường 3, TP Tây Ninh (cũ) nay là Phường Tân Ninh, tỉnh Tây Ninh"')


class LocalityData(BaseModel):
    """knowledge/pakn/localities.yaml."""

    aliases: dict[str, list[str]] = {}
    unit_abbreviations: dict[str, str] = {}
    old_provinces: dict[str, str]
    old_districts: dict[str, list[str]]

    @field_validator("unit_abbreviations")
    @classmethod
    def _abbreviations_name_units(cls, v: dict[str, str]) -> dict[str, str]:
        units = {" ".join(m) for m in _PROVINCE_MARKERS | _DISTRICT_MARKERS | _WARD_MARKERS}
        bad = sorted(f"{k}: {u}" for k, u in v.items() if fold_words(u) not in units or len(fold_words(k).split()) != 1)
        if bad:
            raise ValueError(f"unit_abbreviations: each key is one word and each value a unit word "
                             f"({sorted(units)}); not {bad}")
        return v

    @field_validator("old_provinces")
    @classmethod
    def _successors_exist(cls, v: dict[str, str]) -> dict[str, str]:
        current = {_short_province(p.name) for p in _vp_provinces()}
        bad = sorted(s for s in v.values() if fold_words(s) not in current)
        if bad:
            raise ValueError(f"unknown successor provinces: {bad}")
        return v


def _load_data(path: Path) -> LocalityData:
    """localities.yaml, validated; an error names the file and the line of the offending key,
    because the file is edited by hand."""
    text = path.read_text(encoding="utf-8")
    try:
        return LocalityData.model_validate(yaml.safe_load(text))
    except ValidationError as exc:
        first = exc.errors()[0]
        line = None
        root = yaml.compose(text)
        if isinstance(root, yaml.MappingNode) and first["loc"]:
            line = next((k.start_mark.line + 1 for k, _ in root.value if k.value == first["loc"][0]), None)
        where = f"{path}:{line}" if line else str(path)
        raise KnowledgeError(f"{where}: {'.'.join(map(str, first['loc']))}: {first['msg']}") from exc


@dataclass(frozen=True)
class _Entry:
    kind: str            # province | old_province | old_district | ward | old_ward
    province_code: int
    ward_code: int | None
    label: str           # display name of the matched unit
    district_key: str | None = None   # old_district/old_ward: folded district name without type
    old_province: str | None = None   # province/old_province/old_district/old_ward: folded short name
    old_ward: OldWard | None = None


def _vp_provinces():
    from vietnam_provinces import Province

    return list(Province.iter_all())


def _short_province(name: str) -> str:
    f = fold_words(name)
    return f.removeprefix("thanh pho ").strip()


def _short_ward(name: str) -> str:
    f = fold_words(name)
    for p in ("phuong ", "xa ", "dac khu "):
        if f.startswith(p):
            return f[len(p):]
    return f


class LocalityIndex:
    """Phrase tables built once from vietnam-provinces and localities.yaml."""

    def __init__(self, data_path: Path = DATA_PATH, old_units: OldUnits | None = None) -> None:
        from vietnam_provinces import Ward

        data = _load_data(data_path)
        self.old_units = old_units or OldUnits()
        self.abbreviations = {fold_words(k): fold_words(v).split() for k, v in data.unit_abbreviations.items()}
        self.provinces = {int(p.code): p for p in _vp_provinces()}
        by_short = {_short_province(p.name): int(p.code) for p in self.provinces.values()}
        self.wards = {int(w.code): w for w in Ward.iter_all()}

        self.province_phrases: dict[str, list[_Entry]] = defaultdict(list)
        for short, code in by_short.items():
            self.province_phrases[short].append(_Entry("province", code, None, self.provinces[code].name,
                                                       old_province=short))
        for canon, aliases in data.aliases.items():
            code = by_short[fold_words(canon)]
            for a in aliases:
                self.province_phrases[fold_words(a)].append(_Entry("province", code, None, self.provinces[code].name))
        self.old_province_of: dict[str, int] = {}
        for old, new in data.old_provinces.items():
            code = by_short[fold_words(new)]
            self.old_province_of[fold_words(old)] = code
            self.province_phrases[fold_words(old)].append(_Entry("old_province", code, None, f"tỉnh {old} (cũ)"))

        self.district_phrases: dict[str, list[_Entry]] = defaultdict(list)
        for old_prov, names in data.old_districts.items():
            f_old = fold_words(old_prov)
            found = self.old_province_of.get(f_old, by_short.get(f_old))
            if found is None:
                raise ValueError(f"localities.yaml: unknown old province {old_prov!r}")
            code = found
            for n in names:
                key = fold_words(n).removeprefix("thanh pho ").strip()
                self.district_phrases[key].append(_Entry("old_district", code, None, f"{n} ({old_prov} cũ)",
                                                         district_key=short_unit(n), old_province=f_old))

        def successor_code(old_province_short: str) -> int:
            f = fold_words(old_province_short)
            code = by_short.get(f, self.old_province_of.get(f))
            if code is None:
                raise ValueError(f"localities.yaml: old province {old_province_short!r} of vietnamadminunits "
                                 "is neither a current province nor listed under old_provinces")
            return code

        # Every old district and ward of the 63-province map (vietnamadminunits), trusted only after
        # a unit word ("huyện Đức Hòa", "xã Hiệp Tân"): see the module docstring.
        self.old_district_phrases: dict[str, list[_Entry]] = defaultdict(list)
        for key, districts in self.old_units.districts.items():
            for district, prov_short in districts:
                self.old_district_phrases[key].append(_Entry(
                    "old_district", successor_code(prov_short), None, f"{district} ({prov_short} cũ)",
                    district_key=key, old_province=fold_words(prov_short)))
        self.old_ward_phrases: dict[str, list[_Entry]] = defaultdict(list)
        for key, olds in self.old_units.wards.items():
            for o in olds:
                self.old_ward_phrases[key].append(_Entry(
                    "old_ward", successor_code(o.province_short), None, o.ward,
                    district_key=short_unit(o.district), old_province=fold_words(o.province_short), old_ward=o))

        self.ward_phrases: dict[str, list[_Entry]] = defaultdict(list)
        self.ward_by_name: dict[tuple[int, str], int] = {}
        for w in self.wards.values():
            self.ward_phrases[_short_ward(w.name)].append(_Entry("ward", int(w.province_code), int(w.code), w.name))
            self.ward_by_name[(int(w.province_code), fold_words(w.name))] = int(w.code)

    def _tokens(self, segment: str) -> list[str]:
        """Folded syllables with unit abbreviations spelled out: "p3" → "phuong 3", "h." → "huyen"."""
        out: list[str] = []
        for t in fold_words(segment).split():
            m = _GLUED.match(t)
            if m and m[1] in self.abbreviations:
                out += [*self.abbreviations[m[1]], m[2]]
            else:
                out += self.abbreviations.get(t, [t])
        return out

    # -- matching -------------------------------------------------------------------------------

    def _scan(self, toks: list[str], whole: bool, first: bool = False) -> list[tuple[float, _Entry, str]]:
        """(weight, entry, matched words) for every recognised phrase, longest match first.

        `whole`: the segment is the whole location field, so a bare name may be a ward. `first`:
        the first part of a location field ("Hiệp Tân, Hòa Thành, Tây Ninh"), which may be a bare
        ward too, unless it already names a district or province ("Hòa Thành, Tây Ninh").
        An old ward is recorded but weighs nothing by itself: after "xã"/"phường" come ordinary
        words that were once ward names ("các xã biên giới", "gọi phường 3 lần", "chỗ nào đó xa
        lắm" = thị trấn Lâm); its district or province, named beside it, carries the evidence
        (see `recognise` and `_old_ward`).
        """
        old_w = 0.0
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
                if tuple(toks[start + size - 1:start + size + 1]) in _TWO_WORD_MARKERS:
                    continue  # "xã Tân Bình | thành phố": a name does not end in half a unit word
                phrase = " ".join(toks[start:start + size])
                tables: list[tuple[float, list[_Entry]]] = []
                if marker in _WARD_MARKERS:
                    tables = [(2.0, self.ward_phrases.get(phrase, [])), (old_w, self.old_ward_phrases.get(phrase, []))]
                elif marker in _DISTRICT_MARKERS and marker in _PROVINCE_MARKERS:  # "tp", "thành phố"
                    tables = [(3.0, self.province_phrases.get(phrase, [])), (2.0, self.district_phrases.get(phrase, [])),
                              (2.0, self.old_district_phrases.get(phrase, []))]
                elif marker in _DISTRICT_MARKERS:
                    tables = [(2.0, self.district_phrases.get(phrase, [])),
                              (2.0, self.old_district_phrases.get(phrase, []))]
                elif marker in _PROVINCE_MARKERS:
                    tables = [(3.0, self.province_phrases.get(phrase, []))]
                else:
                    if size == 1 and not whole:
                        continue  # a lone syllable in free text is never trusted
                    prov = self.province_phrases.get(phrase, [])
                    # A bare current province name means the province, not its old capital city.
                    tables = [(3.0, prov)] if prov else [(2.0, self.district_phrases.get(phrase, []))]
                    # "Sóc Trăng" alone is the old province, not today's Phường Sóc Trăng.
                    if not prov and start == 0 and size == n and (whole or (first and not any(es for _, es in tables))):
                        tables += [(1.5, self.ward_phrases.get(phrase, [])),
                                   (0.75 * old_w, self.old_ward_phrases.get(phrase, []))]
                entries = [(w, e) for w, es in tables for e in es]
                if entries:
                    words = " ".join(toks[i:start + size])
                    # One phrase is one piece of evidence: each province it may mean gets its best
                    # weight, divided by how many provinces it may mean (ambiguity dilutes).
                    best: dict[int, float] = {}
                    for w, e in entries:
                        if w > 0:
                            best[e.province_code] = max(best.get(e.province_code, 0.0), w)
                    share = 1.0 / max(len(best), 1)
                    counted: set[int] = set()
                    for w, e in entries:
                        weight = 0.0
                        if w > 0 and w == best[e.province_code] and e.province_code not in counted:
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
        segments = [self._tokens(seg) for seg in _SEGMENT.split(text)]
        segments = [t for t in segments if t]
        field = whole
        whole = whole and len(segments) == 1
        found = [hit for k, toks in enumerate(segments) for hit in self._scan(toks, whole, field and k == 0)]
        if not found:
            return None
        score: dict[int, float] = defaultdict(float)
        for w, e, _ in found:
            score[e.province_code] += w
        # An old ward and its own old district named together ("xã Tân Hiệp, huyện Tân Châu") point
        # at one province even when each name alone is shared by several.
        districts = {(e.district_key, e.old_province) for _, e, _ in found if e.kind == "old_district"}
        paired = {e.province_code for _, e, _ in found
                  if e.kind == "old_ward" and (e.district_key, e.old_province) in districts}
        for code in paired:
            score[code] += 2.0
        ranked = sorted(((c, v) for c, v in score.items() if v > 0), key=lambda kv: -kv[1])
        if not ranked:
            return None  # only old ward names of free text, which prove nothing alone
        if len(ranked) > 1 and ranked[0][1] == ranked[1][1]:
            ranked = self._by_accents(text, found, [c for c, v in ranked if v == ranked[0][1]], districts) or []
            if not ranked:
                return None  # two provinces equally likely: refuse rather than misroute
        code = ranked[0][0]
        mine = [(w, e, words) for w, e, words in found if e.province_code == code]
        ward = next((e for _, e, _ in mine if e.kind == "ward"), None)
        ward_code = ward.ward_code if ward else None
        old_ward = note = None
        found_old = self._old_ward([e for _, e, _ in mine], code, prefer_old=ward is None, paired_only=not field)
        if found_old is not None:
            successor_code = self.ward_by_name.get((code, fold_words(found_old[1].ward)))
            if successor_code is not None:  # a successor vietnam-provinces does not know is no route
                ward_code, (old_ward, _, note) = successor_code, found_old
        old_provs = [e for _, e, _ in mine if e.kind == "old_province"]
        olds = old_provs + [
            e for _, e, _ in mine
            if e.kind == "old_district"
            and (not old_provs or any(op.label.split(" ", 1)[1].removesuffix(" (cũ)") in e.label for op in old_provs))
        ]
        old_name = "; ".join(dict.fromkeys(e.label for e in olds)) or None
        if old_ward is not None:
            old_name = f"{old_ward.ward}, {old_ward.district} ({old_ward.province_short} cũ)"
        p = self.provinces[code]
        new_ward = self.wards.get(ward_code) if ward_code else None
        return Locality(
            province_code=code,
            province_name=p.name,
            province_slug=p.codename.replace("_", "-"),
            ward_code=int(new_ward.code) if new_ward else None,
            ward_name=new_ward.name if new_ward else None,
            ward_slug=new_ward.codename.replace("_", "-") if new_ward else None,
            matched="; ".join(dict.fromkeys(words for _, _, words in mine)),
            old_name=old_name,
            successor_note=note,
        )

    @staticmethod
    def _by_accents(text: str, found: list, tied: list[int], districts: set) -> list[tuple[int, float]] | None:
        """Break a tie with the diacritics the text kept: "xã Tân Thành, huyện Tân Châu" is Tây
        Ninh's, not An Giang's "xã Tân Thạnh" (same folded name, same district name). Old wards
        vote only beside their own district (`districts`: (district, old province) named)."""
        low = unicodedata.normalize("NFC", text.lower())
        matching = {e.province_code for _, e, _ in found
                    if e.province_code in tied
                    and (e.kind == "ward" or (e.kind == "old_ward" and (e.district_key, e.old_province) in districts))
                    and re.search(rf"(?<!\w){re.escape(_UNIT_TYPE.sub('', e.label.lower()))}(?!\w)", low)}
        return [(matching.pop(), 0.0)] if len(matching) == 1 else None

    def _old_ward(self, mine: list[_Entry], code: int, *, prefer_old: bool,
                  paired_only: bool = False) -> tuple[OldWard, Successor, str] | None:
        """The old ward the text names in province `code`, its successor and the note for the citizen.

        An old ward name alone is ambiguous ("Phường 3" of a dozen old districts); the district
        and the old province written beside it narrow it. It counts only when what is left has one
        successor. A current ward of the same name wins unless the old district confirms the old
        reading ("Phường Gò Dầu" today vs "thị trấn Gò Dầu, huyện Gò Dầu" of before).
        """
        pairs = {(e.district_key, e.old_province) for e in mine if e.kind == "old_district"}
        named = any(e.kind in ("province", "old_province") for e in mine)
        # Free text: only an old ward written beside its own old district. A location field: or
        # beside its province (old or today's: "Phường 3, Tây Ninh", "xã Đức Hòa Hạ, Tây Ninh").
        olds = [e for e in mine if e.kind == "old_ward"
                and ((e.district_key, e.old_province) in pairs or (named and not paired_only))]
        if not olds:
            return None
        districts = {e.district_key for e in mine if e.kind == "old_district"}
        provinces = {e.old_province for e in mine if e.kind in ("province", "old_province", "old_district")}
        if districts:
            olds = [e for e in olds if e.district_key in districts]
        elif not prefer_old:
            return None
        narrowed = [e for e in olds if e.old_province in provinces]
        olds = narrowed or olds
        successors = {self.old_units.successor(e.old_ward) for e in olds if e.old_ward is not None}
        if len(successors) != 1 or None in successors:
            return None
        (succ,) = successors
        old = olds[0].old_ward
        assert succ is not None and old is not None  # one successor, of a ward entry
        p = self.provinces[code]
        prov_now = (f"thành phố {p.name.removeprefix('Thành phố ')}" if p.name.startswith("Thành phố")
                    else f"tỉnh {p.name}")
        district = re.sub(r"^Thành phố ", "TP ", old.district)
        district = district[0].lower() + district[1:] if not district.startswith("TP ") else district
        where = f"{old.ward}, {district}"
        if fold_words(old.province_short) != _short_province(p.name):
            where += f", {'tỉnh ' if not old.province.startswith('Thành phố') else 'thành phố '}{old.province_short}"
        if succ.split:
            note = (f"{where} (cũ) nay được chia cho nhiều xã, phường; đơn được chuyển trước đến "
                    f"{succ.ward}, {prov_now}, nếu không đúng địa bàn sẽ được chuyển tiếp")
        else:
            note = f"{where} (cũ) nay là {succ.ward}, {prov_now}"
        return old, succ, note


@lru_cache(maxsize=1)
def get_index() -> LocalityIndex:
    """Process-wide index (building it reads 3,321 wards once)."""
    return LocalityIndex()


def recognise(text: str | None, *, whole: bool = False, index: LocalityIndex | None = None) -> Locality | None:
    """Recognise a locality in free text (`whole=False`) or in a location field (`whole=True`)."""
    return (index or get_index()).recognise(text, whole=whole)


def province_by_slug(slug: str) -> Locality | None:
    """The current province with this slug ("tay-ninh"), as a Locality without ward."""
    for p in get_index().provinces.values():
        if p.codename.replace("_", "-") == slug:
            return Locality(province_code=int(p.code), province_name=p.name,
                            province_slug=slug, matched=p.name)
    return None


__all__ = ["Locality", "province_by_slug", "recognise", "slugify"]
