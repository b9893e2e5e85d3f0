"""The office directory: bodies named in the plans, the bodies that exist today, and name matching.

Plans name offices loosely ("Sở TTTT", "Văn phòng HĐND và UBND", "UBND cấp huyện, cấp xã"), one
cell often names several, and a page break can cut a cell short ("…, Sở Tài chính, Sở"). The same
short name means different bodies in different plans (Phòng Nội vụ of TP Tây Ninh ≠ of Hoài Nhơn),
so matching is scoped by the plan's locality. And since the 2025 reorganisation many of those
bodies no longer exist: `OfficeDirectory.current` follows the `successor` chain to the body that
handles the duty today, which is where a citizen's petition must go.

The directory lives in `knowledge/offices.yaml` (edited by hand; see the comment at its top) plus any
`knowledge/offices.d/*.yaml`. Loading validates every entry and names the file and line of a bad one.
"""
from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date
from functools import lru_cache
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from knowledge.errors import KnowledgeError
from vntext import fold

OFFICES_PATH = Path(__file__).resolve().parent / "offices.yaml"
EXTRA_DIR = Path(__file__).resolve().parent / "offices.d"

_ID_RE = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*(?:\.[a-z0-9]+(?:-[a-z0-9]+)*){1,2}$")
_CONTACT_KEYS = {"email", "webhook_url", "telegram_chat_id", "phone", "zalo_user_id", "address", "website"}


class OfficeDirectoryError(KnowledgeError):
    """The directory file is invalid; `path` and `line` point at the bad entry."""

    def __init__(self, path: Path | str, line: int | None, message: str):
        self.path, self.line = Path(path), line
        where = f"{path}:{line}" if line else f"{path}"
        super().__init__(f"{where}: {message}")


class Office(BaseModel):
    """One body (kind=office) or collective of bodies (kind=group) in the directory."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str
    name: str = Field(min_length=2)
    kind: Literal["office", "group"]
    level: Literal["trung_uong", "tinh", "huyen", "xa"]
    province: str = Field(min_length=2)
    locality: str = Field(min_length=2)
    aliases: list[str] = Field(default_factory=list)
    valid_from: date | None = None
    valid_to: date | None = None
    successor: str | None = None
    contact: dict[str, str] = Field(default_factory=dict)
    source: str | None = Field(None, exclude=True, description="file:line it was read from")

    @field_validator("id")
    @classmethod
    def _id_shape(cls, v: str) -> str:
        if not _ID_RE.match(v):
            raise ValueError("id must look like 'tay-ninh.so-noi-vu' or 'binh-dinh.tx-hoai-nhon.phong-noi-vu' "
                             "(lower case, no accents, words joined by '-')")
        return v

    @field_validator("contact", mode="before")
    @classmethod
    def _contact_keys(cls, v: object) -> object:
        if v is None:
            return {}
        if isinstance(v, dict):
            unknown = set(v) - _CONTACT_KEYS
            if unknown:
                raise ValueError(f"unknown contact field(s) {sorted(unknown)}; allowed: {sorted(_CONTACT_KEYS)}")
            return {k: str(val) for k, val in v.items() if val is not None}
        return v

    @model_validator(mode="after")
    def _dates_and_successor(self) -> Office:
        if self.valid_from and self.valid_to and self.valid_from > self.valid_to:
            raise ValueError("valid_from is after valid_to")
        if self.valid_to and not self.successor:
            raise ValueError("a body with valid_to must name its successor (the body that took over its duties)")
        if self.successor == self.id:
            raise ValueError("successor is the office itself")
        return self

    def is_valid_on(self, on: date) -> bool:
        """Whether the body existed on `on`."""
        return (self.valid_from is None or self.valid_from <= on) and (self.valid_to is None or on <= self.valid_to)


@dataclass(frozen=True)
class OfficeMatch:
    """An office a mention names. `alternatives` holds equally good candidates when ambiguous."""

    office_id: str
    office: Office
    mention: str
    score: int = 0
    alternatives: tuple[str, ...] = ()

    @property
    def id(self) -> str:
        return self.office_id

    @property
    def ambiguous(self) -> bool:
        return bool(self.alternatives)


# --------------------------------------------------------------------------- name normalisation

# Abbreviations → words, applied to folded text before tokenising (order matters: longest first).
_ABBREVIATIONS: list[tuple[str, str]] = [
    (r"\bhdnd\s*(?:-|va|&)\s*ubnd\b", "hoi dong nhan dan uy ban nhan dan"),
    (r"\bubnd\b", "uy ban nhan dan"),
    (r"\bhdnd\b", "hoi dong nhan dan"),
    (r"\bmttq\b", "mat tran to quoc"),
    (r"\bvp\b", "van phong"),
    (r"\btt\s*(?:&|-|va)\s*tt\b|\btttt\b", "thong tin truyen thong"),
    (r"\bkh\s*(?:&|-|va)\s*dt\b|\bkhdt\b", "ke hoach dau tu"),
    (r"\bkh\s*(?:&|-|va)\s*cn\b|\bkhcn\b", "khoa hoc cong nghe"),
    (r"\btn\s*(?:&|-|va)\s*mt\b|\btnmt\b", "tai nguyen moi truong"),
    (r"\bnn\s*(?:&|-|va)\s*ptnt\b|\bnnptnt\b", "nong nghiep phat trien nong thon"),
    (r"\bnn\s*(?:&|-|va)\s*mt\b|\bnnmt\b", "nong nghiep moi truong"),
    (r"\bld\s*-?\s*tb\s*(?:&|-|va)\s*xh\b|\bldtbxh\b", "lao dong thuong binh xa hoi"),
    (r"\bgd\s*(?:&|-|va)\s*dt\b|\bgddt\b", "giao duc dao tao"),
    (r"\bdt\s*(?:&|-|va)\s*tg\b", "dan toc ton giao"),
    (r"\bvh\s*-\s*tt\s*-\s*dl\b|\bvhttdl\b", "van hoa the thao du lich"),
    (r"\bvh\s*-\s*tt\s*-\s*tt\b", "van hoa thong tin the thao"),
    (r"\bvh\s*-\s*tt\b|\bvhtt\b", "van hoa thong tin"),
    (r"\btc\s*-\s*kh\b|\btckh\b", "tai chinh ke hoach"),
    (r"\bpt\s*-\s*th\b|\bptth\b", "phat thanh truyen hinh"),
    (r"\bgtvt\b", "giao thong van tai"),
    (r"\bkbnn\b", "kho bac nha nuoc"),
    (r"\bbcd\b", "ban chi dao"),
    (r"\bcchc\b", "cai cach hanh chinh"),
    (r"\bpvhcc\b", "phuc vu hanh chinh cong"),
    (r"\bsnv\b", "so noi vu"),
    (r"\bstp\b", "so tu phap"),
    (r"\bstc\b", "so tai chinh"),
    (r"\bsxd\b", "so xay dung"),
    (r"\bsyt\b", "so y te"),
    (r"\bsct\b", "so cong thuong"),
    (r"\bstttt\b", "so thong tin truyen thong"),
    (r"\bskhdt\b", "so ke hoach dau tu"),
    (r"\bso nv\b", "so noi vu"),
    (r"\bso tc\b", "so tai chinh"),
    (r"\bso tp\b", "so tu phap"),
    (r"\bso xd\b", "so xay dung"),
    (r"\bphong nv\b|\bp\.?\s*nv\b|\bpnv\b", "phong noi vu"),
    (r"\bphong tp\b|\bp\.?\s*tp\b", "phong tu phap"),
    (r"\bp\.?\s*tc\s*-?\s*kh\b", "phong tai chinh ke hoach"),
    (r"\bca (?=tinh\b|thanh pho\b)", "cong an "),
    (r"\btp\b\.?", "thanh pho"),
    (r"\btx\b\.?", "thi xa"),
    (r"\bq\.?\s*(?=\d)", "quan "),
]
# Words that carry no identity in an office name ("các", "và", "có" liên quan, "Đề nghị", "Thủ trưởng").
_DROP_PHRASES = [r"\bde nghi\b", r"\bthu truong\b", r"\bchu tich\b", r"\bgiao\b", r"\bco lien quan\b",
                 r"\btren dia ban\b", r"\bdong tren dia ban\b"]
_DROP_WORDS = {"cac", "va", "voi", "cua", "thuoc", "nhung", "moi"}
# After an office name: level words and place names qualify it and are consumed with it.
_LEVEL_WORDS = {("tinh",): "tinh", ("thanh", "pho"): None, ("thi", "xa"): "huyen", ("huyen",): "huyen"}
# A leftover run only matters when it contains one of these heads; a trailing bare head is a
# cell cut by a page break ("…, Sở").
_HEADS = {"so", "phong", "van", "uy", "trung", "thanh", "cong", "buu", "bao", "dai", "kho", "mat", "co",
          "don", "ban", "hoi", "cap"}
_TRUNCATED_TAILS = {("so",), ("phong",), ("cap",), ("uy", "ban"), ("uy", "ban", "nhan", "dan"), ("van", "phong"),
                    ("co", "quan"), ("trung", "tam"), ("ban",)}


def normalise(text: str) -> str:
    """Folded, abbreviation-expanded, punctuation-free form of an office name or a question."""
    t = fold(text).replace("…", " ").replace("...", " ")
    t = re.sub(r"[\"'“”‘’*_<>]", " ", t)
    t = t.replace("–", "-").replace("—", "-")
    for pattern, repl in _ABBREVIATIONS:
        t = re.sub(pattern, repl, t)
    t = re.sub(r"[^a-z0-9]+", " ", t)
    for pattern in _DROP_PHRASES:
        t = re.sub(pattern, " ", t)
    # "UBND cấp huyện, cấp xã" names two groups; a cut "…, cấp" can only be "cấp xã".
    t = re.sub(r"\buy ban nhan dan cap huyen (?:va )?cap(?: xa)?\b", "uy ban nhan dan cap huyen uy ban nhan dan cap xa", t)
    t = re.sub(r"\buy ban nhan dan cap tinh (?:va )?cap huyen\b", "uy ban nhan dan tinh uy ban nhan dan cap huyen", t)
    return " ".join(w for w in t.split() if w not in _DROP_WORDS)


# --------------------------------------------------------------------------- the directory

@dataclass
class _Hints:
    """What the context says about which body a name means."""

    locality: str | None = None  # folded
    province: str | None = None  # folded
    level: str | None = None


@dataclass
class _Hit:
    start: int
    stop: int
    candidates: list[str]
    hints: _Hints = field(default_factory=_Hints)
    text: str = ""


class OfficeDirectory:
    """All offices, indexed by id and by normalised name; see the module docstring."""

    def __init__(self, offices: Iterable[Office]):
        self._offices: dict[str, Office] = {}
        for office in offices:
            self._offices.setdefault(office.id, office)
        self._index: dict[str, dict[tuple[str, ...], list[str]]] = {}
        for office in self._offices.values():
            for name in {office.name, *office.aliases}:
                tokens = tuple(normalise(name).split())
                if not tokens:
                    continue
                bucket = self._index.setdefault(tokens[0], {}).setdefault(tokens, [])
                if office.id not in bucket:
                    bucket.append(office.id)
        self._places = self._place_names()

    # ----------------------------------------------------------------- lookup

    def all(self) -> list[Office]:
        return list(self._offices.values())

    def get(self, office_id: str) -> Office | None:
        """The office with this id; the UBND of a ward/commune (`<province>.xa.<ward>`, the ids
        PAKN routing gives) is known without a line in offices.yaml (see `ward_office`)."""
        return self._offices.get(office_id) or ward_office(office_id)

    def __contains__(self, office_id: object) -> bool:
        return isinstance(office_id, str) and self.get(office_id) is not None

    def __len__(self) -> int:
        return len(self._offices)

    def chain(self, office_id: str) -> list[Office]:
        """The office followed by each successor in turn (stops at the end or at a loop)."""
        out: list[Office] = []
        seen: set[str] = set()
        current = self._offices.get(office_id)
        while current is not None and current.id not in seen:
            out.append(current)
            seen.add(current.id)
            current = self._offices.get(current.successor) if current.successor else None
        return out

    def current(self, office_id: str, on: date | None = None) -> Office | None:
        """The body that handles `office_id`'s duties on `on` (default today), following successors.

        None when the id is unknown or the chain never reaches a body valid on that date.
        """
        on = on or date.today()
        for office in self.chain(office_id):
            if office.is_valid_on(on):
                return office
            if office.valid_from and on < office.valid_from:
                return None  # asked about a date before the body existed
        return None

    # ----------------------------------------------------------------- matching

    def resolve(self, mention: str, *, province: str | None = None, locality: str | None = None,
                on: date | None = None) -> list[OfficeMatch]:
        """Every office a table cell or heading names, best candidate each, in order of mention.

        `province`/`locality` are the plan's (e.g. "Bình Định", "Thị xã Hoài Nhơn"): a name that
        several localities share resolves to the plan's own body. A qualifier written after a name
        ("Sở Nội vụ tỉnh", "Phòng Nội vụ thị xã Hoài Nhơn") narrows it further.
        """
        hits, _ = self._scan(normalise(mention), strict=True)
        base = _Hints(locality=fold(locality) if locality else None, province=fold(province) if province else None)
        out: list[OfficeMatch] = []
        for hit in hits:
            ranked = self._rank(hit, base, on)
            best, score = ranked[0]
            ties = tuple(oid for oid, s in ranked[1:] if s == score)
            if any(m.office_id == best for m in out):
                continue
            out.append(OfficeMatch(best, self._offices[best], hit.text, score, ties))
        return out

    def unresolved(self, mention: str) -> list[str]:
        """Parts of a mention that name some body the directory does not know (for tests and audits).

        A bare head word at the end ("…, Sở") is a cell cut by a page break and is not reported.
        """
        _, leftovers = self._scan(normalise(mention), strict=True)
        return leftovers

    def find_in_text(self, text: str, *, province: str | None = None, locality: str | None = None,
                     on: date | None = None) -> list[OfficeMatch]:
        """Offices a user's free-text question names ("phong noi vu hoai nhon", "so tttt tay ninh").

        Place names in the text narrow the match as given `province`/`locality` do. When several
        bodies fit equally (e.g. "Văn phòng UBND" with no place), the match lists them all in
        `alternatives`, so the bot can ask which one is meant.
        """
        norm = normalise(text)
        hints = self._text_hints(norm)
        given = self._text_hints(normalise(f"{province or ''} {locality or ''}"))
        base = _Hints(locality=given.locality or hints.locality, province=given.province or hints.province)
        if locality and not given.locality and not given.province:
            base.locality = fold(locality)  # a locality the directory does not list: compare as given
        hits, _ = self._scan(norm, strict=False)
        out: list[OfficeMatch] = []
        for hit in hits:
            ranked = self._rank(hit, base, on)
            best, score = ranked[0]
            ties = tuple(oid for oid, s in ranked[1:] if s == score)
            if not any(m.office_id == best for m in out):
                out.append(OfficeMatch(best, self._offices[best], hit.text, score, ties))
        return out

    def find_offices_in_text(self, text: str, province: str | None = None, locality: str | None = None,
                             on: date | None = None) -> list[OfficeMatch]:
        """Alias of `find_in_text`, under the module-level function's name."""
        return self.find_in_text(text, province=province, locality=locality, on=on)

    # ----------------------------------------------------------------- internals

    def _place_names(self) -> dict[tuple[str, ...], tuple[str, str]]:
        """Folded place names → ("province"|"locality", folded value) from the directory's entries."""
        places: dict[tuple[str, ...], tuple[str, str]] = {}
        for office in self._offices.values():
            prov = fold(office.province)
            places[tuple(prov.split())] = ("province", prov)
            loc = fold(office.locality)
            places.setdefault(tuple(normalise(office.locality).split()), ("locality", loc))
            short = re.sub(r"^(tinh|thanh pho|thi xa|huyen|quan|phuong|xa|thi tran)\s+", "", loc)
            places.setdefault(tuple(short.split()), ("locality", loc))
        return places

    def _match_place(self, tokens: list[str], i: int) -> tuple[int, tuple[str, str]] | None:
        for size in (4, 3, 2):
            key = tuple(tokens[i:i + size])
            if len(key) == size and key in self._places:
                return size, self._places[key]
        return None

    def _text_hints(self, norm: str) -> _Hints:
        tokens = norm.split()
        hints = _Hints()
        for i in range(len(tokens)):
            found = self._match_place(tokens, i)
            if found:
                kind, value = found[1]
                if kind == "locality" and not hints.locality:
                    hints.locality = value
                elif kind == "province" and not hints.province:
                    hints.province = value
        return hints

    def _scan(self, norm: str, *, strict: bool) -> tuple[list[_Hit], list[str]]:
        """Longest-first alias matches over the token stream, with the qualifiers that follow each."""
        tokens = norm.split()
        hits: list[_Hit] = []
        leftover: list[tuple[int, str]] = []
        i = 0
        while i < len(tokens):
            best: tuple[str, ...] | None = None
            for alias in self._index.get(tokens[i], {}):
                if tuple(tokens[i:i + len(alias)]) == alias and (best is None or len(alias) > len(best)):
                    best = alias
            if best is None:
                leftover.append((i, tokens[i]))
                i += 1
                continue
            hit = _Hit(i, i + len(best), list(self._index[tokens[i]][best]), text=" ".join(best))
            j = hit.stop
            while j < len(tokens):  # qualifiers: "tỉnh", "thị xã", "thành phố", place names
                level = next(((w, lv) for w, lv in _LEVEL_WORDS.items() if tuple(tokens[j:j + len(w)]) == w), None)
                if level:
                    hit.hints.level = hit.hints.level or level[1]
                    j += len(level[0])
                    continue
                place = self._match_place(tokens, j)
                if place:
                    kind, value = place[1]
                    if kind == "province":
                        hit.hints.province = value
                    elif tokens[j - 1:j] in (["pho"], ["xa"], ["huyen"]) or hit.hints.level == "huyen":
                        hit.hints.locality = value
                    else:
                        hit.hints.locality = hit.hints.locality or value
                    j += place[0]
                    continue
                break
            hit.stop = j
            hits.append(hit)
            i = j
        return hits, self._leftover_runs(leftover, len(tokens)) if strict else []

    @staticmethod
    def _leftover_runs(leftover: list[tuple[int, str]], n_tokens: int) -> list[str]:
        runs: list[list[tuple[int, str]]] = []
        for pos, word in leftover:
            if runs and runs[-1][-1][0] == pos - 1:
                runs[-1].append((pos, word))
            else:
                runs.append([(pos, word)])
        out = []
        for run in runs:
            words = tuple(w for _, w in run)
            if not any(w in _HEADS for w in words):
                continue  # filler such as "liên quan", "trên địa bàn", "chủ trì"
            if run[-1][0] == n_tokens - 1 and words in _TRUNCATED_TAILS:
                continue  # cut by a page break
            out.append(" ".join(words))
        return out

    def _rank(self, hit: _Hit, base: _Hints, on: date | None) -> list[tuple[str, int]]:
        """Candidates best first: the plan's locality, then its province, then qualifiers, then today."""
        today = on or date.today()
        locality = hit.hints.locality or base.locality
        province = hit.hints.province or base.province
        scored = []
        for order, oid in enumerate(hit.candidates):
            office = self._offices[oid]
            score = 0
            if locality and fold(office.locality) == locality:
                score += 8
            if province and fold(office.province) == province:
                score += 4
            elif province:
                now = self.current(oid, today)
                if now is not None and fold(now.province) == province:
                    score += 3  # named by today's province ("Sở Nội vụ Gia Lai" for Bình Định's)
            if hit.hints.level and office.level == hit.hints.level:
                score += 2
            if base.locality is None and hit.hints.locality is None and locality is None and province is None:
                score += 0
            scored.append((oid, score, order))
        scored.sort(key=lambda x: (-x[1], x[2]))
        return [(oid, score) for oid, score, _ in scored]


_WARD_OFFICE_ID = re.compile(r"^(?P<province>[a-z0-9-]+)\.xa\.(?P<ward>[a-z0-9-]+)$")


def _slug(name: str) -> str:
    return "-".join(re.findall(r"[a-z0-9]+", fold(name)))


@lru_cache(maxsize=4096)
def ward_office(office_id: str) -> Office | None:
    """The UBND of a ward or commune of today's map (`vietnam-provinces`), by the id PAKN routing
    gives it ("tay-ninh.xa.phuong-tan-ninh"): petitions go to 3,321 of them, too many to keep by
    hand in offices.yaml, yet their staff must log in to the console and be transferred to. Its
    contact, unless offices.yaml lists the ward, is the default clerk's (pakn/delivery.py)."""
    m = _WARD_OFFICE_ID.match(office_id)
    return next((o for o in ward_offices(m["province"]) if o.id == office_id), None) if m else None


@lru_cache(maxsize=64)
def ward_offices(province_slug: str) -> tuple[Office, ...]:
    """Every ward/commune UBND of one province (also the console's transfer list)."""
    from vietnam_provinces import Province, Ward

    for province in Province.iter_all():
        short = province.name.removeprefix("Thành phố ").strip()
        if _slug(short) == province_slug:
            return tuple(Office(id=f"{province_slug}.xa.{_slug(w.name)}", name=f"UBND {w.name}, {province.name}",
                                kind="office", level="xa", province=short, locality=w.name)
                         for w in Ward.iter_by_province(province.code))
    return ()


def find_offices_in_text(text: str, province: str | None = None, locality: str | None = None,
                         directory: OfficeDirectory | None = None) -> list[OfficeMatch]:
    """Offices a user's question names; see `OfficeDirectory.find_in_text`."""
    return (directory or load_offices()).find_in_text(text, province=province, locality=locality)


# --------------------------------------------------------------------------- loading

def load_offices(path: Path | str | Sequence[Path | str] | None = None) -> OfficeDirectory:
    """The directory from `path` (one file or several), or the shipped files (cached) when None.

    With several files an id already defined keeps its first definition, so the hand-edited
    `offices.yaml` wins over generated files in `offices.d/`.
    """
    if path is None:
        return _load_default()
    paths = [Path(path)] if isinstance(path, (str, Path)) else [Path(p) for p in path]
    return _build(paths)


@lru_cache(maxsize=1)
def _load_default() -> OfficeDirectory:
    extra = sorted(EXTRA_DIR.glob("*.yaml")) if EXTRA_DIR.is_dir() else []
    return _build([OFFICES_PATH, *extra])


load_offices.cache_clear = _load_default.cache_clear  # type: ignore[attr-defined]


def _build(paths: list[Path]) -> OfficeDirectory:
    offices: list[Office] = []
    seen: dict[str, str] = {}
    for p in paths:
        for office in _read_file(p):
            if office.id in seen:
                continue
            seen[office.id] = office.source or str(p)
            offices.append(office)
    directory = OfficeDirectory(offices)
    _check_successors(directory)
    return directory


def _read_file(path: Path) -> list[Office]:
    """Validate one directory file; every error names the file and the line of the entry."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise OfficeDirectoryError(path, None, f"cannot read office directory: {exc}") from exc
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        raise OfficeDirectoryError(path, mark.line + 1 if mark else None, f"not valid YAML: {exc}") from exc
    if not isinstance(data, dict) or not isinstance(data.get("offices"), list):
        raise OfficeDirectoryError(path, 1, "expected a top-level 'offices:' list")
    assert root is not None  # the text parsed to a mapping with 'offices' just above
    seq = next(v for k, v in root.value if k.value == "offices")
    offices: list[Office] = []
    lines: dict[str, int] = {}
    for item, node in zip(data["offices"], seq.value, strict=True):
        line = node.start_mark.line + 1
        if not isinstance(item, dict):
            raise OfficeDirectoryError(path, line, "each entry must be a mapping starting with '- id:'")
        label = item.get("id", "?")
        try:
            office = Office.model_validate({**item, "source": f"{path}:{line}"})
        except ValidationError as exc:
            problems = "; ".join(f"{'.'.join(str(p) for p in e['loc']) or 'entry'}: {e['msg']}"
                                 for e in exc.errors())
            raise OfficeDirectoryError(path, _field_line(node, exc) or line,
                                       f"invalid office entry '{label}': {problems}") from exc
        if office.id in lines:
            raise OfficeDirectoryError(path, line, f"duplicate id '{office.id}' (first at line {lines[office.id]})")
        lines[office.id] = line
        offices.append(office)
    return offices


def _field_line(node: yaml.Node, exc: ValidationError) -> int | None:
    """The line of the first offending field inside an entry, when the error points at one."""
    first = exc.errors()[0]["loc"]
    if not first or not isinstance(node, yaml.MappingNode):
        return None
    for key, value in node.value:
        if key.value == first[0]:
            return value.start_mark.line + 1
    return None


def _check_successors(directory: OfficeDirectory) -> None:
    """Every successor exists, and every chain ends at a body valid today (no loops)."""
    today = date.today()
    for office in directory.all():
        if office.successor and office.successor not in directory:
            raise OfficeDirectoryError(_src_path(office), _src_line(office),
                                       f"'{office.id}': successor '{office.successor}' is not in the directory")
    for office in directory.all():
        chain = directory.chain(office.id)
        last = chain[-1]
        if last.successor:  # the walk stopped at a loop
            raise OfficeDirectoryError(_src_path(office), _src_line(office),
                                       f"'{office.id}': successor chain loops ({' → '.join(o.id for o in chain)})")
        if not last.is_valid_on(today) and not (last.valid_from and last.valid_from > today):
            raise OfficeDirectoryError(_src_path(office), _src_line(office),
                                       f"'{office.id}': successor chain ends at '{last.id}', "
                                       "which no longer exists; give it a successor")


def _src_path(office: Office) -> str:
    return (office.source or "?:0").rsplit(":", 1)[0]


def _src_line(office: Office) -> int | None:
    try:
        return int((office.source or "").rsplit(":", 1)[1])
    except (IndexError, ValueError):
        return None
