"""Deadline cells of plan task tables → structured intervals; users' periods → date ranges.

Plan tables write deadlines in many forms ("Trong tháng 1", "Quý II, III/2024", "Quý IV/2024 đến
quý II/2025", "Hàng tháng", "Thường xuyên", "Trước ngày 20 của kỳ Báo cáo", "- Ban hành Kế hoạch:
Quý I/2021 - Thực hiện: Cả năm", "Theo Kế hoạch số 3989/KH-UBND …"), with scanning typos and stray
spaces. The bot needs one question answered of each: *does this task fall in the period the user
asked about?* So every deadline becomes a `kind` plus a closed interval [start, end] — the window
in which the task must be done — and a short Vietnamese label to print.

Interval conventions (so that period filters behave predictably):
- a quarter / month / year → that calendar span; a range → from the first span's start to the
  last span's end;
- "trước ngày D" → from the start of the plan year (or D's year if earlier) up to D;
- recurring kinds (thường xuyên, hằng tháng, hằng quý, kỳ báo cáo) → the whole plan period,
  because the duty applies in every part of it;
- "theo Kế hoạch số …" → the plan period too: the other plan sets the dates, but the task still
  belongs to this plan's year(s); the reference is kept in `reference`.

Matching runs on an accent-free lower-case copy, so "quy I 2024" and "Qúy I /2024" parse as well.
Calendar arithmetic uses python-dateutil rather than hand-written month lengths.
"""
from __future__ import annotations

import re
from datetime import date
from enum import StrEnum

from dateutil.relativedelta import relativedelta
from pydantic import BaseModel, Field

from vntext import fold

__all__ = ["Deadline", "DeadlineKind", "Phase", "deadline_overlaps", "parse_deadline", "parse_period"]


class DeadlineKind(StrEnum):
    """How a deadline is expressed; stored in `plan_tasks.deadline_kind`."""

    BY_DATE = "by_date"
    BY_QUARTER = "by_quarter"
    BY_MONTH = "by_month"
    BY_YEAR = "by_year"
    RANGE = "range"
    MONTHLY = "monthly"
    QUARTERLY = "quarterly"
    RECURRING = "recurring"
    REPORTING_CYCLE = "reporting_cycle"
    BY_OTHER_PLAN = "by_other_plan"
    PHASED = "phased"
    UNKNOWN = "unknown"


class Deadline(BaseModel):
    """A parsed deadline cell. `raw` is kept verbatim so answers can quote the plan exactly."""

    raw: str
    kind: DeadlineKind
    start: date | None = None
    end: date | None = None
    label_vi: str = Field(description="short Vietnamese rendering, e.g. 'Quý I/2024'")
    phases: list[Phase] = Field(default_factory=list, description="steps of a phased deadline")
    reference: str | None = Field(None, description="the document a by_other_plan deadline defers to")

    @property
    def is_known(self) -> bool:
        return self.kind is not DeadlineKind.UNKNOWN


class Phase(BaseModel):
    """One step of a phased deadline: 'Ban hành Kế hoạch' by Q1, 'Thực hiện' all year."""

    label: str
    deadline: Deadline

    @property
    def start(self) -> date | None:
        return self.deadline.start

    @property
    def end(self) -> date | None:
        return self.deadline.end


Deadline.model_rebuild()


# --------------------------------------------------------------------------- calendar helpers

_ROMAN = {"i": 1, "ii": 2, "iii": 3, "iv": 4, "1": 1, "2": 2, "3": 3, "4": 4}
_ROMAN_OUT = {1: "I", 2: "II", 3: "III", 4: "IV"}


def _quarter_span(year: int, q: int) -> tuple[date, date]:
    first = date(year, 3 * (q - 1) + 1, 1)
    return first, first + relativedelta(months=3, days=-1)


def _month_span(year: int, month: int) -> tuple[date, date]:
    first = date(year, month, 1)
    return first, first + relativedelta(months=1, days=-1)


def _year_span(year: int, end_year: int | None = None) -> tuple[date, date]:
    return date(year, 1, 1), date(end_year or year, 12, 31)


# --------------------------------------------------------------------------- period expressions

_NUM = r"(?:iv|iii|ii|i|[1-4])"
_YEAR_TAIL = r"(?:\s*(?:/|-|nam|,)?\s*(?P<year>(?:19|20)\d{2}))?"
_QUARTERS_RE = re.compile(
    rf"\bquy\s*(?P<qs>{_NUM}(?:\s*(?:,|va|-|–|&)\s*{_NUM}\b)*)\b{_YEAR_TAIL}"
)
_ISO_QUARTER_RE = re.compile(r"\b(?P<year>(?:19|20)\d{2})\s*[-/ ]?\s*q(?P<q>[1-4])\b|\bq(?P<q2>[1-4])\s*[-/ ]\s*(?P<year2>(?:19|20)\d{2})\b|\bq(?P<q3>[1-4])\b")
_DATE_RE = re.compile(r"(?<![\d/])(?P<d>\d{1,2})\s*/\s*(?P<m>\d{1,2})\s*/\s*(?P<y>(?:19|20)\d{2})\b")
_DATE_WORDS_RE = re.compile(r"\bngay\s*(?P<d>\d{1,2})\s*thang\s*(?P<m>\d{1,2})\s*nam\s*(?P<y>(?:19|20)\d{2})\b")
_MONTH_RE = re.compile(r"\bthang\s*(?P<m>\d{1,2})\b(?:\s*(?:/|-|nam)\s*(?P<year>(?:19|20)\d{2}))?")
_MONTH_SLASH_RE = re.compile(r"(?<![\d/])(?P<m>\d{1,2})\s*/\s*(?P<year>(?:19|20)\d{2})\b")
_ISO_MONTH_RE = re.compile(r"\b(?P<year>(?:19|20)\d{2})-(?P<m>\d{1,2})\b(?!-)")
_YEAR_RE = re.compile(r"(?<![\d/])(?P<year>(?:19|20)\d{2})\b")
_HALF_RE = re.compile(r"\b6\s*thang\s*(?P<which>dau|cuoi)\s*nam\b(?:\s*(?P<year>(?:19|20)\d{2}))?")


class _Span:
    """A period found in text: its kind, its interval and its position (for range detection)."""

    __slots__ = ("end", "kind", "label", "pos", "start", "stop")

    def __init__(self, kind: DeadlineKind, start: date, end: date, pos: int, stop: int, label: str):
        self.kind, self.start, self.end, self.pos, self.stop, self.label = kind, start, end, pos, stop, label


def _spans(t: str, year: int) -> list[_Span]:
    """Every period expression in folded text `t`, left to right, without overlaps."""
    found: list[_Span] = []
    taken: list[tuple[int, int]] = []

    def free(a: int, b: int) -> bool:
        return all(b <= x or a >= y for x, y in taken)

    def add(span: _Span) -> None:
        if free(span.pos, span.stop):
            found.append(span)
            taken.append((span.pos, span.stop))

    for m in _DATE_RE.finditer(t):
        _add_date(add, m, m.start(), m.end())
    for m in _DATE_WORDS_RE.finditer(t):
        _add_date(add, m, m.start(), m.end())
    for m in _HALF_RE.finditer(t):
        y = int(m["year"] or _following_year(t, m.end()) or year)
        a, b = ((date(y, 1, 1), date(y, 6, 30)) if m["which"] == "dau" else (date(y, 7, 1), date(y, 12, 31)))
        add(_Span(DeadlineKind.RANGE, a, b, m.start(), m.end(),
                  f"6 tháng {'đầu' if m['which'] == 'dau' else 'cuối'} năm {y}"))
    for m in _QUARTERS_RE.finditer(t):
        qs = sorted({_ROMAN[q] for q in re.findall(_NUM, re.sub(r"\b(?:va)\b", ",", m["qs"]))})
        y = int(m["year"] or _following_year(t, m.end()) or year)
        a, b = _quarter_span(y, qs[0])[0], _quarter_span(y, qs[-1])[1]
        add(_Span(DeadlineKind.BY_QUARTER, a, b, m.start(), m.end(),
                  f"Quý {', '.join(_ROMAN_OUT[q] for q in qs)}/{y}"))
    for m in _ISO_QUARTER_RE.finditer(t):
        q = int(m["q"] or m["q2"] or m["q3"])
        y = int(m["year"] or m["year2"] or _following_year(t, m.end()) or year)
        a, b = _quarter_span(y, q)
        add(_Span(DeadlineKind.BY_QUARTER, a, b, m.start(), m.end(), f"Quý {_ROMAN_OUT[q]}/{y}"))
    for rx in (_MONTH_RE, _ISO_MONTH_RE, _MONTH_SLASH_RE):
        for m in rx.finditer(t):
            mo = int(m["m"])
            if not 1 <= mo <= 12:
                continue
            y = int(m["year"] or _following_year(t, m.end()) or year)
            a, b = _month_span(y, mo)
            add(_Span(DeadlineKind.BY_MONTH, a, b, m.start(), m.end(), f"Tháng {mo}/{y}"))
    for m in _YEAR_RE.finditer(t):
        y = int(m["year"])
        a, b = _year_span(y)
        add(_Span(DeadlineKind.BY_YEAR, a, b, m.start(), m.end(), f"Năm {y}"))
    found.sort(key=lambda s: s.pos)
    return found


def _add_date(add, m: re.Match, pos: int, stop: int) -> None:
    try:
        d = date(int(m["y"]), int(m["m"]), int(m["d"]))
    except ValueError:
        return
    add(_Span(DeadlineKind.BY_DATE, d, d, pos, stop, d.strftime("%d/%m/%Y")))


def _following_year(t: str, pos: int) -> int | None:
    """A year written later in the same phrase ("quý I, II, III và cả năm 2024")."""
    m = re.search(r"\b((?:19|20)\d{2})\b", t[pos:pos + 40])
    return int(m[1]) if m else None


_RANGE_SEP_RE = re.compile(r"^\s*(?:,?\s*(?:den|toi|cho den)\b|-|–|—)\s*(?:het\s*)?$")


def _combine(spans: list[_Span], t: str) -> tuple[DeadlineKind, date, date, str] | None:
    """One interval from the periods in a phrase: a range when joined by 'đến' or a dash."""
    if not spans:
        return None
    if len(spans) >= 2:
        first, last = spans[0], spans[-1]
        between = t[first.stop:last.pos]
        if _RANGE_SEP_RE.match(between) or re.search(r"\b(den|toi)\b", between) or t[:first.pos].strip().endswith("tu"):
            label = f"Từ {_lower_first(first.label)} đến {_lower_first(last.label)}"
            return DeadlineKind.RANGE, min(s.start for s in spans), max(s.end for s in spans), label
    s = spans[0]
    if s.kind is DeadlineKind.BY_DATE:
        return None  # a bare date needs the "trước/ngày" wording handled by the caller
    return s.kind, s.start, s.end, s.label


def _lower_first(text: str) -> str:
    return text[:1].lower() + text[1:] if not text[:1].isdigit() else text


# --------------------------------------------------------------------------- deadline cells

_PHASE_SPLIT_RE = re.compile(r"(?:^|\s)[-–•+]\s+(?=[^:]{2,60}:)")
_LABEL_RE = re.compile(r"^\s*(?P<label>[^:\d]{2,60}?)\s*:\s*(?P<value>.+)$", re.DOTALL)
_OTHER_DOC_RE = re.compile(
    r"^\s*(?:thuc hien\s+)?theo\s+(?P<doc>(?:ke hoach|quyet dinh|cong van|van ban|chuong trinh|lo trinh|"
    r"thong bao|huong dan|nghi quyet|chi thi|de an)\b.*)$"
)
_DOC_NUMBER_RE = re.compile(r"\bs[ốoô]\s*(?P<num>[\w\-]+/[\w\-./Đđ]+)", re.IGNORECASE)
_REPORT_RE = re.compile(r"\bky bao cao\b|\bbao cao dinh ky\b|\bcuoi ky\b|\btheo ky\b")
_MONTHLY_RE = re.compile(r"\b(?:hang|hang|moi|dinh ky)\s*thang\b")
_QUARTERLY_RE = re.compile(r"\b(?:hang|moi|dinh ky)\s*quy\b")
_RECURRING_RE = re.compile(r"\b(?:thuong xuyen|hang nam|lien tuc|hang tuan|dinh ky|moi nam|kip thoi|khi co)\b")
_BEFORE_RE = re.compile(r"\b(?:truoc|cham nhat|khong qua|han chot|han)\b(?:\s*(?:ngay|vao ngay))?")
_WHOLE_YEAR_RE = re.compile(r"\b(?:ca nam|trong nam|nam nay|hang nam|suot nam)\b")
_QUARTERS_AND_YEAR_RE = re.compile(rf"\bquy\s*{_NUM}(?:\s*,\s*{_NUM})+\s*(?:,|va)\s*ca nam\b")


def parse_deadline(raw: str, plan_year: int, *, plan_end_year: int | None = None) -> Deadline:
    """Parse one deadline cell of a plan issued for `plan_year` (…`plan_end_year` for multi-year plans).

    Never raises: a cell no rule understands becomes `kind=unknown` with the raw text as its label,
    so the bot can still quote it.
    """
    text = " ".join((raw or "").replace("\u00a0", " ").split())
    if not text:
        return Deadline(raw=raw or "", kind=DeadlineKind.UNKNOWN, label_vi="Không ghi thời hạn")
    phased = _parse_phased(text, raw, plan_year, plan_end_year)
    if phased is not None:
        return phased
    return _parse_simple(text, raw, plan_year, plan_end_year)


def _parse_phased(text: str, raw: str, year: int, end_year: int | None) -> Deadline | None:
    """'- Ban hành Kế hoạch: Quý I/2021 - Thực hiện: Cả năm' → phases; a single 'label: value' too."""
    parts = [p.strip() for p in _PHASE_SPLIT_RE.split(text) if p.strip()]
    if len(parts) == 1 and not _LABEL_RE.match(parts[0]):
        return None
    phases: list[Phase] = []
    for part in parts:
        m = _LABEL_RE.match(part)
        if not m:
            return None
        sub = _parse_simple(m["value"].strip(), m["value"].strip(), year, end_year)
        phases.append(Phase(label=m["label"].strip(" -–"), deadline=sub))
    if len(phases) == 1:
        only = phases[0]
        d = only.deadline
        return d.model_copy(update={"raw": raw, "label_vi": f"{only.label}: {_lower_first(d.label_vi)}",
                                    "phases": phases})
    known = [p.deadline for p in phases if p.deadline.start is not None]
    label = "; ".join(f"{p.label}: {_lower_first(p.deadline.label_vi)}" for p in phases)
    if not known:
        return Deadline(raw=raw, kind=DeadlineKind.UNKNOWN, label_vi=label, phases=phases)
    return Deadline(raw=raw, kind=DeadlineKind.PHASED, start=min(d.start for d in known if d.start),
                    end=max((d.end for d in known if d.end), default=None), label_vi=label, phases=phases)


def _parse_simple(text: str, raw: str, year: int, end_year: int | None) -> Deadline:
    t = _normalise(fold(text))
    plan_start, plan_end = _year_span(year, end_year)
    period = f"năm {year}" if not end_year or end_year == year else f"giai đoạn {year}–{end_year}"

    def make(kind: DeadlineKind, start: date | None, end: date | None, label: str, **kw) -> Deadline:
        return Deadline(raw=raw, kind=kind, start=start, end=end, label_vi=label, **kw)

    if _OTHER_DOC_RE.match(t):
        num = _DOC_NUMBER_RE.search(text)
        ref = re.sub(r"^[Tt]heo\s+", "", text).strip()
        label = f"Theo {ref}" if ref else text
        return make(DeadlineKind.BY_OTHER_PLAN, plan_start, plan_end, label,
                    reference=(num["num"] if num else ref))
    if _REPORT_RE.search(t):
        day = re.search(r"\bngay\s*(\d{1,2})\b", t)
        label = (f"Trước ngày {day[1]} của mỗi kỳ báo cáo ({period})" if day
                 else f"Theo kỳ báo cáo ({period})")
        return make(DeadlineKind.REPORTING_CYCLE, plan_start, plan_end, label)
    if _QUARTERS_AND_YEAR_RE.search(t):
        y = _following_year(t, 0) or year
        quarters = re.search(rf"\bquy\s*({_NUM}(?:\s*,\s*{_NUM})+)", t)
        assert quarters is not None  # _QUARTERS_AND_YEAR_RE matched this very list
        qs = quarters[1]
        nums = ", ".join(_ROMAN_OUT[_ROMAN[q]] for q in re.findall(_NUM, qs))
        a, b = _year_span(y)
        return make(DeadlineKind.QUARTERLY, a, b, f"Hằng quý (quý {nums}) và cả năm {y}")
    if _MONTHLY_RE.search(t):
        return make(DeadlineKind.MONTHLY, plan_start, plan_end, f"Hằng tháng ({period})")
    if _QUARTERLY_RE.search(t):
        return make(DeadlineKind.QUARTERLY, plan_start, plan_end, f"Hằng quý ({period})")

    spans = _spans(t, year)
    dates = [s for s in spans if s.kind is DeadlineKind.BY_DATE]
    if dates:
        d = dates[-1].end
        before = _BEFORE_RE.search(t[:dates[-1].pos])
        if len(dates) >= 2 and re.search(r"\b(den|toi)\b", t):
            a = dates[0].start
            return make(DeadlineKind.RANGE, a, d, f"Từ {a:%d/%m/%Y} đến {d:%d/%m/%Y}")
        if before:
            a = date(min(year, d.year), 1, 1)
            return make(DeadlineKind.BY_DATE, min(a, d), d, f"Trước ngày {d:%d/%m/%Y}")
        return make(DeadlineKind.BY_DATE, d, d, f"Ngày {d:%d/%m/%Y}")
    combined = _combine(spans, t)
    if combined:
        kind, a, b, label = combined
        if kind is DeadlineKind.BY_YEAR and _RECURRING_RE.search(t):
            return make(DeadlineKind.RECURRING, a, b, f"Thường xuyên (năm {a.year})")
        return make(kind, a, b, label)
    if _RECURRING_RE.search(t):
        return make(DeadlineKind.RECURRING, plan_start, plan_end, f"Thường xuyên ({period})")
    if _WHOLE_YEAR_RE.search(t):
        return make(DeadlineKind.BY_YEAR, plan_start, plan_end, f"Cả {period}")
    return make(DeadlineKind.UNKNOWN, None, None, text)


def _normalise(t: str) -> str:
    """Repair spellings the folded text still carries: 'qui' for 'quy', glued digits, stray dots."""
    t = re.sub(r"\bq(?:u|ú)i\b", "quy", t)
    t = re.sub(r"\bquy(?=[ivx\d])", "quy ", t)
    t = re.sub(r"\bnam(?=\d{4})", "nam ", t)
    t = re.sub(r"\bthang(?=\d)", "thang ", t)
    t = re.sub(r"\bhang\s+thang\b", "hang thang", t)
    t = t.replace("hằng", "hang")
    t = re.sub(r"[.;]+$", "", t).strip()
    return t


# --------------------------------------------------------------------------- user periods

def parse_period(text: str, default_year: int | None = None) -> tuple[date, date] | None:
    """A user's period ("quý 1/2024", "quy I 2024", "2024-Q1", "tháng 3/2024", "năm 2021", "quy 4")
    as a closed date range, or None when the text names no period.

    The period may sit inside a longer question ("phòng nội vụ phải làm gì trong quý IV/2021"); a
    period without a year takes `default_year`, or this year when that is None. Recurring words
    ("thường xuyên") are not periods here: a user filtering by time means a calendar span.
    """
    if not text or not text.strip():
        return None
    year = default_year or date.today().year
    t = _normalise(fold(text))
    spans = _spans(t, year)
    if spans:
        if len(spans) >= 2:
            combined = _combine(spans, t)
            if combined and combined[0] is DeadlineKind.RANGE:
                return combined[1], combined[2]
        # the most specific span wins: "tháng 3 năm 2024" names a month, not the year
        order = {DeadlineKind.BY_DATE: 0, DeadlineKind.BY_MONTH: 1, DeadlineKind.BY_QUARTER: 2,
                 DeadlineKind.RANGE: 3, DeadlineKind.BY_YEAR: 4}
        best = min(spans, key=lambda s: order.get(s.kind, 9))
        return best.start, best.end
    if re.search(r"\b(ca nam|nam nay|trong nam)\b", t):
        return _year_span(year)
    return None


def deadline_overlaps(d: Deadline, start: date, end: date) -> bool:
    """Whether a task with deadline `d` falls in [start, end]; deadlines without dates never do."""
    if d.start is None or d.end is None:
        return False
    return d.start <= end and d.end >= start
