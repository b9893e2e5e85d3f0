"""The TTHC catalogue: one YAML file per administrative procedure, validated on load.

The schema follows the records of the national TTHC database (Cơ sở dữ liệu quốc gia về TTHC):
code, name, field (lĩnh vực), level and implementing body, where to file, online mode, documents,
steps, processing time, fees, result and legal basis. Bodies are those in force after 1/7/2025
(two-level local government: commune/ward and province, no district); `previous_rule` keeps the
old rule where it differs, because citizens still quote it.

Every field renders to short Vietnamese text (`Procedure.field_text`) that the bot sends as is and
that retrieval indexes as one `Unit` per field, so what is found is exactly what is said.
"""
from __future__ import annotations

import re
from datetime import date
from functools import lru_cache
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from knowledge.errors import KnowledgeError
from knowledge.text import strip_diacritics, unify_i_y
from retrieval.types import Unit

TTHC_DIR = Path(__file__).resolve().parent / "tthc"

FIELDS = ("overview", "documents", "steps", "time", "fee", "place", "online", "result", "legal_basis", "body")

FIELD_LABELS: dict[str, str] = {
    "overview": "Tóm tắt",
    "documents": "Thành phần hồ sơ",
    "steps": "Trình tự thực hiện",
    "time": "Thời hạn giải quyết",
    "fee": "Lệ phí",
    "place": "Nơi nộp hồ sơ",
    "online": "Dịch vụ công trực tuyến",
    "result": "Kết quả",
    "legal_basis": "Căn cứ pháp lý",
    "body": "Cơ quan thực hiện",
}

# Words citizens use when asking for one field; indexed (not shown) so "mất bao lâu" finds `time`.
FIELD_QUESTIONS: dict[str, str] = {
    "overview": "thủ tục là gì, làm thế nào, hướng dẫn, quy trình làm",
    "documents": "cần giấy tờ gì, hồ sơ gồm những gì, mang theo gì, chuẩn bị gì, thành phần hồ sơ",
    "steps": "các bước, trình tự, làm như thế nào, quy trình",
    "time": "mất bao lâu, thời hạn, bao nhiêu ngày, khi nào có kết quả, thời gian giải quyết",
    "fee": "lệ phí, phí bao nhiêu, tốn bao nhiêu tiền, có mất tiền không, miễn phí không",
    "place": "nộp ở đâu, cơ quan nào, làm ở đâu, đến đâu",
    "online": "làm online, trực tuyến, qua mạng, dịch vụ công, VNeID, nộp online được không",
    "result": "nhận được gì, kết quả, giấy gì",
    "legal_basis": "căn cứ pháp lý, văn bản nào, quy định ở đâu, luật nào",
    "body": "cơ quan nào giải quyết, ai giải quyết, thẩm quyền, cấp xã hay tỉnh",
}

LEVEL_LABELS = {"xa": "cấp xã", "tinh": "cấp tỉnh", "trung_uong": "cấp trung ương"}
DOMAIN_LABELS = {
    "ho_tich": "Hộ tịch", "chung_thuc": "Chứng thực", "cu_tru": "Cư trú", "can_cuoc": "Căn cước",
    "dat_dai": "Đất đai", "xay_dung": "Xây dựng", "kinh_doanh": "Thành lập và hoạt động của hộ kinh doanh",
    "bao_tro_xa_hoi": "Bảo trợ xã hội", "khac": "Khác",
}
FORM_LABELS = {
    "ban_chinh": "bản chính",
    "ban_sao": "bản sao",
    "ban_sao_chung_thuc": "bản sao có chứng thực hoặc bản sao kèm bản chính để đối chiếu",
    "ban_chinh_hoac_ban_sao": "bản chính hoặc bản sao",
    "xuat_trinh": "xuất trình bản chính để đối chiếu, không nộp",
}
ONLINE_LABELS = {
    "toan_trinh": "toàn trình (nộp hồ sơ, nộp phí và nhận kết quả đều trực tuyến)",
    "mot_phan": "một phần (nộp hồ sơ trực tuyến, nhưng vẫn phải đến cơ quan để hoàn tất hoặc nhận kết quả)",
    "khong": "không (phải làm trực tiếp)",
}
NATIONAL_PORTAL = "Cổng Dịch vụ công quốc gia (dichvucong.gov.vn)"
CUTOVER = "1/7/2025"

Domain = Literal["ho_tich", "chung_thuc", "cu_tru", "can_cuoc", "dat_dai", "xay_dung", "kinh_doanh",
                 "bao_tro_xa_hoi", "khac"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class Document(_Strict):
    """One item of the dossier (thành phần hồ sơ)."""

    name: str = Field(min_length=3)
    copies: int = Field(1, ge=0, description="number of copies; 0 = only shown, not left with the office")
    form: Literal["ban_chinh", "ban_sao", "ban_sao_chung_thuc", "ban_chinh_hoac_ban_sao", "xuat_trinh"] = "ban_chinh"
    condition: str | None = Field(None, description="when this paper is needed, e.g. 'nếu ủy quyền'")
    note: str | None = None


class Fee(_Strict):
    """One fee or charge; `amount` is the exact legal wording, `amount_vnd` the base number if one applies."""

    name: str
    kind: Literal["le_phi", "phi", "thue"] = "le_phi"
    amount: str = Field(min_length=2)
    amount_vnd: int | None = Field(None, ge=0)
    set_by_province: bool = Field(False, description="True when the HĐND tỉnh sets the amount")
    exemptions: list[str] = Field(default_factory=list)
    basis: str | None = Field(None, description="number of the văn bản fixing the amount")


class LegalDoc(_Strict):
    """A văn bản of the legal basis: its number and title, and which fields it mainly governs."""

    number: str = Field(min_length=3)
    title: str = Field(min_length=3)
    covers: list[str] = Field(default_factory=list, description="fields this text governs, for citations")

    @field_validator("covers")
    @classmethod
    def _known_fields(cls, v: list[str]) -> list[str]:
        bad = [f for f in v if f not in FIELDS]
        if bad:
            raise ValueError(f"unknown field(s) {bad}; use {list(FIELDS)}")
        return v

    @property
    def short(self) -> str:
        """'Thông tư 226/2016/TT-BTC': the kind of text and its number, as citations print it."""
        n = self.number
        kind = ("Luật" if "/QH" in n else "Nghị định" if "NĐ-CP" in n else "Thông tư" if "/TT-" in n
                else "Nghị quyết" if "/NQ" in n else "Quyết định" if "QĐ" in n else "Văn bản")
        if n.startswith("91/2015/QH"):
            kind = "Bộ luật"
        return f"{kind} {n}"

    @property
    def label(self) -> str:
        return f"{self.title} ({self.number})" if self.number not in self.title else self.title


class Place(_Strict):
    """Where the citizen files (nơi nộp)."""

    offices: list[str] = Field(min_length=1)
    by_post: bool = False
    note: str | None = None


class Online(_Strict):
    """Online filing: mode follows the portal's wording, toàn trình or một phần."""

    mode: Literal["toan_trinh", "mot_phan", "khong"]
    portals: list[str] = Field(default_factory=lambda: [NATIONAL_PORTAL])
    note: str | None = None


class Procedure(_Strict):
    """One administrative procedure as a citizen needs it, with the rule in force after 1/7/2025."""

    id: str = Field(pattern=r"^[a-z0-9]+(-[a-z0-9]+)*$", description="stable slug; the file name without .yaml")
    code: str | None = Field(None, pattern=r"^\d\.\d{6}$", description="mã TTHC in the national database")
    name: str = Field(min_length=5)
    aliases: list[str] = Field(default_factory=list, description="colloquial names citizens type")
    domain: Domain
    field: str = Field(description="lĩnh vực as in the national database")
    level: Literal["xa", "tinh", "trung_uong"]
    body: str = Field(min_length=5, description="cơ quan thực hiện after 1/7/2025")
    subjects: str | None = Field(None, description="đối tượng thực hiện / who may ask")
    place: Place
    online: Online
    documents: list[Document] = Field(min_length=1)
    steps: list[str] = Field(min_length=1)
    time: str = Field(min_length=5, description="thời hạn giải quyết, legal wording")
    fees: list[Fee] = Field(default_factory=list, description="empty = no fee or charge")
    fee_note: str | None = None
    result: str = Field(min_length=5)
    legal_basis: list[LegalDoc] = Field(min_length=1)
    previous_rule: str | None = Field(None, description="the rule before 1/7/2025 where it differs")
    notes: list[str] = Field(default_factory=list)
    last_reviewed: date
    source: str = Field(min_length=5, description="where the content came from")

    @model_validator(mode="after")
    def _post_reform_body(self) -> Procedure:
        # After 1/7/2025 there is no district level; a body naming it would be stale advice.
        if re.search(r"c[aấ]p huy[eệ]n", self.body, re.IGNORECASE):
            raise ValueError("body names 'cấp huyện', which no longer exists after 1/7/2025; "
                             "put the old rule in previous_rule")
        return self

    # ------------------------------------------------------------------ identity
    @property
    def key(self) -> str:
        """The code when known, else the slug: used in unit ids and as citation source."""
        return self.code or self.id

    @property
    def level_label(self) -> str:
        return LEVEL_LABELS[self.level]

    # ------------------------------------------------------------------ rendering
    def field_text(self, field: str) -> str:
        """One field as short, plain Vietnamese for a chat reply (no markdown)."""
        render = getattr(self, f"_text_{field}", None)
        if field not in FIELDS or render is None:
            raise KeyError(f"unknown procedure field {field!r}; use one of {FIELDS}")
        return render().strip()

    def _text_documents(self) -> str:
        lines = ["Hồ sơ gồm:"]
        for i, d in enumerate(self.documents, 1):
            if d.form == "xuat_trinh":
                qty = FORM_LABELS["xuat_trinh"]
            else:
                qty = f"{d.copies:02d} {FORM_LABELS[d.form]}" if d.copies else FORM_LABELS[d.form]
            line = f"{i}. {d.name} ({qty})"
            if d.condition:
                line += f" — {d.condition}"
            if d.note:
                line += f". {d.note}"
            lines.append(line.rstrip(".") + ".")
        return "\n".join(lines)

    def _text_steps(self) -> str:
        return "Trình tự thực hiện:\n" + "\n".join(f"Bước {i}: {s}" for i, s in enumerate(self.steps, 1))

    def _text_time(self) -> str:
        return f"Thời hạn giải quyết: {self.time}"

    def _text_fee(self) -> str:
        if not self.fees:
            text = "Lệ phí, phí: không thu."
            return f"{text} {self.fee_note}" if self.fee_note else text
        lines = ["Lệ phí, phí:"]
        for f in self.fees:
            line = f"- {f.name}: {f.amount}"
            if f.set_by_province and "HĐND" not in f.amount:
                line += " (mức thu theo Nghị quyết của HĐND tỉnh, thành phố)"
            if f.basis and f.basis not in line:
                line += f" (theo {f.basis})"
            lines.append(line.rstrip(".") + ".")
            if f.exemptions:
                lines.append("  Miễn: " + "; ".join(f.exemptions).rstrip(".") + ".")
        if self.fee_note:
            lines.append(self.fee_note)
        return "\n".join(lines)

    def _text_place(self) -> str:
        text = "Nơi nộp hồ sơ: " + "; hoặc ".join(self.place.offices) + "."
        if self.place.by_post:
            text += " Có thể gửi hồ sơ qua dịch vụ bưu chính."
        if self.online.mode != "khong":
            text += f" Hoặc nộp trực tuyến trên {self.online.portals[0]}."
        if self.place.note:
            text += " " + self.place.note
        return text

    def _text_online(self) -> str:
        if self.online.mode == "khong":
            text = "Không làm trực tuyến được: phải làm trực tiếp."
        else:
            text = (f"Có thể làm trực tuyến, mức độ {ONLINE_LABELS[self.online.mode]}, trên "
                    + ", ".join(self.online.portals) + ".")
        if self.online.note:
            text += " " + self.online.note
        return text

    def _text_result(self) -> str:
        return f"Kết quả: {self.result}"

    def _text_legal_basis(self) -> str:
        return "Căn cứ pháp lý:\n" + "\n".join(f"- {d.label}" for d in self.legal_basis)

    def _text_body(self) -> str:
        text = f"Cơ quan thực hiện (từ {CUTOVER}): {self.body} ({self.level_label})."
        if self.previous_rule:
            text += f" {self.previous_rule}"
        return text

    def _text_overview(self) -> str:
        parts = [f"{self.name}.", f"Cơ quan thực hiện: {self.body}.", self._text_time()]
        if self.fees:
            parts.append("Lệ phí: " + "; ".join(f"{f.name}: {f.amount}" for f in self.fees).rstrip(".") + ".")
        else:
            parts.append("Lệ phí: không thu.")
        parts.append("Hồ sơ chính: " + "; ".join(d.name for d in self.documents if d.form != "xuat_trinh")[:400] + ".")
        parts.append("Trực tuyến: " + ("không" if self.online.mode == "khong"
                                         else ("toàn trình" if self.online.mode == "toan_trinh" else "một phần")) + ".")
        return " ".join(p.strip() for p in parts)

    # ------------------------------------------------------------------ citations
    def basis_for(self, field: str) -> list[LegalDoc]:
        """The texts that govern a field: those declaring it in `covers`, else the first (primary) text."""
        docs = [d for d in self.legal_basis if field in d.covers]
        return docs or self.legal_basis[:1]

    def citation(self, field: str) -> dict[str, str]:
        """Citation for one field: the procedure, and a locator naming the field and its legal basis."""
        if field not in FIELDS:
            raise KeyError(f"unknown procedure field {field!r}")
        numbers = ", ".join(d.short for d in self.basis_for(field))
        return {"source": self.key, "title": self.name, "locator": f"{FIELD_LABELS[field]} — {numbers}"}


# ---------------------------------------------------------------------- text matching
_ABBREVIATIONS = {
    "dk": "dang ky", "đk": "dang ky", "dki": "dang ky", "cccd": "can cuoc", "cmnd": "can cuoc",
    "gks": "giay khai sinh", "hkd": "ho kinh doanh", "gpxd": "giay phep xay dung", "ubnd": "uy ban",
    "tthc": "thu tuc", "xntthn": "xac nhan tinh trang hon nhan", "ko": "khong", "k": "khong", "dc": "duoc"
}


_ABBR_FOLDED = {k.lower().replace("đ", "d"): v for k, v in _ABBREVIATIONS.items()}


@lru_cache(maxsize=8192)
def fold(text: str) -> str:
    """Lower-case, accent-free, abbreviation-expanded form for matching what citizens type.

    Cached: every message is matched against every procedure name and alias, and the names are
    the same few hundred strings each time.
    """
    t = strip_diacritics(text).lower()
    words = re.findall(r"[a-z0-9]+", t)
    return " ".join(_ABBR_FOLDED.get(w, w) for w in words)


def match_fold(text: str) -> str:
    """`fold` with one i/y spelling ("dang ki" = "dang ky"), for matching names, never for slugs."""
    return " ".join(unify_i_y(w) for w in fold(text).split())


_STOP = frozenset(
    ["thu", "tuc", "lam", "cho", "toi", "minh", "em", "can", "gi", "hoi", "the", "nao", "ve", "cua", "va", "o", "dau", "bao", "nhieu", "khong", "ko", "duoc", "dc", "la"]
)


def _match_score(query: str, names: list[str]) -> float:
    """Best share of a name's content words found in the query, plus a bonus for a whole-phrase hit."""
    q = match_fold(query)
    q_words = set(q.split())
    best = 0.0
    for n in names:
        fn = match_fold(n)
        words = [w for w in fn.split() if w not in _STOP] or fn.split()
        if not words:
            continue
        share = sum(w in q_words for w in words) / len(words)
        # A short name counts only as a phrase: scattered, its two or three syllables are everyday
        # words ("báo tử" in "… bao lâu … tư pháp", "sổ đỏ" in "số … đỏ").
        if len(fn.split()) <= 3 and f" {fn} " not in f" {q} ":
            share *= 0.5
        # A whole-phrase hit counts most, and a longer (more specific) phrase beats a shorter one:
        # "sửa sai ngày sinh trong giấy khai sinh" names cải chính, not plain "khai sinh".
        if f" {fn} " in f" {q} ":
            share += 1.0 + 0.05 * len(words)
        elif share >= 0.8 and len(words) >= 6:
            share += 0.9 + 0.05 * len(words)
        best = max(best, share)
    return best


# ---------------------------------------------------------------------- catalogue
class Catalogue:
    """All procedures, addressable by code or slug and searchable by name or alias."""

    def __init__(self, procedures: list[Procedure]):
        self.procedures = procedures
        self._by_key: dict[str, Procedure] = {}
        for p in procedures:
            for k in {p.id, p.code} - {None}:
                if k in self._by_key:
                    raise KnowledgeError(f"duplicate procedure id or code {k!r}")
                self._by_key[k] = p

    def __len__(self) -> int:
        return len(self.procedures)

    def __iter__(self):
        return iter(self.procedures)

    def get(self, code_or_id: str) -> Procedure | None:
        """The procedure with this mã TTHC or slug (also accepts the 'tthc:<key>#field' unit id)."""
        key = code_or_id.strip()
        if key.startswith("tthc:"):
            key = key[5:].split("#", 1)[0]
        return self._by_key.get(key) or self._by_key.get(key.lower())

    @staticmethod
    def position_named(procedure: Procedure, text: str) -> int | None:
        """Where in `text` (folded) the procedure is first named by its name or an alias, if at all."""
        q = f" {match_fold(text)} "
        spots = [q.find(f" {match_fold(n)} ") for n in (procedure.name, *procedure.aliases) if match_fold(n)]
        spots = [i for i in spots if i >= 0]
        return min(spots) if spots else None

    def find_by_name(self, text: str, limit: int = 5, min_score: float = 0.5) -> list[Procedure]:
        """Procedures whose name or alias best matches `text`, best first (accent/case-insensitive)."""
        scored = [(_match_score(text, [p.name, *p.aliases]), i, p) for i, p in enumerate(self.procedures)]
        scored = [s for s in scored if s[0] >= min_score]
        scored.sort(key=lambda s: (-s[0], s[1]))
        return [p for _, _, p in scored[:limit]]


def _load_file(path: Path) -> Procedure:
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f" line {mark.line + 1}" if mark else ""
        raise KnowledgeError(f"{path}:{where} invalid YAML: {e}") from e
    if not isinstance(raw, dict):
        raise KnowledgeError(f"{path}: expected a mapping at the top level")
    try:
        proc = Procedure.model_validate(raw)
    except ValidationError as e:
        problems = "; ".join(f"field '{'.'.join(str(x) for x in err['loc']) or '(root)'}': {err['msg']}"
                             for err in e.errors())
        raise KnowledgeError(f"{path}: {problems}") from e
    if proc.id != path.stem:
        raise KnowledgeError(f"{path}: field 'id' is {proc.id!r} but the file is named {path.stem!r}")
    return proc


def load_catalogue_uncached(directory: Path | str | None = None) -> Catalogue:
    """Read and validate every `*.yaml` under the directory; any bad file raises naming it."""
    d = Path(directory) if directory else TTHC_DIR
    if not d.is_dir():
        raise KnowledgeError(f"{d}: TTHC directory not found")
    return Catalogue([_load_file(p) for p in sorted(d.glob("*.yaml"))])


@lru_cache(maxsize=8)
def _cached(directory: str) -> Catalogue:
    return load_catalogue_uncached(directory)


def load_catalogue(dir: Path | str | None = None) -> Catalogue:
    """The catalogue, cached per directory (call `load_catalogue.cache_clear()` after editing files)."""
    return _cached(str(Path(dir).resolve() if dir else TTHC_DIR))


load_catalogue.cache_clear = _cached.cache_clear  # type: ignore[attr-defined]


def procedure_units(catalogue: Catalogue | None = None) -> list[Unit]:
    """One retrieval Unit per procedure field, text = the exact reply text for that field."""
    cat = catalogue or load_catalogue()
    units: list[Unit] = []
    for p in cat:
        names = "; ".join([p.name, *p.aliases])
        for f in FIELDS:
            units.append(Unit(
                id=f"tthc:{p.key}#{f}", kind="tthc_field", source=p.key, title=p.name,
                locator=FIELD_LABELS[f], text=p.field_text(f),
                context=f"{names}. {FIELD_LABELS[f]}: {FIELD_QUESTIONS[f]}. Lĩnh vực {p.field}.",
                meta={"procedure": p.key, "field": f, "level": p.level, "domain": p.domain, "code": p.code},
            ))
    return units
