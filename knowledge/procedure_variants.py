"""Families of procedure variants (`knowledge/lexicon/procedure_variants.yaml`), validated on load.

"Làm căn cước" may mean the first card, a renewal or a replacement: three procedures with different
papers and fees. Which words name a family, which words choose one of its procedures, and what to
ask when they do not, are data (people keep finding new ways to say it, and new procedures join a
family as the catalogue grows); only how they are matched is code. Every option must name a
procedure of the catalogue, so a typo stops the load with the file and the line instead of a button
that answers nothing.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from knowledge.errors import KnowledgeError
from knowledge.procedures import Catalogue, load_catalogue, match_fold

VARIANTS_PATH = Path(__file__).resolve().parent / "lexicon" / "procedure_variants.yaml"

MAX_LABEL = 60  # Zalo takes 100 characters per button; a phone screen shows about this many
MAX_BUTTONS = 5  # Zalo shows five quick-reply buttons: a question, or the others under a default answer
_ID_RE = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _phrases(values: list[str]) -> list[str]:
    for v in values:
        if not match_fold(v):
            raise ValueError(f"phrase {v!r} has no letters or digits")
    return values


class OptionSpec(_Strict):
    label: str = Field(min_length=2, max_length=MAX_LABEL)
    procedure: str = Field(min_length=2)
    words: list[str] = Field(default_factory=list)

    @field_validator("words")
    @classmethod
    def _words(cls, v: list[str]) -> list[str]:
        return _phrases(v)


class FamilySpec(_Strict):
    id: str
    question: str = Field(min_length=5, max_length=200)
    triggers: list[str] = Field(min_length=1)
    default: str | None = None
    options: list[OptionSpec] = Field(min_length=2)

    @field_validator("id")
    @classmethod
    def _id_shape(cls, v: str) -> str:
        if not _ID_RE.match(v):
            raise ValueError("id must be lower case, no accents, words joined by '-' (e.g. 'can-cuoc')")
        return v

    @field_validator("triggers")
    @classmethod
    def _triggers(cls, v: list[str]) -> list[str]:
        return _phrases(v)

    @model_validator(mode="after")
    def _consistent(self) -> FamilySpec:
        procedures = [o.procedure for o in self.options]
        if len(set(procedures)) != len(procedures):
            raise ValueError(f"two options name the same procedure: {sorted({p for p in procedures if procedures.count(p) > 1})}")
        labels = [match_fold(o.label) for o in self.options]
        if len(set(labels)) != len(labels):
            raise ValueError("two options have the same label")
        if self.default is not None and self.default not in procedures:
            raise ValueError(f"default {self.default!r} is not the procedure of any option ({procedures})")
        buttons = len(self.options) - (self.default is not None)
        if buttons > MAX_BUTTONS:
            raise ValueError(f"{buttons} buttons to show, Zalo shows {MAX_BUTTONS}: split the family or give it a default")
        return self


class VariantsFile(_Strict):
    families: list[FamilySpec] = Field(min_length=1)


@dataclass(frozen=True)
class Option:
    """One procedure of a family: its button label, its catalogue key, and the folded words that pick it."""

    label: str
    procedure: str  # the catalogue key (`Procedure.key`: the code when known, else the slug)
    words: tuple[str, ...]


@dataclass(frozen=True)
class Family:
    id: str
    question: str
    triggers: tuple[str, ...]
    default: str | None  # the catalogue key of the default option
    options: tuple[Option, ...]

    @property
    def procedures(self) -> tuple[str, ...]:
        return tuple(o.procedure for o in self.options)

    def option(self, procedure: str) -> Option | None:
        return next((o for o in self.options if o.procedure == procedure), None)

    def trigger_length(self, folded: str) -> int:
        """Words in the longest trigger the text holds (0: the text does not name this family)."""
        return max((len(t.split()) for t in self.triggers if _holds(folded, t)), default=0)

    def decide(self, folded: str, among: tuple[str, ...] | None = None) -> tuple[Option | None, int]:
        """The option the text's own words choose, and the length (in words) of the phrase that chose it.

        The longest phrase wins ("không còn lưu" over "còn lưu"); a tie between two options chooses
        neither (None, length): the citizen said something of both."""
        best: dict[str, int] = {}
        for o in self.options:
            if among is not None and o.procedure not in among:
                continue
            found = [len(w.split()) for w in (*o.words, match_fold(o.label)) if _holds(folded, w)]
            if found:
                best[o.procedure] = max(found)
        if not best:
            return None, 0
        top = max(best.values())
        winners = [p for p, n in best.items() if n == top]
        return (self.option(winners[0]) if len(winners) == 1 else None), top


def _holds(folded: str, phrase: str) -> bool:
    return f" {phrase} " in f" {folded} "


@dataclass(frozen=True)
class ProcedureVariants:
    families: tuple[Family, ...]

    def get(self, family_id: str) -> Family | None:
        return next((f for f in self.families if f.id == family_id), None)

    def named_in(self, folded: str) -> list[tuple[Family, int]]:
        """The families the (match-folded) text names, each with its longest trigger's length."""
        return [(f, n) for f in self.families if (n := f.trigger_length(folded))]


def _line(text: str, loc: tuple) -> str:
    """The line of the YAML node at `loc` (keys and list indexes), or of the deepest node found."""
    try:
        node: yaml.Node | None = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError:
        return ""
    for step in loc:
        nxt = None
        if isinstance(node, yaml.MappingNode):
            nxt = next((v for k, v in node.value if getattr(k, "value", None) == step), None)
        elif isinstance(node, yaml.SequenceNode) and isinstance(step, int) and step < len(node.value):
            nxt = node.value[step]
        if nxt is None:
            break
        node = nxt
    return str(node.start_mark.line + 1) if node is not None else ""


def load_variants(path: Path | str | None = None, catalogue: Catalogue | None = None) -> ProcedureVariants:
    """Read and validate the families; a bad entry raises `KnowledgeError` naming the file and line.

    Procedure ids are checked against `catalogue` (the shipped one by default) and stored as the
    catalogue's keys, the form conversation state and citations use."""
    p = Path(path) if path else VARIANTS_PATH
    try:
        text = p.read_text(encoding="utf-8")
        raw = yaml.safe_load(text) or {}
    except OSError as e:
        raise KnowledgeError(f"{p}: {e}") from e
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        raise KnowledgeError(f"{p}:{mark.line + 1 if mark else ''}: invalid YAML: {e}") from e
    try:
        spec = VariantsFile.model_validate(raw)
    except ValidationError as e:
        err = e.errors()[0]
        loc = tuple(err["loc"])
        raise KnowledgeError(f"{p}:{_line(text, loc)}: '{'.'.join(map(str, loc)) or '(root)'}': {err['msg']}") from e
    catalogue = catalogue or load_catalogue()
    families: list[Family] = []
    seen: set[str] = set()
    for i, fam in enumerate(spec.families):
        if fam.id in seen:
            raise KnowledgeError(f"{p}:{_line(text, ('families', i, 'id'))}: family id {fam.id!r} is used twice")
        seen.add(fam.id)
        options = []
        for j, opt in enumerate(fam.options):
            proc = catalogue.get(opt.procedure)
            if proc is None:
                raise KnowledgeError(
                    f"{p}:{_line(text, ('families', i, 'options', j, 'procedure'))}: family {fam.id!r}, option "
                    f"{opt.label!r}: procedure {opt.procedure!r} is not in the catalogue (no knowledge/tthc/"
                    f"{opt.procedure}.yaml); add the procedure first or fix the id")
            options.append(Option(opt.label, proc.key, tuple(dict.fromkeys(match_fold(w) for w in opt.words))))
        default = next(o.procedure for o, s in zip(options, fam.options) if s.procedure == fam.default) \
            if fam.default else None
        families.append(Family(fam.id, fam.question, tuple(dict.fromkeys(match_fold(t) for t in fam.triggers)),
                               default, tuple(options)))
    return ProcedureVariants(tuple(families))


@lru_cache(maxsize=4)
def procedure_variants(path: Path | str | None = None) -> ProcedureVariants:
    """The shipped families, loaded once per process (checked against the shipped catalogue)."""
    return load_variants(path)
