"""Phrase lists of `knowledge/lexicon/dialogue.yaml`, validated on load, and the matchers built on them.

The vocabularies are data (people keep finding new ways to say the same thing); only the shape of a
phrase (which lists follow which) is code. Matching is on folded text, whole words.
"""
from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cached_property, lru_cache
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from knowledge.errors import KnowledgeError
from vntext import strip_diacritics

DIALOGUE_LEXICON = Path(__file__).resolve().parent / "lexicon" / "dialogue.yaml"

Role = Literal["lead", "support"]


def _folded(values: list[str]) -> list[str]:
    for v in values:
        if v != " ".join(strip_diacritics(v).lower().split()):
            raise ValueError(f"phrase {v!r} must be folded: lower case, no accents, single spaces")
    return values


def _alternation(phrases: Iterable[str]) -> str:
    """A regex alternation of whole phrases, longest first (so "uy ban nhan dan" wins over "uy ban")."""
    return "|".join(re.escape(p) for p in sorted(set(phrases), key=len, reverse=True))


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class WherePhrases(_Strict):
    """Where a citizen goes to do a procedure: <before> <office> [[cap] <level>] [<after>]."""

    before: list[str] = Field(min_length=1)
    offices: list[str] = Field(min_length=1)
    levels: list[str] = Field(default_factory=list)
    after: list[str] = Field(default_factory=list)

    @field_validator("before", "offices", "levels", "after")
    @classmethod
    def _folded_phrases(cls, v: list[str]) -> list[str]:
        return _folded(v)


class DutyCountPhrases(_Strict):
    """Counting an office's duties: <count> <duty noun>; the role asked, by its words."""

    count: list[str] = Field(min_length=1)
    nouns: list[str] = Field(min_length=1)
    roles: dict[Role, list[str]] = Field(default_factory=dict)

    @field_validator("count", "nouns")
    @classmethod
    def _folded_phrases(cls, v: list[str]) -> list[str]:
        return _folded(v)

    @field_validator("roles")
    @classmethod
    def _roles_folded(cls, v: dict[Role, list[str]]) -> dict[Role, list[str]]:
        for words in v.values():
            _folded(words)
        return v


class OutOfScopePhrases(_Strict):
    """Requests never answered, and topics refused only when nothing in the message is in scope."""

    requests: list[str] = Field(min_length=1)
    topics: list[str] = Field(default_factory=list)

    @field_validator("requests", "topics")
    @classmethod
    def _folded_phrases(cls, v: list[str]) -> list[str]:
        return _folded(v)


class DialogueLexiconFile(_Strict):
    where: WherePhrases
    duty_count: DutyCountPhrases
    out_of_scope: OutOfScopePhrases


@dataclass(frozen=True)
class DialogueLexicon:
    """The validated phrase lists, with the office names widened by their abbreviations."""

    spec: DialogueLexiconFile
    office_variants: tuple[str, ...]

    @cached_property
    def _where(self) -> re.Pattern[str]:
        w = self.spec.where
        level = rf"(?:\s+(?:cap\s+)?(?:{_alternation(w.levels)}))?" if w.levels else ""
        after = rf"(?:\s+(?:{_alternation(w.after)}))?" if w.after else ""
        return re.compile(rf"\b(?:{_alternation(w.before)})\s+(?:{_alternation(self.office_variants)}){level}{after}\b")

    @cached_property
    def _count(self) -> re.Pattern[str]:
        c = self.spec.duty_count
        return re.compile(rf"\b(?:{_alternation(c.count)})\s+(?:{_alternation(c.nouns)})\b")

    @cached_property
    def _oos_requests(self) -> re.Pattern[str]:
        return re.compile(rf"\b(?:{_alternation(self.spec.out_of_scope.requests)})\b")

    @cached_property
    def _oos_topics(self) -> re.Pattern[str] | None:
        topics = self.spec.out_of_scope.topics
        return re.compile(rf"\b(?:{_alternation(topics)})\b") if topics else None

    def out_of_scope_request(self, folded: str) -> bool:
        """The message asks for something the assistant never does ("lam tho", "ty so bong da")."""
        return self._oos_requests.search(folded) is not None

    def out_of_scope_topic(self, folded: str) -> bool:
        """The message is on a topic usually out of scope ("chinh tri", "tieng anh")."""
        return self._oos_topics is not None and self._oos_topics.search(folded) is not None

    def where(self, folded: str) -> re.Match[str] | None:
        """The first where-phrase of a folded question ("tai ubnd xa"), or None."""
        return self._where.search(folded)

    def counts_duties(self, folded: str) -> bool:
        """The question counts duties ("co bao nhieu nhiem vu", "phoi hop may viec")."""
        return self._count.search(folded) is not None

    def role_asked(self, folded: str) -> Role | None:
        """"lead" or "support" when the question names exactly one of the two roles."""
        named: list[Role] = [role for role, words in self.spec.duty_count.roles.items()
                             if re.search(rf"\b(?:{_alternation(words)})\b", folded)]
        return named[0] if len(named) == 1 else None


def _words(text: str) -> str:
    """Folded words of a phrase, single-spaced ("Bộ phận một cửa" → "bo phan mot cua")."""
    return " ".join(re.findall(r"\w+", strip_diacritics(text).lower()))


def _line_of(text: str, loc: tuple) -> str:
    try:
        node: yaml.Node | None = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError:
        return ""
    for step in loc:
        if isinstance(node, yaml.MappingNode):
            node = next((v for k, v in node.value if getattr(k, "value", None) == step), None)
        elif isinstance(node, yaml.SequenceNode) and isinstance(step, int) and step < len(node.value):
            node = node.value[step]
        else:
            break
    return str(node.start_mark.line + 1) if node is not None else ""


@lru_cache(maxsize=4)
def dialogue_lexicon(path: Path | str | None = None, abbreviations: Path | str | None = None) -> DialogueLexicon:
    """Load and validate the dialogue phrases; a bad entry raises naming the file and the line.

    Office names are widened with the abbreviation lexicon's variants of the same phrase, so the
    file says "uy ban nhan dan" once and "ubnd" matches too.
    """
    from retrieval.normalize import LEXICON_PATH, LexiconError, lexicon_entries

    p = Path(path) if path else DIALOGUE_LEXICON
    try:
        text = p.read_text(encoding="utf-8")
        raw = yaml.safe_load(text) or {}
    except (OSError, yaml.YAMLError) as e:
        raise KnowledgeError(f"{p}: {e}") from e
    try:
        spec = DialogueLexiconFile.model_validate(raw)
    except ValidationError as e:
        err = e.errors()[0]
        raise KnowledgeError(f"{p}:{_line_of(text, tuple(err['loc']))}: "
                             f"'{'.'.join(map(str, err['loc']))}': {err['msg']}") from e
    try:
        entries = lexicon_entries(Path(abbreviations) if abbreviations else LEXICON_PATH)
    except LexiconError as e:
        raise KnowledgeError(str(e)) from e
    offices = set(spec.where.offices)
    for entry in entries:
        if _words(entry.canonical) in offices:
            offices.update(_words(v) for v in entry.variants if entry.folded or _words(v) == v)
    return DialogueLexicon(spec, tuple(sorted(offices)))
