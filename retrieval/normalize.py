"""Text normalisation for Vietnamese retrieval: how people really type, mapped onto official text.

Citizens type without accents ("thu tuc hanh chinh"), with chat shorthand ("ko", "dc"), with
administrative abbreviations ("cchc", "ubnd", "sổ đỏ") and with numbers in free forms ("q1",
"quý 1", "05 ngày"). Official plan text spells everything out, uses Roman numerals for quarters and
old-style tone placement ("hoá"). Everything here is applied identically to indexed text and to
queries, so the two meet in the middle:

1. Unicode NFC, lower case, old tone placement → new ("hoá" → "hóa", "thuỷ" → "thủy").
2. Punctuation → token boundaries; leading zeros dropped ("05" → "5").
3. Quarters: "quý 1", "quy 1", "q1", "quý I" → "quý i". Years stay one token ("năm 2024" and
   "2024" share the term "2024"; "năm" is kept because it is also a name: "Ngã Năm 2024").
4. The lexicon (`knowledge/lexicon/abbreviations.yaml`): every variant is rewritten to its
   canonical phrase, longest match first, on both sides ("cchc" and "cải cách hành chính" both end
   up as "cải cách hành chính"). Variants typed without accents match too, unless the entry says
   `folded: false`.
5. Folding: the accent-free form of each token ("đ" → "d"), indexed beside the accented one.

Tokenisation decision, measured with `bench/segmentation.py` (182 queries × 3 forms, 829 units,
one BM25 field over text + title + context, top 5; R@5 / MRR):

    scheme                  accented       folded         abbreviated    index build
    syllables + bigrams     0.962 / 0.866  0.967 / 0.858  0.956 / 0.850  0.61 s
    syllables only          0.951 / 0.847  0.923 / 0.783  0.929 / 0.808  0.44 s
    pyvi words              0.956 / 0.846  0.582 / 0.437  0.720 / 0.558  1.44 s
    pyvi words + syllables  0.962 / 0.850  0.923 / 0.781  0.940 / 0.811  1.87 s

Syllables + adjacent-syllable bigrams win on every form: bigrams capture most two-syllable words
without a segmenter, and a segmenter trained on accented text cannot find word boundaries in
accent-free or abbreviated queries (folded R@5 0.58). It also needs no extra dependency.
"""
from __future__ import annotations

import itertools
import re
import unicodedata
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, Field, ValidationError, field_validator

from vntext import fold, unify_i_y

LEXICON_PATH = Path(__file__).resolve().parent.parent / "knowledge" / "lexicon" / "abbreviations.yaml"


_TOKEN_RE = re.compile(r"[^\W_]+", re.UNICODE)
_ROMAN = {"1": "i", "2": "ii", "3": "iii", "4": "iv"}
_QUARTER_WORDS = {"quý", "quy"}
_QN_RE = re.compile(r"^q([1-4])$")

# Old-style tone placement on open syllables ending in oa/oe/uy: "hoá" → "hóa", "thuỷ" → "thủy".
_TONES = {
    "a": "áàảãạ", "e": "éèẻẽẹ", "y": "ýỳỷỹỵ",
}
_HEAD = {"o": "óòỏõọ", "u": "úùủũụ"}
_OLD_TONE: dict[str, str] = {}
for _head, _pairs in (("o", "a"), ("o", "e"), ("u", "y")):
    for _i, _marked in enumerate(_TONES[_pairs]):
        _OLD_TONE[_head + _marked] = _HEAD[_head][_i] + _pairs
_OLD_TONE_RE = re.compile(r"(?<!q)(" + "|".join(_OLD_TONE) + r")$")


def nfc(text: str) -> str:
    """Unicode NFC: converted PDFs and phone keyboards mix composed and combining accents."""
    return unicodedata.normalize("NFC", text)


def _new_tone(token: str) -> str:
    return _OLD_TONE_RE.sub(lambda m: _OLD_TONE[m.group(1)], token) if len(token) > 1 else token


def raw_tokens(text: str) -> list[str]:
    """NFC, lower-cased word tokens with punctuation removed, tone placement and i/y spelling unified."""
    return [unify_i_y(_new_tone(t)) for t in _TOKEN_RE.findall(nfc(text).lower())]


def _numbers(tokens: list[str]) -> list[str]:
    """Number and date forms: leading zeros, quarters as Roman numerals, 'năm 2024' → '2024'."""
    out: list[str] = []
    n = len(tokens)
    i = 0
    while i < n:
        tok = tokens[i]
        if tok.isdigit() and len(tok) <= 3:
            tok = tok.lstrip("0") or "0"
        m = _QN_RE.match(tok)
        if m:
            out += ["quý", _ROMAN[m.group(1)]]
        elif tok in _QUARTER_WORDS and i + 1 < n and tokens[i + 1].lstrip("0") in _ROMAN:
            out += ["quý", _ROMAN[tokens[i + 1].lstrip("0")]]
            i += 1
        elif tok in _QUARTER_WORDS and i + 1 < n and tokens[i + 1] in _ROMAN.values():
            out += ["quý", tokens[i + 1]]
            i += 1
        else:
            out.append(tok)
        i += 1
    return out


# --------------------------------------------------------------------------------------------
# Lexicon


class LexiconEntry(BaseModel):
    """One canonical phrase and the spellings that mean the same."""

    canonical: str = Field(min_length=1)
    variants: list[str] = Field(min_length=1)
    scope: Literal["both", "query"] = "both"
    folded: bool = True

    @field_validator("canonical", "variants")
    @classmethod
    def _lower_and_tokenisable(cls, v: str | list[str]) -> str | list[str]:
        values = [v] if isinstance(v, str) else v
        for s in values:
            if s != s.strip() or not raw_tokens(s):
                raise ValueError(f"phrase {s!r} is empty or has surrounding spaces")
            if nfc(s) != s.lower():
                raise ValueError(f"phrase {s!r} must be lower case NFC")
        return v


class LexiconFile(BaseModel):
    """The whole yaml file; validated on load so a typo fails loudly, not silently."""

    entries: list[LexiconEntry]


class LexiconError(ValueError):
    """The abbreviation file is malformed (bad yaml, missing fields, conflicting variants)."""


@dataclass
class Lexicon:
    """Variant → canonical token rewrites, matched longest first on token sequences."""

    accented: dict[tuple[str, ...], tuple[str, ...]] = field(default_factory=dict)
    folded: dict[tuple[str, ...], tuple[str, ...]] = field(default_factory=dict)
    accented_q: dict[tuple[str, ...], tuple[str, ...]] = field(default_factory=dict)
    folded_q: dict[tuple[str, ...], tuple[str, ...]] = field(default_factory=dict)
    max_len: int = 1

    @classmethod
    def from_entries(cls, entries: list[LexiconEntry]) -> Lexicon:
        """Build the rewrite tables; a variant claimed by two different canonicals is an error."""
        lex = cls()
        for e in entries:
            canon = tuple(_numbers(raw_tokens(e.canonical)))
            targets = [(lex.accented_q, lex.folded_q)]
            if e.scope == "both":
                targets.append((lex.accented, lex.folded))
            for phrase in [e.canonical, *e.variants]:
                key = tuple(_numbers(raw_tokens(phrase)))
                fkey = tuple(fold(t) for t in key)
                for acc, fol in targets:
                    pairs = [(acc, key)] + ([(fol, fkey)] if e.folded or key == fkey else [])
                    for table, k in pairs:
                        if table.get(k, canon) != canon:
                            raise LexiconError(
                                f"variant {phrase!r} maps to both {' '.join(table[k])!r} and {e.canonical!r}")
                        table[k] = canon
                lex.max_len = max(lex.max_len, len(key))
        return lex

    def rewrite(self, tokens: list[str], *, query: bool) -> list[str]:
        """Replace every variant by its canonical tokens (longest match first, left to right)."""
        acc_t = self.accented_q if query else self.accented
        fol_t = self.folded_q if query else self.folded
        out: list[str] = []
        i, n = 0, len(tokens)
        plain = [fold(t) == t for t in tokens]
        while i < n:
            for size in range(min(self.max_len, n - i), 0, -1):
                span = tuple(tokens[i:i + size])
                canon = acc_t.get(span)
                # Only spans typed without accents take the folded route: "khống" is not "không".
                if canon is None and all(plain[i:i + size]):
                    canon = fol_t.get(span)
                if canon is not None:
                    out.extend(canon)
                    i += size
                    break
            else:
                out.append(tokens[i])
                i += 1
        return out


def lexicon_entries(path: Path = LEXICON_PATH) -> list[LexiconEntry]:
    """Read and validate the abbreviation yaml; raises `LexiconError` with the reason."""
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
        return LexiconFile.model_validate(data).entries
    except (yaml.YAMLError, ValidationError, OSError) as exc:
        raise LexiconError(f"{path}: {exc}") from exc


def load_lexicon(path: Path = LEXICON_PATH) -> Lexicon:
    """The rewrite tables of the abbreviation yaml (see `lexicon_entries`)."""
    return Lexicon.from_entries(lexicon_entries(path))


@lru_cache(maxsize=4)
def default_lexicon(path: str = str(LEXICON_PATH)) -> Lexicon:
    """The lexicon shipped with the product, loaded once per process."""
    return load_lexicon(Path(path))


# --------------------------------------------------------------------------------------------
# Public normalisation


def normalize_tokens(text: str, *, query: bool = False, lexicon: Lexicon | None = None) -> list[str]:
    """Accented canonical tokens: NFC, lower, tone placement, numbers, lexicon rewrites."""
    lex = lexicon or default_lexicon()
    return lex.rewrite(_numbers(raw_tokens(text)), query=query)


def normalize(text: str, *, query: bool = False, lexicon: Lexicon | None = None) -> str:
    """`normalize_tokens` joined by spaces: the canonical accented form of a text or query."""
    return " ".join(normalize_tokens(text, query=query, lexicon=lexicon))


def index_terms(tokens: list[str], *, accented: bool = True, folded: bool = True) -> list[str]:
    """BM25 terms: syllables and syllable bigrams, accented and/or folded (folded ones prefixed '~').

    Bigrams stand in for Vietnamese words (most are two syllables) without a segmenter; the '~'
    prefix keeps an accent-free term from colliding with a real accented syllable ("ca" ≠ "cá").
    """
    terms: list[str] = []
    if accented:
        terms += tokens
        terms += [f"{a}_{b}" for a, b in itertools.pairwise(tokens)]
    if folded:
        ftoks = [fold(t) for t in tokens]
        terms += ["~" + t for t in ftoks]
        terms += [f"~{a}_{b}" for a, b in itertools.pairwise(ftoks)]
    return terms


def loose_key(text: str) -> str:
    """Accent/case-insensitive, whitespace-collapsed form for 'does this text contain that snippet'."""
    return " ".join(fold(nfc(text)).split())
