"""The TTHC catalogue: one YAML file per administrative procedure, validated on load.

The schema follows the records of the national TTHC database (Cơ sở dữ liệu quốc gia về TTHC):
code, name, field (lĩnh vực), level and implementing body, where to file, online mode, documents,
steps, processing time, fees, result and legal basis. Bodies are those in force after 1/7/2025
(two-level local government: commune/ward and province, no district); `previous_rule` keeps the
old rule where it differs, because citizens still quote it.

Every field renders to short Vietnamese text (`Procedure.field_text`) that the bot sends as is and
that retrieval indexes as one `Unit` per field, so what is found is exactly what is said.

Provenance: a citizen acts on what the bot says (pays a fee, misses a deadline), so every fact says
where it came from and when someone last checked it. Each file lists its `sources:` (a public URL
and/or a legal document number, with the date it was read); each fact field points at them
(`facts:` for the text fields, inline on every fee item and citizen deadline) with `verified:` —
the date the value was compared with that source, or null when nobody has. `answer_text` adds the
source and date to a reply, and a Vietnamese caveat when the fact is unverified or older than the
allowed age; an amount of money without any source is never quoted. Fee items and deadlines may
carry `valid_from` / `valid_to`: an answer uses what is in force on the day asked and announces a
change due within `UPCOMING_DAYS`.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from dataclasses import field as dataclass_field
from datetime import date, timedelta
from functools import lru_cache
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from knowledge.errors import KnowledgeError
from retrieval.types import Unit
from vntext import fold_words, is_syllable, unify_i_y

TTHC_DIR = Path(__file__).resolve().parent / "tthc"

FIELDS = ("overview", "documents", "steps", "time", "citizen_deadline", "fee", "place", "online", "result",
          "legal_basis", "body")
# Fields that state a fact a citizen relies on, each of which must name its source (see the audit).
FACT_FIELDS = ("documents", "time", "citizen_deadline", "fee", "place", "online", "result", "legal_basis", "body")

FIELD_LABELS: dict[str, str] = {
    "overview": "Tóm tắt",
    "documents": "Thành phần hồ sơ",
    "steps": "Trình tự thực hiện",
    "time": "Thời hạn giải quyết",
    "citizen_deadline": "Thời hạn người dân phải làm thủ tục",
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
    "time": "mất bao lâu, bao nhiêu ngày có kết quả, khi nào có kết quả, thời gian giải quyết",
    "citizen_deadline": "hạn chót phải đăng ký, trong bao lâu phải làm, trễ hạn, quá hạn thì sao, chậm nhất "
                        "khi nào, bị phạt không",
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
    "bao_tro_xa_hoi": "Bảo trợ xã hội", "xuat_nhap_canh": "Xuất nhập cảnh (hộ chiếu)",
    "giao_thong": "Giao thông (giấy phép lái xe, đăng ký xe)", "ly_lich_tu_phap": "Lý lịch tư pháp",
    "bao_hiem": "Bảo hiểm xã hội, bảo hiểm y tế", "lao_dong": "Lao động, việc làm",
    "nguoi_co_cong": "Người có công", "giao_duc": "Giáo dục, đào tạo", "y_te": "Y tế",
    "doanh_nghiep": "Doanh nghiệp, hợp tác xã", "moi_truong": "Môi trường", "khac": "Khác",
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
# Where a citizen checks a fact the catalogue cannot vouch for.
WHERE_TO_CHECK = ("Cổng Dịch vụ công quốc gia (dichvucong.gov.vn) hoặc Bộ phận Một cửa của UBND xã, phường, "
                  "đặc khu nơi bạn làm thủ tục")
# How long a verification stays good, unless the caller passes its own (settings: TTHC_MAX_FACT_AGE_DAYS).
DEFAULT_MAX_AGE_DAYS = 180
# A change of fee or rule taking effect within this many days is announced in the answer.
UPCOMING_DAYS = 60
# An amount of money as the catalogue writes it: "15.000 đồng", "2.000 đồng/trang", "500 nghìn đồng".
MONEY = re.compile(r"\d[\d.,]*\s*(?:triệu\s*|nghìn\s*|ngàn\s*)?(?:đồng|đ\b|VNĐ|vnđ)", re.IGNORECASE)
UNSOURCED_AMOUNT = f"chưa xác minh được mức phí; vui lòng kiểm tra tại {WHERE_TO_CHECK}"

Domain = Literal["ho_tich", "chung_thuc", "cu_tru", "can_cuoc", "dat_dai", "xay_dung", "kinh_doanh",
                 "bao_tro_xa_hoi", "xuat_nhap_canh", "giao_thong", "ly_lich_tu_phap", "bao_hiem",
                 "lao_dong", "nguoi_co_cong", "giao_duc", "y_te", "doanh_nghiep", "moi_truong", "khac"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class Document(_Strict):
    """One item of the dossier (thành phần hồ sơ)."""

    name: str = Field(min_length=3)
    copies: int = Field(1, ge=0, description="number of copies; 0 = only shown, not left with the office")
    form: Literal["ban_chinh", "ban_sao", "ban_sao_chung_thuc", "ban_chinh_hoac_ban_sao", "xuat_trinh"] = "ban_chinh"
    condition: str | None = Field(None, description="when this paper is needed, e.g. 'nếu ủy quyền'")
    note: str | None = None


class Source(_Strict):
    """Where facts come from: a public page and/or a legal text, and the day it was last read.

    `id` is what facts point at; for a legal text the document number itself ("75/2022/TT-BTC")
    reads best. `checked` is the date someone opened `url` (or the official text) — null when the
    entry is only a reference copied from the legal basis and nobody has read it for this file.
    """

    id: str = Field(min_length=2, pattern=r"^\S+$")
    title: str = Field(min_length=3)
    url: str | None = Field(None, pattern=r"^https?://\S+$")
    checked: date | None = None

    @property
    def short(self) -> str:
        """'Thông tư 75/2022/TT-BTC' for a legal number, else the title."""
        if re.search(r"\d+/\d{4}/", self.id):
            short = LegalDoc(number=self.id, title=self.title).short
            # "Luật Cư trú 68/2020/QH14" says more than "Luật 68/2020/QH14"; decrees keep the number only.
            return f"{self.title} {self.id}" if short.startswith(("Luật", "Bộ luật")) and len(self.title) < 40 else short
        return self.title


class Provenance(_Strict):
    """Where one fact comes from and when it was last compared with that source.

    `source` names one or more entries of the file's `sources:`; `ref` the article/clause or the
    section of the page ("Điều 25 khoản 3"); `verified` the date the value was checked against the
    source (null = never: the answer says so). `valid_from` / `valid_to` bound a rule in time.
    `note` records what a reviewer found (e.g. sources that disagree).
    """

    source: list[str] = Field(default_factory=list)
    ref: str | None = None
    verified: date | None = None
    valid_from: date | None = None
    valid_to: date | None = None
    note: str | None = None

    @field_validator("source", mode="before")
    @classmethod
    def _one_or_many(cls, v: object) -> object:
        if v is None:
            return []
        return [v] if isinstance(v, str) else v

    @model_validator(mode="after")
    def _period_in_order(self) -> Provenance:
        if self.valid_from and self.valid_to and self.valid_to < self.valid_from:
            raise ValueError(f"valid_to {self.valid_to} is before valid_from {self.valid_from}")
        return self

    def in_force(self, on: date) -> bool:
        return (self.valid_from is None or self.valid_from <= on) and (self.valid_to is None or on <= self.valid_to)

    def starts_soon(self, on: date, days: int = UPCOMING_DAYS) -> bool:
        """Not yet in force on `on` but will be within `days`: worth announcing."""
        return self.valid_from is not None and on < self.valid_from <= on + timedelta(days=days)

    def state(self, on: date, max_age_days: int = DEFAULT_MAX_AGE_DAYS) -> str:
        """'unsourced', 'unverified', 'stale' or 'verified' as of `on`."""
        if not self.source:
            return "unsourced"
        if self.verified is None:
            return "unverified"
        if (on - self.verified).days > max_age_days:
            return "stale"
        return "verified"


class Fee(Provenance):
    """One fee or charge; `amount` is the exact legal wording, `amount_vnd` the base number if one applies."""

    name: str
    kind: Literal["le_phi", "phi", "thue"] = "le_phi"
    amount: str = Field(min_length=2)
    amount_vnd: int | None = Field(None, ge=0)
    set_by_province: bool = Field(False, description="True when the HĐND tỉnh sets the amount")
    exemptions: list[str] = Field(default_factory=list)
    basis: str | None = Field(None, description="number of the văn bản fixing the amount")


class CitizenDeadline(Provenance):
    """How long the citizen has to do the procedure — not how long the office takes (`time`).

    "within" is the period ("60 ngày"), "from_event" what starts it ("kể từ ngày sinh"),
    "who" the person responsible, "late" what happens when it is missed.
    """

    within: str = Field(min_length=2)
    from_event: str = Field(min_length=3)
    who: str | None = None
    late: str | None = None
    applies_to: str | None = Field(None, description="the case this deadline is for, when not every case")



def known_fields(names: list[str]) -> list[str]:
    """`names` if each is a catalogue field (validators of YAML lists that name fields)."""
    bad = [f for f in names if f not in FIELDS]
    if bad:
        raise ValueError(f"unknown field(s) {bad}; use {list(FIELDS)}")
    return names

class LegalDoc(_Strict):
    """A văn bản of the legal basis: its number and title, and which fields it mainly governs."""

    number: str = Field(min_length=3)
    title: str = Field(min_length=3)
    covers: list[str] = Field(default_factory=list, description="fields this text governs, for citations")

    @field_validator("covers")
    @classmethod
    def _known_fields(cls, v: list[str]) -> list[str]:
        return known_fields(v)

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
    time: str = Field(min_length=5, description="thời hạn giải quyết (the office's), legal wording")
    citizen_deadlines: list[CitizenDeadline] = Field(
        default_factory=list, description="how long the citizen has (thời hạn phải đăng ký); empty = none recorded")
    fees: list[Fee] = Field(default_factory=list, description="empty = no fee or charge")
    fee_note: str | None = None
    result: str = Field(min_length=5)
    legal_basis: list[LegalDoc] = Field(min_length=1)
    previous_rule: str | None = Field(None, description="the rule before 1/7/2025 where it differs")
    body_since: str = Field(CUTOVER, pattern=r"^\d{1,2}/\d{1,2}/\d{4}$",
                            description="the day the body took the procedure over (d/m/yyyy): the 2025 reform "
                                        "by default; driving licences moved to the Police on 1/3/2025")
    notes: list[str] = Field(default_factory=list)
    last_reviewed: date
    source: str = Field(min_length=5, description="how the entry was compiled (free text)")
    sources: list[Source] = Field(default_factory=list, description="what `facts`, fees and deadlines cite")
    facts: dict[str, Provenance] = Field(default_factory=dict,
                                         description="provenance of each text fact field, keyed by field")

    @field_validator("facts")
    @classmethod
    def _fact_fields(cls, v: dict[str, Provenance]) -> dict[str, Provenance]:
        bad = [f for f in v if f not in FACT_FIELDS or f == "citizen_deadline"]
        if bad:
            raise ValueError(f"unknown fact field(s) {bad}; use {[f for f in FACT_FIELDS if f != 'citizen_deadline']} "
                             "(citizen deadlines carry their own source)")
        return v

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

    # ------------------------------------------------------------------ provenance
    def source_by_id(self, source_id: str) -> Source | None:
        return next((s for s in self.sources if s.id == source_id), None)

    def source_refs(self) -> list[tuple[tuple, str]]:
        """(path inside the file, source id) of every reference a fact makes, for the loader's check."""
        refs: list[tuple[tuple, str]] = []
        for name, prov in self.facts.items():
            refs += [(("facts", name, "source"), sid) for sid in prov.source]
        for i, fee in enumerate(self.fees):
            refs += [(("fees", i, "source"), sid) for sid in fee.source]
        for i, dl in enumerate(self.citizen_deadlines):
            refs += [(("citizen_deadlines", i, "source"), sid) for sid in dl.source]
        return refs

    def fact_items(self) -> list[tuple[str, str, Provenance]]:
        """Every fact the catalogue states about this procedure: (field, what, provenance).

        A text field without a `facts:` entry counts as a fact with no source. Each fee item and each
        citizen deadline is its own fact; the fee field's own entry covers "no fee" and the fee note.
        """
        items: list[tuple[str, str, Provenance]] = []
        for f in FACT_FIELDS:
            if f == "citizen_deadline":
                items += [(f, d.applies_to or f"{d.within} {d.from_event}", d) for d in self.citizen_deadlines]
            elif f == "fee":
                items += [(f, fee.name, fee) for fee in self.fees]
                if not self.fees or self.fee_note:
                    items.append((f, "không thu phí" if not self.fees else "ghi chú lệ phí",
                                  self.facts.get("fee", Provenance())))
            else:
                items.append((f, FIELD_LABELS[f], self.facts.get(f, Provenance())))
        return items

    def _source_names(self, prov: Provenance) -> str:
        names = []
        for sid in prov.source:
            src = self.source_by_id(sid)
            if src is None:
                names.append(sid)
            elif re.search(r"\d+/\d{4}/", src.id) or not src.url:
                names.append(src.short)
            else:  # a web page: its site is enough in a chat reply; the title stays in the file
                names.append(re.sub(r"^https?://(www\.)?", "", src.url).split("/", 1)[0])
        if prov.ref and names:
            # The article belongs to the legal text (listed first when there is one), not to a web page.
            legal = next((i for i, sid in enumerate(prov.source) if re.search(r"\d+/\d{4}/", sid)), len(names) - 1)
            names[legal] = f"{names[legal]}, {prov.ref}"
        return "; ".join(dict.fromkeys(names))  # two pages of one site are named once

    def cite_text(self, prov: Provenance, today: date, max_age_days: int = DEFAULT_MAX_AGE_DAYS) -> str:
        """One Vietnamese sentence: the source and check date, or the caveat a doubtful fact needs."""
        state = prov.state(today, max_age_days)
        if state == "unsourced":
            return f"Thông tin này chưa có nguồn được ghi nhận; vui lòng kiểm tra tại {WHERE_TO_CHECK}."
        where = self._source_names(prov)
        if state == "verified":
            return f"Nguồn: {where} — kiểm tra ngày {prov.verified:%d/%m/%Y}."
        if state == "stale":
            return (f"Nguồn: {where} — kiểm tra lần cuối ngày {prov.verified:%d/%m/%Y}, đã hơn {max_age_days} ngày, "
                    f"quy định có thể đã thay đổi; vui lòng kiểm tra lại tại {WHERE_TO_CHECK}.")
        return (f"Nguồn: {where} — thông tin chưa được đối chiếu lại với nguồn; vui lòng kiểm tra tại "
                f"{WHERE_TO_CHECK}.")

    def _tag(self, prov: Provenance, today: date, max_age_days: int) -> str:
        """Short in-line source for one fee item or deadline: '(Nguồn: …, kiểm tra ngày …)'."""
        state = prov.state(today, max_age_days)
        if state == "unsourced":
            return "(chưa có nguồn)"
        where = self._source_names(prov)
        if state == "verified":
            return f"(Nguồn: {where} — kiểm tra ngày {prov.verified:%d/%m/%Y})"
        if state == "stale":
            return f"(Nguồn: {where} — kiểm tra lần cuối ngày {prov.verified:%d/%m/%Y}, đã lâu)"
        return f"(Nguồn: {where} — chưa được đối chiếu lại)"

    def answer_text(self, field: str, today: date, max_age_days: int = DEFAULT_MAX_AGE_DAYS) -> str:
        """The reply for one field on `today`: the rule in force, with its source and, when the fact
        is unverified or older than `max_age_days`, a caveat saying where to check."""
        text = self.field_text(field, today=today, max_age_days=max_age_days)
        if field in ("fee", "citizen_deadline"):
            items: list[Provenance] = list(self.fees) if field == "fee" else list(self.citizen_deadlines)
            items = [i for i in items if i.in_force(today) or i.starts_soon(today)]
            lines = [text]
            if field == "fee" and (not self.fees or self.fee_note):
                lines.append(self.cite_text(self.facts.get("fee", Provenance()), today, max_age_days))
            if any(i.state(today, max_age_days) != "verified" for i in items):
                what = "Mức phí" if field == "fee" else "Thời hạn"
                lines.append(f"{what} nêu trên chưa được xác minh đầy đủ; vui lòng kiểm tra tại {WHERE_TO_CHECK} "
                             "trước khi làm thủ tục.")
            return "\n".join(lines)
        if field == "overview":
            # A summary of several facts: say how far they can be trusted; each field names its source.
            doubtful = [w for f, w, prov in self.fact_items() if f in ("time", "fee", "body")
                        and (prov.in_force(today) and prov.state(today, max_age_days) != "verified")]
            if doubtful:
                text += (f"\nMột số thông tin trên chưa được xác minh gần đây; hỏi từng mục (lệ phí, thời hạn, "
                         f"cơ quan) để xem nguồn, hoặc kiểm tra tại {WHERE_TO_CHECK}.")
            return text
        if field not in FACT_FIELDS:
            return text
        prov = self.facts.get(field, Provenance())
        lines = [text, self.cite_text(prov, today, max_age_days)]
        if prov.valid_to and prov.valid_to < today:
            lines.append(f"Quy định này chỉ áp dụng đến hết {_d(prov.valid_to)}; vui lòng kiểm tra quy định hiện hành "
                         f"tại {WHERE_TO_CHECK}.")
        elif prov.valid_from and prov.valid_from > today:
            lines.append(f"Quy định này áp dụng từ {_d(prov.valid_from)}.")
        return "\n".join(lines)

    # ------------------------------------------------------------------ rendering
    def field_text(self, field: str, today: date | None = None, max_age_days: int = DEFAULT_MAX_AGE_DAYS) -> str:
        """One field as short, plain Vietnamese for a chat reply (no markdown).

        With `today`, dated items (fees, citizen deadlines) are those in force that day plus a change
        due within `UPCOMING_DAYS`; without it (the retrieval index) every item with its period.
        Amounts of money are only ever shown with a source.
        """
        render = getattr(self, f"_text_{field}", None)
        if field not in FIELDS or render is None:
            raise KeyError(f"unknown procedure field {field!r}; use one of {FIELDS}")
        if field in ("fee", "citizen_deadline"):
            text = render(today, max_age_days)
        else:
            text = render(today) if field == "overview" else render()
        if field not in ("fee", "citizen_deadline", "overview"):
            text = _guard_money(text, self.facts.get(field, Provenance()))
        return text.strip()

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

    @staticmethod
    def _dated(items: list, today: date | None) -> tuple[list, list]:
        """(items in force on `today`, items starting within UPCOMING_DAYS); all items when no day."""
        if today is None:
            return list(items), []
        return [i for i in items if i.in_force(today)], [i for i in items if i.starts_soon(today)]

    @staticmethod
    def _period(item: Provenance, today: date | None) -> str:
        """'(áp dụng từ 1/7/2025 đến hết 31/12/2025)' — the part worth saying on `today`."""
        parts = []
        if item.valid_from and (today is None or item.valid_from > today):
            parts.append(f"từ {_d(item.valid_from)}")
        if item.valid_to:
            parts.append(f"đến hết {_d(item.valid_to)}")
        return f" (áp dụng {' '.join(parts)})" if parts else ""

    def _fee_line(self, f: Fee, today: date | None) -> str:
        amount = f.amount if f.source else UNSOURCED_AMOUNT
        line = f"{f.name}: {amount}"
        if f.source and f.set_by_province and "HĐND" not in f.amount:
            line += " (mức thu theo Nghị quyết của HĐND tỉnh, thành phố)"
        if f.source and f.basis and f.basis not in line and today is None:  # with a day, the tag cites it
            line += f" (theo {f.basis})"
        return line.rstrip(".") + self._period(f, today)

    def _text_fee(self, today: date | None = None, max_age_days: int = DEFAULT_MAX_AGE_DAYS) -> str:
        if not self.fees:
            text = "Lệ phí, phí: không thu."
            note = _guard_money(self.fee_note, self.facts.get("fee", Provenance())) if self.fee_note else ""
            return f"{text} {note}".strip()
        current, upcoming = self._dated(self.fees, today)
        lines = ["Lệ phí, phí:"]
        if not current:
            lines.append(f"- Chưa xác minh được mức phí đang áp dụng; vui lòng kiểm tra tại {WHERE_TO_CHECK}.")
        for f in current:
            line = "- " + self._fee_line(f, today)
            if today is not None and f.source:
                line += " " + self._tag(f, today, max_age_days)
            lines.append(line.rstrip(".") + ".")
            if f.exemptions:
                lines.append("  Miễn: " + "; ".join(f.exemptions).rstrip(".") + ".")
        for f in upcoming:
            lines.append(f"- Từ {_d(f.valid_from)}: {self._fee_line(f, f.valid_from).rstrip('.')}"
                         + (" " + self._tag(f, today, max_age_days) if today else "") + ".")
        if self.fee_note:
            lines.append(_guard_money(self.fee_note, self.facts.get("fee", Provenance())))
        return "\n".join(lines)

    def _deadline_line(self, d: CitizenDeadline, today: date | None) -> str:
        who = f", {d.who} phải làm thủ tục" if d.who else ", phải làm thủ tục"
        within = d.within if d.within.lower().startswith(("trước", "trong", "ngay")) else f"trong thời hạn {d.within}"
        line = f"{within[:1].upper()}{within[1:]} {d.from_event}{who}"
        if d.applies_to:
            line = f"{d.applies_to}: {line[0].lower()}{line[1:]}"
        line += self._period(d, today) + "."
        if d.late:
            line += f" Nếu để quá hạn: {d.late.rstrip('.')}."
        return line

    def _text_citizen_deadline(self, today: date | None = None, max_age_days: int = DEFAULT_MAX_AGE_DAYS) -> str:
        head = "Thời hạn người dân phải làm thủ tục (khác với thời hạn cơ quan giải quyết hồ sơ):"
        current, upcoming = self._dated(self.citizen_deadlines, today)
        if not current and not upcoming:
            name = re.sub(r"^[Tt]hủ tục\s+", "", self.name)
            return (f"Danh mục chưa ghi nhận thời hạn người dân phải làm thủ tục {name[:1].lower()}{name[1:]} "
                    f"(thời hạn giải quyết của cơ quan là mục khác). Vui lòng hỏi tại {WHERE_TO_CHECK}.")
        lines = [head]
        for d in current:
            tag = f" {self._tag(d, today, max_age_days)}" if today else ""
            lines.append(f"- {self._deadline_line(d, today)}{tag}")
        for d in upcoming:
            tag = f" {self._tag(d, today, max_age_days)}" if today else ""
            lines.append(f"- Từ {_d(d.valid_from)}: {self._deadline_line(d, d.valid_from)}{tag}")
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
        text = f"Cơ quan thực hiện (từ {self.body_since}): {self.body} ({self.level_label})."
        if self.previous_rule:
            text += f" {self.previous_rule}"
        return text

    def _text_overview(self, today: date | None = None) -> str:
        time = _guard_money(self._text_time(), self.facts.get("time", Provenance()))
        body = _guard_money(self.body, self.facts.get("body", Provenance()))
        parts = [f"{self.name}.", f"Cơ quan thực hiện: {body}.", time]
        current, _ = self._dated(self.fees, today)
        if current:
            parts.append("Lệ phí: " + "; ".join(self._fee_line(f, today) for f in current).rstrip(".") + ".")
        elif self.fees:
            parts.append(f"Lệ phí: chưa xác minh được mức phí đang áp dụng; vui lòng kiểm tra tại {WHERE_TO_CHECK}.")
        else:
            parts.append("Lệ phí: không thu.")
        submitted = [d.name for d in self.documents if d.form != "xuat_trinh"]
        # Nothing to hand in (e.g. data already in the national database): say what is shown instead.
        papers = "; ".join(submitted or [d.name for d in self.documents])[:400]
        if papers:
            parts.append(f"Hồ sơ chính: {papers.rstrip('.')}.")
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
        cited = (self.facts[field].source if field in self.facts
                 else [sid for f in self.fees for sid in f.source] if field == "fee"
                 else [sid for d in self.citizen_deadlines for sid in d.source] if field == "citizen_deadline"
                 else [])
        # The locator names legal texts only; web pages that confirmed them are in the reply's source line.
        names = list(dict.fromkeys(src.short for sid in cited if (src := self.source_by_id(sid))
                                   and re.search(r"\d+/\d{4}/", src.id)))
        numbers = ", ".join(names or [d.short for d in self.basis_for(field)])
        return {"source": self.key, "title": self.name, "locator": f"{FIELD_LABELS[field]} — {numbers}"}


def _d(day: date) -> str:
    """A date as Vietnamese text writes it in a sentence: 15/3/2026."""
    return f"{day.day}/{day.month}/{day.year}"


def _guard_money(text: str, prov: Provenance) -> str:
    """Never quote an amount of money that has no source: each one becomes a caveat."""
    if prov.source or not MONEY.search(text):
        return text
    return MONEY.sub(f"[{UNSOURCED_AMOUNT}]", text)


# ---------------------------------------------------------------------- text matching
@lru_cache(maxsize=1)
def _shorthand() -> dict[str, str]:
    """One-word shorthand ("dk", "cccd", "gks") → its folded phrase, from the one abbreviation lexicon
    (knowledge/lexicon/abbreviations.yaml), so a new abbreviation is a data change that both search
    and procedure matching see. Only shorthand is taken: variants typed without accents (but "đ"),
    since matching compares folded words and a folded accented variant ("hông") would swallow other
    words ("hỏng"), and not spelled like a Vietnamese syllable: "xong" is listed as a synonym of
    "hoàn thành" for search, but in a question it is a word of its own ("bao lâu thì xong")."""
    from retrieval.normalize import lexicon_entries

    table: dict[str, str] = {}
    for entry in lexicon_entries():
        canonical = fold_words(entry.canonical)
        for variant in entry.variants:
            word = fold_words(variant)
            if " " not in word and word != canonical and word == variant.replace("đ", "d") and not is_syllable(word):
                table[word] = canonical
    return table


@lru_cache(maxsize=8192)
def fold(text: str) -> str:
    """Folded words with shorthand spelled out ("dk gks" → "dang ky giay khai sinh"): the form in
    which a citizen's message is matched against procedure names and aliases.

    Cached: every message is matched against every procedure name and alias, and the names are
    the same few hundred strings each time.
    """
    expand = _shorthand()
    return " ".join(expand.get(w, w) for w in fold_words(text).split())


def match_fold(text: str) -> str:
    """`fold` with one i/y spelling ("dang ki" = "dang ky"), for matching names, never for slugs."""
    return " ".join(unify_i_y(w) for w in fold(text).split())


_STOP = frozenset(
    ["thu", "tuc", "lam", "cho", "toi", "minh", "em", "can", "gi", "hoi", "the", "nao", "ve", "cua", "va", "o", "dau", "bao", "nhieu", "khong", "ko", "duoc", "dc", "la"]
)


def _covered(q_words: set[str], procedure: Procedure) -> int:
    """How many of the question's words the procedure's name and aliases use."""
    return len(q_words & set(match_fold(" ".join([procedure.name, *procedure.aliases])).split()))


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
        # The name as people say it: "Thủ tục xóa đăng ký tạm trú" is asked as "xóa đăng ký tạm trú".
        said = fn.removeprefix("thu tuc ")
        # A short name counts only as a phrase: scattered, its two or three syllables are everyday
        # words ("báo tử" in "… bao lâu … tư pháp", "sổ đỏ" in "số … đỏ").
        # So does a name left with one or two content words ("làm thẻ căn cước" → "cước", which
        # "cuộc họp" spells the same without accents).
        if (len(said.split()) <= 3 or len(words) <= 2) and f" {said} " not in f" {q} ":
            share *= 0.5
        # A whole-phrase hit counts most, and a longer (more specific) phrase beats a shorter one:
        # "sửa sai ngày sinh trong giấy khai sinh" names cải chính, not plain "khai sinh", and
        # "xóa đăng ký tạm trú" names xóa, not the "đăng ký tạm trú" inside it.
        if f" {said} " in f" {q} ":
            share += 1.0 + 0.05 * len(words)
        elif share >= 0.8 and len(words) >= 6:
            share += 0.9 + 0.05 * len(words)
        best = max(best, share)
    return best


# ---------------------------------------------------------------------- audit
@dataclass
class AuditRow:
    """One fact as the audit sees it on a given day."""

    procedure: str
    field: str
    what: str
    state: str  # unsourced | unverified | stale | verified
    verified: date | None
    expired: bool  # its validity period ended before the day of the audit


@dataclass
class AuditReport:
    """Every fact of the catalogue with its state; `counts` for the README and the exit code."""

    today: date
    max_age_days: int
    rows: list[AuditRow] = dataclass_field(default_factory=list)

    @property
    def counts(self) -> dict[str, int]:
        out = {k: 0 for k in ("facts", "verified", "unverified", "stale", "unsourced", "expired")}
        for r in self.rows:
            out["facts"] += 1
            out[r.state] += 1
            out["expired"] += r.expired
        return out

    @property
    def problems(self) -> list[AuditRow]:
        """The rows worth listing: not verified recently, or out of force."""
        return [r for r in self.rows if r.state != "verified" or r.expired]


def audit_catalogue(catalogue: Catalogue, today: date, max_age_days: int = DEFAULT_MAX_AGE_DAYS) -> AuditReport:
    """Where the catalogue stands on `today`: which facts lack a source, were never checked, were
    checked too long ago, or describe a period that has ended."""
    report = AuditReport(today=today, max_age_days=max_age_days)
    for p in catalogue:
        for field, what, prov in p.fact_items():
            expired = prov.valid_to is not None and prov.valid_to < today
            report.rows.append(AuditRow(p.id, field, what, prov.state(today, max_age_days), prov.verified, expired))
    return report


# ---------------------------------------------------------------------- field lexicon
FIELD_LEXICON = Path(__file__).resolve().parent / "lexicon" / "procedure_fields.yaml"


class FieldPhrases(_Strict):
    """Phrases routing a question to one field (see the comment at the top of the lexicon file)."""

    phrases: list[str] = Field(min_length=1)
    unless: list[str] = Field(default_factory=list)
    replaces: list[str] = Field(default_factory=list)
    # Phrases that ask for this field only in a clause asking for nothing else ("làm lại ntn").
    alone: list[str] = Field(default_factory=list)

    @field_validator("replaces")
    @classmethod
    def _known(cls, v: list[str]) -> list[str]:
        return known_fields(v)

    def asked(self, folded: str) -> bool:
        q = f" {fold(folded)} "  # both sides with shorthand spelled out ("can j" = "can gi")
        return (any(f" {fold(p)} " in q for p in self.phrases)
                and not any(f" {fold(p)} " in q for p in self.unless))

    def asked_alone(self, clause: str) -> bool:
        """A clause that asks for no other field asks for this one by a bare word ("ra sao")."""
        q = f" {fold(clause)} "
        return (any(f" {fold(p)} " in q for p in self.alone)
                and not any(f" {fold(p)} " in q for p in self.unless))

    def strip(self, folded: str) -> str:
        """`folded` without these phrases: what is left names the procedure."""
        q = f" {fold(folded)} "
        for p in sorted([*self.phrases, *self.alone], key=len, reverse=True):
            q = q.replace(f" {fold(p)} ", " ")
        return q.strip()


@lru_cache(maxsize=4)
def field_lexicon(path: Path | str | None = None) -> dict[str, FieldPhrases]:
    """The field phrases, validated; a bad entry raises naming the file and the line."""
    p = Path(path) if path else FIELD_LEXICON
    text = p.read_text(encoding="utf-8")
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
        raw = yaml.safe_load(text) or {}
    except yaml.YAMLError as e:
        raise KnowledgeError(f"{p}: invalid YAML: {e}") from e
    out: dict[str, FieldPhrases] = {}
    for name, entry in raw.items():
        if name not in FIELDS:
            key = next((k for k, _ in getattr(root, "value", []) if getattr(k, "value", None) == name), None)
            line = key.start_mark.line + 1 if key is not None else ""
            raise KnowledgeError(f"{p}:{line}: unknown field {name!r}; use {list(FIELDS)}")
        try:
            out[name] = FieldPhrases.model_validate(entry)
        except ValidationError as e:
            err = e.errors()[0]
            raise KnowledgeError(f"{p}:{_line(root, (name, *err['loc']))}: field '{name}."
                                 f"{'.'.join(map(str, err['loc']))}': {err['msg']}") from e
    return out


def lexicon_fields(folded: str, fields: list[str]) -> list[str]:
    """`fields` read by the built-in rules, corrected by the lexicon file: a field whose phrases are
    in the question comes first, and the fields it replaces are dropped."""
    out = list(fields)
    for name, entry in field_lexicon().items():
        if entry.asked(folded):
            out = [name] + [f for f in out if f != name and f not in entry.replaces]
    return out


# ---------------------------------------------------------------------- catalogue
class Catalogue:
    """All procedures, addressable by code or slug and searchable by name or alias."""

    def __init__(self, procedures: list[Procedure]):
        self.procedures = procedures
        self._by_key: dict[str, Procedure] = {}
        for p in procedures:
            for k in dict.fromkeys(key for key in (p.id, p.code) if key):
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
        # Equally well named, the procedure whose names and aliases cover more of the question wins:
        # "chưa đăng ký kết hôn, muốn vừa khai sinh vừa nhận cha cho bé" names kết hôn and khai sinh
        # kết hợp nhận cha, mẹ, con as whole phrases, and only the latter covers "nhận cha", "khai sinh".
        q_words = set(match_fold(text).split())
        scored.sort(key=lambda s: (-round(s[0], 6), -_covered(q_words, s[2]), s[1]))
        return [p for _, _, p in scored[:limit]]


def _node_at(root: yaml.Node | None, path: tuple) -> yaml.Node | None:
    """The YAML node at `path` (mapping keys and list indexes), or the deepest one found on the way."""
    node = root
    for step in path:
        if isinstance(node, yaml.MappingNode) and isinstance(step, str):
            nxt = next((v for k, v in node.value if getattr(k, "value", None) == step), None)
        elif isinstance(node, yaml.SequenceNode) and isinstance(step, int) and step < len(node.value):
            nxt = node.value[step]
        else:
            nxt = None
        if nxt is None:
            break
        node = nxt
    return node


def _line(root: yaml.Node | None, path: tuple) -> str:
    node = _node_at(root, path)
    return f"{node.start_mark.line + 1}" if node is not None else ""


def _load_file(path: Path) -> Procedure:
    """One procedure file, validated; every error names the file and the line of the bad value."""
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as e:
        raise KnowledgeError(f"{path}: not UTF-8 text: {e}") from e
    return parse_procedure(text, str(path), path.stem)


def parse_procedure(text: str, where: str, stem: str) -> Procedure:
    """A procedure from its YAML text, validated exactly as the loader does (schema, file name = id,
    declared sources); errors name `where` and the line. The console checks a revision with it
    before writing the file, so what it publishes is what the loader will accept."""
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
        raw = yaml.safe_load(text)
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        at = f"{mark.line + 1}:" if mark else ""
        raise KnowledgeError(f"{where}:{at} invalid YAML: {e}") from e
    if not isinstance(raw, dict):
        raise KnowledgeError(f"{where}: expected a mapping at the top level")
    try:
        proc = Procedure.model_validate(raw)
    except ValidationError as e:
        err = e.errors()[0]
        problems = "; ".join(f"field '{'.'.join(str(x) for x in er['loc']) or '(root)'}': {er['msg']}"
                             for er in e.errors())
        raise KnowledgeError(f"{where}:{_line(root, tuple(err['loc']))}: {problems}") from e
    if proc.id != stem:
        raise KnowledgeError(f"{where}:{_line(root, ('id',))}: field 'id' is {proc.id!r} but the file is named "
                             f"{stem!r}")
    known = [s.id for s in proc.sources]
    dupes = sorted({k for k in known if known.count(k) > 1})
    if dupes:
        raise KnowledgeError(f"{where}:{_line(root, ('sources',))}: duplicate source id(s) {dupes}")
    for at_path, ref in proc.source_refs():
        if ref not in known:
            raise KnowledgeError(f"{where}:{_line(root, at_path)}: unknown source id {ref!r} in "
                                 f"'{'.'.join(map(str, at_path))}'; declare it under 'sources:' (known: {known})")
    return proc


def catalogue_dir() -> Path:
    """The catalogue directory in use: `TTHC_DIR` from the settings when set, else the shipped one.

    Configurable because the console publishes into it: a deployment keeps its catalogue on a
    volume, not inside the installed sources."""
    from settings import get_settings

    configured = get_settings().tthc_dir
    return Path(configured).expanduser() if configured else TTHC_DIR


def load_catalogue_uncached(directory: Path | str | None = None) -> Catalogue:
    """Read and validate every `*.yaml` under the directory; any bad file raises naming it."""
    d = Path(directory) if directory else catalogue_dir()
    if not d.is_dir():
        raise KnowledgeError(f"{d}: TTHC directory not found")
    return Catalogue([_load_file(p) for p in sorted(d.glob("*.yaml"))])


@lru_cache(maxsize=8)
def _cached(directory: str, _version: int) -> Catalogue:
    return load_catalogue_uncached(directory)


def _version(directory: str) -> int:
    """The directory's modification time: publishing writes each file by rename (and removes files),
    which changes it, so every process — not only the one that published — reloads on its next call."""
    try:
        return Path(directory).stat().st_mtime_ns
    except OSError:
        return 0


def load_catalogue(dir: Path | str | None = None) -> Catalogue:
    """The catalogue, cached per directory and reloaded when a file is added, replaced by rename or
    removed (call `load_catalogue.cache_clear()` after editing a file in place)."""
    directory = str(Path(dir).resolve() if dir else catalogue_dir().resolve())
    return _cached(directory, _version(directory))


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
