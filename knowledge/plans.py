"""Plan documents → structured knowledge: metadata, sections with heading paths, task records.

The plan texts come from scanned/converted PDFs, so parsing repairs what the conversion broke:
page breaks that split a sentence or a table row, table headers repeated on every page,
footnotes dropped into the middle of a paragraph, markdown/HTML debris and typos in the Roman
numerals of headings. Heading levels are read from the numbering (I., 1., 2.1., a)), never from
the markdown `#` count, which the converter set inconsistently.

Task tables (one row = one task) and prose duty sections ("2. Phòng Nội vụ: …") both become
`Task` records, so the bot can answer "what must my office do, and by when" from data.
"""
from __future__ import annotations

import hashlib
import html
import re
from dataclasses import dataclass, field
from datetime import date
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

import yaml
from pydantic import BaseModel, ValidationError

from knowledge.errors import KnowledgeError
from vntext import fold

if TYPE_CHECKING:
    from retrieval.types import Unit

PLANS_DIR = Path(__file__).resolve().parent / "sources" / "plans"

ROMAN = "IVXLĨ"
_ROMAN_RE = re.compile(r"^(?P<num>[IVXĨ]{1,5})\s*[\.\-–:]\s*(?P<title>\S.*)$")
# In a table's section cell the dot after the numeral is sometimes missing ("VĨ CẢI CÁCH …").
_TABLE_SECTION_RE = re.compile(r"^(?P<num>[IVXĨ]{1,5})\s*[\.\-–:]?\s+(?P<title>[A-ZĐÀ-Ỹ].*)$")
_NUM_RE = re.compile(r"^(?P<num>\d{1,2})\.\s*(?P<title>\S.*)$")
_SUBNUM_RE = re.compile(r"^(?P<num>\d{1,2}\.\d{1,2})\.?\s+(?P<title>\S.*)$")
_LETTER_RE = re.compile(r"^(?P<num>[a-zđ])\)\s*(?P<title>\S.*)$")
_APPENDIX_RE = re.compile(r"^(PHỤ LỤC|ĐỀ CƯƠNG)\b|^Các nhiệm vụ Cải cách hành chính năm \d{4}", re.IGNORECASE)
_SKIP_BLOCK_RE = re.compile(r"^(Nơi nhận|TM\. ?ỦY BAN|KT\. ?CHỦ TỊCH|PHÓ CHỦ TỊCH$|CHỦ TỊCH$)", re.IGNORECASE)
_FOOTNOTE_RE = re.compile(r"^<sup>(\d+)</sup>\s*(.*)$")
_TERMINAL = (".", ";", ":", "!", "?", ")", "”", '"', "/.")

# Task-table header cells, compared folded; a row whose cells are all header words is dropped.
_HEADER_WORDS = {"tt", "noi dung", "nhiem vu", "san pham", "co quan chu tri", "co quan phoi hop", "thoi gian hoan thanh", "thoi gian hoan thien", "ghi chu"}


class PlanMeta(BaseModel):
    """Metadata kept beside each plan text in `<name>.yaml`."""

    id: str
    corpus_id: str
    title: str
    kind: str  # ke_hoach_cchc | ke_hoach_kiem_tra
    issuing_body: str
    locality: str
    province: str
    level: str
    decision_number: str | None = None
    decision_date: date | None = None
    decision_date_text: str | None = None
    signer: str | None = None
    signer_title: str | None = None
    period_start: int
    period_end: int

    @property
    def kind_label(self) -> str:
        return {"ke_hoach_cchc": "Kế hoạch CCHC", "ke_hoach_kiem_tra": "Kế hoạch kiểm tra"}.get(
            self.kind, self.kind
        )

    @property
    def short_name(self) -> str:
        """A short human name for grouping answers: 'KH CCHC 2024 — Tỉnh Tây Ninh'."""
        years = str(self.period_start) if self.period_start == self.period_end else (
            f"{self.period_start}–{self.period_end}")
        return f"{self.kind_label} {years} — {self.locality}"


@dataclass
class Section:
    """A heading with its paragraphs; `path` is the heading path from the top of the document."""

    plan_id: str
    ordinal: int
    path: list[str]
    numbers: list[str]
    paragraphs: list[str] = field(default_factory=list)

    @property
    def heading(self) -> str:
        return self.path[-1] if self.path else "Phần mở đầu"

    @property
    def locator(self) -> str:
        nums: list[str] = []
        for n in self.numbers:
            if not n:
                continue
            if nums and n.startswith(nums[-1] + "."):  # "2" then "2.1" prints as "2.1"
                nums[-1] = n
            else:
                nums.append(n)
        if not nums:
            return f"Mục “{self.heading[:60]}”"
        return "Mục " + ".".join(nums)

    @property
    def id(self) -> str:
        return f"{self.plan_id}#s{self.ordinal:03d}"

    @property
    def text(self) -> str:
        return "\n".join(self.paragraphs)


def task_locator(origin: str, number: str | None, section: str) -> str:
    """What a citation prints for a task: its table number (with the section when numbering restarts
    per section, as in Hoài Nhơn's table) or the prose item it comes from."""
    if origin == "table" and number:
        return f"Nhiệm vụ số {number}" + (f" ({section})" if "." in number else "")
    return f"Mục {number}" if number else "Phân công thực hiện"


@dataclass
class Task:
    """One duty: a task-table row or a duty sentence in a prose assignment section."""

    plan_id: str
    key: str
    number: str | None
    origin: str  # table | prose
    section: str
    text: str
    product: str | None
    lead_raw: str
    support_raw: str
    deadline_raw: str | None
    lead_ids: list[str] = field(default_factory=list)
    support_ids: list[str] = field(default_factory=list)
    deadline: object | None = None  # knowledge.deadlines.Deadline

    @property
    def id(self) -> str:
        return f"{self.plan_id}#{self.key}"

    @property
    def locator(self) -> str:
        return task_locator(self.origin, self.number, self.section)


@dataclass
class Plan:
    meta: PlanMeta
    sections: list[Section]
    tasks: list[Task]
    sha256: str

    @property
    def id(self) -> str:
        return self.meta.id


# --------------------------------------------------------------------------- text cleaning

def clean_inline(text: str) -> str:
    """Strip markdown emphasis and HTML (lists become '; '-separated items), unescape entities."""
    t = text
    t = re.sub(r"<sup>\d+</sup>", "", t)
    t = re.sub(r"</li>\s*<li[^>]*>", "\n", t)
    t = re.sub(r"<br\s*/?>|</p>\s*<p[^>]*>", "\n", t)
    t = re.sub(r"<(https?://[^>\s]+)>", r"\1", t)  # markdown autolinks are text, not tags
    t = re.sub(r"</?[a-zA-Z][a-zA-Z0-9]*(?:\s[^<>]*)?/?>", " ", t)
    t = html.unescape(t)
    t = t.replace("**", "").replace("__", "")
    t = re.sub(r"(?<!\w)\*(?!\s)|(?<!\s)\*(?!\w)", "", t)
    t = re.sub(r"^#+\s*", "", t)
    lines = [" ".join(line.split()) for line in t.split("\n")]
    return "\n".join(line for line in lines if line).strip()


def _fix_roman(num: str) -> str:
    return num.replace("Ĩ", "I")


# --------------------------------------------------------------------------- loading

def load_meta(path: Path) -> PlanMeta:
    """Read and validate a plan's metadata file; errors name the file."""
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
        return PlanMeta.model_validate(data)
    except (yaml.YAMLError, ValidationError) as exc:
        raise KnowledgeError(f"{path}: invalid plan metadata: {exc}") from exc


def plan_paths(plans_dir: Path = PLANS_DIR) -> list[tuple[Path, Path]]:
    """(text, metadata) pairs of every plan shipped with the product."""
    pairs = []
    for txt in sorted(plans_dir.glob("*.txt")):
        meta = txt.with_suffix(".yaml")
        if not meta.exists():
            raise KnowledgeError(f"{txt}: missing metadata file {meta.name}")
        pairs.append((txt, meta))
    return pairs


# --------------------------------------------------------------------------- parsing

def _is_table_line(line: str) -> bool:
    return line.count("\t") >= 3


def _heading_match(line: str) -> tuple[int, str, str] | None:
    """(level, number, title) if the cleaned line is a numbered heading or item."""
    if m := _ROMAN_RE.match(line):
        num = _fix_roman(m["num"])
        if all(c in "IVX" for c in num):
            return 0, num, m["title"]
    if m := _SUBNUM_RE.match(line):
        return 2, m["num"], m["title"]
    if m := _NUM_RE.match(line):
        return 1, m["num"], m["title"]
    if m := _LETTER_RE.match(line):
        return 3, m["num"], m["title"]
    return None


def _paragraphs(raw: str) -> list[tuple[str, bool]]:
    """Split text into (line, is_table) blocks, joining lines that a page break split.

    A body paragraph that does not end a sentence is continued by the next body paragraph when
    that one starts in lower case or with a digit, or when only a footnote stood between them.
    """
    out: list[tuple[str, bool]] = []
    footnote_between = False
    for rawline in raw.split("\n"):
        if not rawline.strip():
            continue
        if _is_table_line(rawline):
            out.append((rawline, True))
            continue
        if rawline.strip() == "---":
            footnote_between = True
            continue
        line = clean_inline(rawline)
        if not line:
            continue
        if fm := _FOOTNOTE_RE.match(rawline.strip()):
            out.append((f"Chú thích {fm[1]}: {clean_inline(fm[2])}", False))
            footnote_between = True
            continue
        if out and not out[-1][1] and _continues(out, line, footnote_between):
            prev_i = _interrupted_index(out)
            out[prev_i] = (f"{out[prev_i][0]} {line}", False)
            footnote_between = False
            continue
        footnote_between = False
        out.append((line, False))
    return out


def _interrupted_index(out: list[tuple[str, bool]]) -> int:
    """Index of the last body paragraph, skipping footnotes dropped in by a page break."""
    i = len(out) - 1
    while i > 0 and out[i][0].startswith("Chú thích ") and not out[i][1]:
        i -= 1
    return i


def _continues(out: list[tuple[str, bool]], line: str, after_footnote: bool) -> bool:
    """Whether `line` continues the previous paragraph across a page break."""
    prev_i = _interrupted_index(out) if after_footnote else len(out) - 1
    prev, prev_is_table = out[prev_i]
    if prev_is_table or prev.endswith(_TERMINAL) or prev.startswith("Chú thích "):
        return False
    heading = _heading_match(prev)
    if heading and len(heading[2]) <= 90:  # a short heading is complete as it is
        return False
    if _heading_match(line) or line.startswith("- ") or _APPENDIX_RE.match(line):
        return False
    return line[:1].islower() or line[:1].isdigit() or after_footnote


def _split_cells(line: str, width: int) -> list[str]:
    cells = [clean_inline(c) for c in line.split("\t")]
    cells += [""] * (width - len(cells))
    return cells[:width]


def _is_header_row(cells: list[str]) -> bool:
    words = [fold(c) for c in cells if c.strip()]
    return bool(words) and all(w in _HEADER_WORDS or w.startswith("co quan chu tr") for w in words)


def _parse_table(rows: list[str], plan_id: str) -> list[Task]:
    """Rows of a task table → tasks; header rows dropped, continuation rows merged."""
    tasks: list[Task] = []
    section = ""
    width = max(r.count("\t") + 1 for r in rows)
    # Two layouts: 001 = TT | Nhiệm vụ | Sản phẩm | Chủ trì | Phối hợp | Thời gian | Ghi chú;
    # 002 = Nội dung (section) | "N. Nhiệm vụ" | Sản phẩm | Chủ trì | Phối hợp | Thời gian.
    numbered_in_text = any(re.match(r"^\d{1,2}\.\s*\S", _split_cells(r, width)[1]) for r in rows)
    for row in rows:
        cells = _split_cells(row, width)
        if _is_header_row(cells):
            continue
        first, task_cell, product, lead, support, deadline = (cells + [""] * 6)[:6]
        if numbered_in_text:
            if first:
                m = _TABLE_SECTION_RE.match(first)
                if m and all(c in "IVX" for c in _fix_roman(m["num"])):
                    section = f"{_fix_roman(m['num'])}. {m['title']}"
                elif section:  # a section title split by a page break ("… CHÍNH QUYỀN" + "ĐIỆN TỬ …")
                    section = f"{section} {first}"
            m = re.match(r"^(\d{1,2})\.\s*(.*)$", task_cell, re.DOTALL)
            if m:
                number, text = m[1], m[2]
            elif tasks:
                _merge_continuation(tasks[-1], task_cell, product, lead, support, deadline)
                continue
            else:
                continue
        else:
            if re.fullmatch(r"[IVXĨ]{1,5}", first) and not product:
                section = f"{_fix_roman(first)}. {task_cell}"
                continue
            if not first:
                if tasks:
                    _merge_continuation(tasks[-1], task_cell, product, lead, support, deadline)
                continue
            roman = section.split(".", 1)[0]
            number, text = f"{roman}.{first}", task_cell
        key = f"task-{number}"
        tasks.append(Task(plan_id=plan_id, key=key, number=number, origin="table", section=section,
                          text=text, product=product or None, lead_raw=lead, support_raw=support,
                          deadline_raw=deadline or None))
    return tasks


def _merge_continuation(task: Task, text: str, product: str, lead: str, support: str, deadline: str) -> None:
    """Append a page-break continuation row to the row it continues, cell by cell."""
    def join(a: str | None, b: str) -> str | None:
        if not b:
            return a
        return f"{a} {b}" if a else b

    task.text = join(task.text, text) or ""
    task.product = join(task.product, product)
    task.lead_raw = join(task.lead_raw, lead) or ""
    task.support_raw = join(task.support_raw, support) or ""
    task.deadline_raw = join(task.deadline_raw, deadline)


_PARSER_INPUTS = [Path(__file__), Path(__file__).with_name("deadlines.py"), Path(__file__).with_name("offices.py"),
                  Path(__file__).with_name("offices.yaml")]


def _build_hash(raw: str, meta_path: Path) -> str:
    """Hash of everything a parsed plan depends on, so the store rebuilds when any of it changes."""
    h = hashlib.sha256(raw.encode())
    for path in [meta_path, *_PARSER_INPUTS]:
        if path.exists():
            h.update(path.read_bytes())
    return h.hexdigest()


def parse_plan(text_path: Path, meta_path: Path) -> Plan:
    """Parse one plan document into sections and tasks (offices/deadlines resolved later)."""
    meta = load_meta(meta_path)
    raw = text_path.read_text(encoding="utf-8")
    sha = _build_hash(raw, meta_path)
    blocks = _paragraphs(raw)

    sections: list[Section] = []
    path: list[str] = ["Phần mở đầu"]
    numbers: list[str] = [""]
    levels: list[int] = [-1]
    current = Section(meta.id, 0, list(path), list(numbers))
    sections.append(current)
    table_rows: list[str] = []
    skipping = False

    def start(level: int, number: str, title: str) -> Section:
        nonlocal current
        while len(levels) > 1 and levels[-1] >= level:
            levels.pop(), path.pop(), numbers.pop()
        levels.append(level)
        path.append(f"{number}{')' if level == 3 else '.'} {title}" if number else title)
        numbers.append(number)
        current = Section(meta.id, len(sections), list(path), list(numbers))
        sections.append(current)
        return current

    for line, is_table in blocks:
        if is_table:
            table_rows.append(line)
            continue
        if _SKIP_BLOCK_RE.match(line):
            skipping = True
            continue
        if _APPENDIX_RE.match(line):
            skipping = False
            levels[:] = [-1]
            path[:] = [line]
            numbers[:] = [""]
            current = Section(meta.id, len(sections), list(path), list(numbers))
            sections.append(current)
            continue
        hm = _heading_match(line)
        if skipping and not hm:
            continue
        skipping = False
        if hm:
            level, number, title = hm
            if level == 0:
                # a Roman heading after an appendix keeps the appendix name as the root
                root = path[0] if path and _APPENDIX_RE.match(path[0]) else None
                levels[:] = [-1]
                path[:] = [root] if root else []
                numbers[:] = [""] if root else []
                if not root:
                    levels.clear()
            long_item = len(title) > 90 or title.endswith((".", ";"))
            sec = start(level, number, title if not long_item else _short_title(title))
            if long_item:
                sec.paragraphs.append(title)
            continue
        current.paragraphs.append(line)

    sections = [s for s in sections if s.paragraphs or s.path]
    tasks = _parse_table(table_rows, meta.id) if table_rows else []
    tasks += _prose_tasks(meta, sections)
    return Plan(meta=meta, sections=[s for s in sections if s.paragraphs], tasks=tasks, sha256=sha)


def _short_title(text: str, limit: int = 90) -> str:
    """First clause of a long item, used as its heading."""
    clause = re.split(r"[.;:]\s", text, maxsplit=1)[0]
    if len(clause) <= limit:
        return clause
    return clause[:limit].rsplit(" ", 1)[0] + "…"


# --------------------------------------------------------------------------- prose duties

_ASSIGN_SECTION_RE = re.compile(r"tổ chức thực hiện|phân công", re.IGNORECASE)
_GENERIC_HEADINGS = ("nhiệm vụ chung", "kinh phí", "đối với các cơ quan chủ trì")


def _prose_tasks(meta: PlanMeta, sections: list[Section]) -> list[Task]:
    """Duties written as prose under 'Tổ chức thực hiện' / 'Phân công thực hiện'.

    An office-named heading ("4. Sở Nội vụ", "2.2. Phòng Nội vụ thị xã") assigns each of its
    paragraphs to that office. Under a heading that names no office, a paragraph that says
    "Giao X chủ trì …" assigns the duty to X.
    """
    tasks: list[Task] = []
    for sec in sections:
        if not sec.paragraphs or len(sec.path) < 1:
            continue
        top = sec.path[0]
        in_assign = _ASSIGN_SECTION_RE.search(top) and not _APPENDIX_RE.match(top)
        if not in_assign:
            continue
        office_heading = _office_heading(sec)
        assigned = None  # "Giao X chủ trì …" assigns the rest of the item to X too
        for i, para in enumerate(sec.paragraphs):
            if para.startswith("Chú thích "):
                continue
            if para.startswith(("Trên đây là", "Trong quá trình")):
                continue
            assigned = _office_in_sentence(para) or assigned
            lead = office_heading or assigned
            if not lead:
                continue
            support = ""
            if office_heading and (partner := _supports_named_office(para)):
                lead, support = partner, office_heading  # "b) Phối hợp Sở Nội vụ tổ chức …"
            number = ".".join(n for n in sec.numbers if n)
            tasks.append(Task(plan_id=meta.id, key=f"duty-s{sec.ordinal:03d}-{i + 1}",
                              number=number or None, origin="prose", section=" › ".join(sec.path),
                              text=para.lstrip("- ").strip(), product=None, lead_raw=lead,
                              support_raw=support, deadline_raw=_prose_deadline(para)))
    return tasks


# A specific office (not "các cơ quan liên quan") that a paragraph says its addressee works *with*.
_PARTNER_RE = re.compile(
    r"^(?:[a-zđ]\)\s*|-\s*)?Phối hợp\s+(?:với\s+)?((?:Sở|Phòng|Văn phòng|Ủy ban|UBND|Trung tâm|Bưu điện|Công an|"
    r"Ban|Đài|Báo|Kho bạc|Thanh tra|Bảo hiểm)\b.*?)(?=,|;|\s+(?:tổ chức|thực hiện|tham mưu|triển khai|xây dựng|"
    r"rà soát|trong|để|đẩy mạnh|theo dõi|kiểm tra|hướng dẫn)\b)")
# A deadline written into a prose duty: "…, thực hiện hoàn thành năm 2021.", "phấn đấu thực hiện đạt năm
# 2025.", "thực hiện thường xuyên hàng năm."
_PROSE_DEADLINE_RE = re.compile(
    r"(?:hoàn thành|thực hiện đạt)\s+(?:trong\s+|vào\s+|trước\s+)?((?:năm|quý\s+[IVX]+/?|tháng\s+\d{1,2}/)\s*\d{4}|ngày\s+\d{1,2}/\d{1,2}/\d{4})|"
    r"(thực hiện thường xuyên)", re.IGNORECASE)


def _supports_named_office(text: str) -> str | None:
    """The office a duty paragraph names as the one its addressee works with ("Phối hợp Sở Nội vụ
    tổ chức …"): that office leads, the addressee of the heading supports."""
    m = _PARTNER_RE.match(text.replace("**", ""))
    return m[1].strip() if m else None


def _prose_deadline(text: str) -> str | None:
    m = _PROSE_DEADLINE_RE.search(text.replace("**", ""))
    if not m:
        return None
    return m[1][0].upper() + m[1][1:] if m[1] else "Thường xuyên"


def _office_heading(sec: Section) -> str | None:
    """The office a duty section is addressed to, from its heading (or its parent's)."""
    for heading in reversed(sec.path[1:]):
        title = re.sub(r"^[\dIVXa-zđ\.\)]+\s*", "", heading).strip().rstrip(":")
        if any(g in title.lower() for g in _GENERIC_HEADINGS):
            continue
        if re.match(r"^(Đề nghị\s+)?(Sở|Phòng|Văn phòng|Ủy ban|UBND|Trung tâm|Báo|Bưu điện|Các|Thủ trưởng|"
                    r"Mặt trận|Ban|Đài)", title):
            return re.sub(r"^Đề nghị\s+", "", title)
    return None


def _office_in_sentence(text: str) -> str | None:
    m = re.match(r"^(?:[a-zđ]\)\s*)?Giao\s+(.+?)\s+(?:chủ trì|thực hiện|phối hợp|có trách nhiệm)", text)
    if m:
        return m[1]
    m = re.match(r"^(?:[a-zđ]\)\s*)?(Thủ trưởng .+?|Chủ tịch UBND .+?)\s+có trách nhiệm", text)
    return m[1] if m else None


# --------------------------------------------------------------------------- enrichment

def _enrich(plan: Plan) -> None:
    """Resolve office mentions to directory ids and parse deadlines."""
    from knowledge.deadlines import parse_deadline
    from knowledge.offices import load_offices

    directory = load_offices()
    for task in plan.tasks:
        task.lead_ids = _resolve(directory, task.lead_raw, plan.meta)
        task.support_ids = _resolve(directory, task.support_raw, plan.meta)
        if task.deadline_raw:
            task.deadline = parse_deadline(task.deadline_raw, plan.meta.period_start,
                                           plan_end_year=plan.meta.period_end)


def _resolve(directory, mention: str, meta: PlanMeta) -> list[str]:
    if not mention.strip():
        return []
    matches = directory.resolve(mention, province=meta.province, locality=meta.locality)
    ids: list[str] = []
    for m in matches:
        oid = getattr(m, "office_id", None) or getattr(m, "id", None)
        if oid and oid not in ids:
            ids.append(oid)
    return ids


@lru_cache(maxsize=1)
def load_plans(plans_dir: Path = PLANS_DIR) -> tuple[Plan, ...]:
    """Every shipped plan, parsed and enriched (cached: the sources ship with the code)."""
    plans = []
    for txt, meta in plan_paths(plans_dir):
        plan = parse_plan(txt, meta)
        _enrich(plan)
        plans.append(plan)
    return tuple(plans)


def get_plan(plan_id: str) -> Plan | None:
    return next((p for p in load_plans() if p.id == plan_id or p.meta.corpus_id == plan_id), None)


def plan_of(plan_id: str) -> Plan:
    """The plan with this id or corpus id, for ids that come from the store or the index itself
    (a missing one is a stale build, not a user error)."""
    plan = get_plan(plan_id)
    if plan is None:
        raise KeyError(f"no plan {plan_id!r}: rebuild the knowledge store (python -m knowledge build)")
    return plan


# --------------------------------------------------------------------------- retrieval units

_MAX_UNIT_CHARS = 1400


def plan_units() -> list[Unit]:
    """Retrieval units for every plan: section paragraphs (grouped by structure) and task rows."""
    from retrieval.types import Unit

    units: list[Unit] = []
    for plan in load_plans():
        meta = plan.meta
        base_meta = {"plan_id": meta.id, "corpus_id": meta.corpus_id, "locality": meta.locality,
                     "province": meta.province, "year": meta.period_start, "year_end": meta.period_end,
                     "plan_kind": meta.kind}
        header = f"{meta.title}. {meta.locality}, {meta.province}."
        for sec in plan.sections:
            for part, paras in enumerate(_group_paragraphs(sec.paragraphs)):
                uid = sec.id + (f"-{part + 1}" if part else "")
                units.append(Unit(
                    id=uid, kind="plan_section", source=meta.id, title=meta.title,
                    locator=f"{sec.locator} — {sec.heading[:80]}" if sec.numbers[-1:] != [""] else sec.locator,
                    text="\n".join(paras), context=f"{header} {' › '.join(sec.path)}",
                    meta={**base_meta, "section_path": sec.path, "section_id": sec.id},
                ))
        for task in plan.tasks:
            units.append(Unit(
                id=task.id, kind="plan_task", source=meta.id, title=meta.title, locator=task.locator,
                text=task_text(task), context=f"{header} {task.section} {_office_context(task)}",
                meta={**base_meta, "task_key": task.key, "origin": task.origin,
                      "lead_ids": task.lead_ids, "support_ids": task.support_ids},
            ))
    return units


def task_text(task: Task) -> str:
    """A task as one readable block: number, text, product, offices and deadline."""
    parts = [f"Nhiệm vụ {task.number}: {task.text}" if task.origin == "table" else task.text]
    if task.product:
        parts.append(f"Sản phẩm: {task.product}")
    if task.lead_raw:
        parts.append(f"Cơ quan chủ trì: {task.lead_raw}")
    if task.support_raw:
        parts.append(f"Cơ quan phối hợp: {task.support_raw}")
    if task.deadline_raw:
        parts.append(f"Thời gian hoàn thành: {task.deadline_raw}")
    return "\n".join(parts)


def _office_context(task: Task) -> str:
    """Canonical names and aliases of the task's offices, so abbreviations find the row."""
    try:
        from knowledge.offices import load_offices

        directory = load_offices()
    except Exception:  # noqa: BLE001 - the directory is optional for indexing
        return ""
    names: list[str] = []
    for oid in task.lead_ids + task.support_ids:
        office = directory.get(oid)
        if office is not None:
            names.append(office.name)
            names.extend(getattr(office, "aliases", [])[:4])
    return " ".join(names)


def _group_paragraphs(paragraphs: list[str]) -> list[list[str]]:
    """Keep a section whole unless it is long; then cut between paragraphs, never inside one."""
    groups: list[list[str]] = [[]]
    size = 0
    for para in paragraphs:
        if groups[-1] and size + len(para) > _MAX_UNIT_CHARS:
            groups.append([])
            size = 0
        groups[-1].append(para)
        size += len(para)
    return [g for g in groups if g]
