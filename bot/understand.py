"""What the person wants: intent and slots, read from the message and the conversation state.

Rules over the folded text (no diacritics, lower case) so "phong noi vu lam gi" and
"Phòng Nội vụ làm gì?" read the same. Retrieval decides between a plan and a procedure question
when the words alone don't (see `service.py`); this module only reads the message.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date
from functools import lru_cache
from pathlib import Path

import yaml

from bot.dialogue import Intent
from knowledge.dialogue_lexicon import DialogueLexicon, dialogue_lexicon
from knowledge.plans import load_plans
from knowledge.procedures import field_lexicon, lexicon_fields
from vntext import fold

GREETING = re.compile(r"^(xin chao|chao|hello|hi|alo|helo|/start|/help|help|tro giup|huong dan|ban la ai|"
                      r"ban lam duoc gi|ban giup duoc gi|chao ban|chao bot)\b")
THANKS = re.compile(r"^(cam on|thank|thanks|ok cam on|cam on ban)\b")
# "PA-2612-7KQ3M-4XW2P", "pa26127kq3m4xw2p", "PA 2612 7KQ3M 4XW2P", "PA–2612–7KQ3M–4XW2P" (a phone
# keyboard's dash); codes issued before 12/2026 have one group: "PA-2611-7KQ3M".
PAKN_CODE = re.compile(r"\bPA[\s\-–—]?\d{4}[\s\-–—]?[0-9A-Z]{5}(?:[\s\-–—]?[0-9A-Z]{5})?\b", re.IGNORECASE)
# "tra cứu phản ánh của tôi", "đơn của em tới đâu rồi": the person's own petitions, no code given.
MY_PETITIONS = re.compile(r"\b(tra cuu|kiem tra|xem|theo doi|hoi)\b.*\b(phan anh|kien nghi|pakn|don|ho so)\b.*"
                          r"\b(cua (toi|minh|em|tui|mik)|da gui)\b|\b(phan anh|don) cua (toi|minh|em) (sao roi|toi dau|"
                          r"the nao|xu ly chua)")
_SUBJECT = r"(toi|tui|minh|mik|em|e|chung toi|chung em|nguoi dan|gia dinh toi|ba con)"
_ACT = r"((gui|nop|lam|viet)\s+((don|thu|y kien)\s+)?)"
_WHAT = r"(?P<what>phan anh|kien nghi|gop y|khieu nai|to cao|pakn)"
# A person starting a petition: "tôi muốn phản ánh …", "em mún phản ánh", "cho em phản ánh cái này",
# "tôi cần gửi đơn tố cáo", "xin phép phản ánh về …", "ad ơi cho e phản ánh", "gửi phản ánh".
PAKN_TRIGGER = re.compile(
    r"\b" + _SUBJECT + r"\s+((muon|mun|can|xin|xin phep|se|dang|co|dinh|phai)\s+)*" + _ACT + r"?" + _WHAT + r"\b|"
    r"^((ad|admin|anh|chi|ban)\s+oi\s*,?\s+)?((xin phep|xin|cho)\s+(" + _SUBJECT + r"\s+)?)?" + _ACT + r"?"
    + _WHAT.replace("?P<what>", "?P<what2>") + r"\b")
# "phản ánh kiến nghị thì gửi ở đâu?", "khiếu nại … thì làm thế nào": a question about petitioning
# (or about something else, after "góp ý:"), not a petition.
PAKN_QUESTION = re.compile(r"\b(thi|phai|can|de)\s+(gui|nop|lam)\b.*\b(o dau|dau|the nao|nhu the nao|sao|gi)\b|"
                           r"\b(the nao|nhu the nao|lam sao|o dau|cach nao|bao lau|duoc khong|dc ko|duoc ko)"
                           r"(\s+(vay|a|ad|nhi|ha|nhe))*\s*\??$")
# First person and a wish to act: a petition even when the text also names a plan topic ("một cửa").
PAKN_FIRST_PERSON = re.compile(r"\b" + _SUBJECT + r"\s+((muon|mun|can|xin|xin phep|dinh)\s+)+" + _ACT + r"?"
                               r"(phan anh|kien nghi|gop y|khieu nai|to cao)\b")
DUTY_WORDS = re.compile(r"\b(nhiem vu|phai lam|lam gi|lam nhung gi|chu tri|phoi hop|duoc giao|phan cong|"
                        r"trach nhiem|cong viec|viec gi|nhung viec|can lam|dam nhan|phu trach|phai ban hanh|"
                        r"phai thuc hien|phai trien khai|nhung gi|nhung ke hoach gi)\b|"
                        r"(?<!\bso )(?<!\bphong )(?<!\bp )\bnv\b")  # "nv" = nhiệm vụ, except in "Sở/Phòng NV"
# "who / which office / when / how much": the person asks about a task, not for an office's duty list.
ASKS_WHICH = re.compile(r"\b(ai|co quan nao|don vi nao|noi nao|khi nao|luc nao|thoi gian nao|bao gio|bao nhieu|"
                        r"may|ngay nao|thang nao|quy nao|nam nao|the nao|ra sao|gi khong)\b")
PLAN_KIND_WORDS = re.compile(r"\bke hoach kiem tra\b|\bde cuong\b|\bdoan kiem tra\b")
RECURRING_WORDS = re.compile(r"\b(thuong xuyen|hang thang|hang nam|hang quy|dinh ky)\b")
FOLLOW_UP = re.compile(r"^(con|the con|vay con|con lai|con voi|the|vay|con o|con cua)\b|\bthi sao\b|\bthe nao\b$")
PLAN_WORDS = re.compile(r"\b(ke hoach|cchc|cai cach hanh chinh|nhiem vu|chi so|chi tieu|muc tieu|kiem tra cong tac|"
                        r"kinh phi|quyet dinh so|ty le|phan dau|par index|sipas|chuyen doi so|chinh quyen (dien tu|so)|"
                        r"tinh gian|bien che|one stop|mot cua|tuyen truyen|hai long)\b")
TASK_NUMBER = re.compile(r"\bnhiem vu\s*(?:so|thu|stt)?\s*(\d{1,2})\b")
YEAR = re.compile(r"\b(20\d\d)\b")
FIELD_WORDS: list[tuple[str, re.Pattern]] = [
    # Bare "thue" is also "thuê" (rent: "thuê trọ") once accents are gone; tax is asked with a verb or a kind.
    # "gia" is a price, but not in "gia hạn" (extend), "gia đình", "giá trị" (validity).
    ("fee", re.compile(r"\b(le phi|phi|bao nhieu tien|bn tien|ton bao nhieu|mat bao nhieu tien|chi phi|tien|mien phi|"
                       r"gia(?! (han|dinh|canh|tri|tang|su|ha))|(dong|nop|chiu|mat|tinh|phai) thue|thue (tncn|thu nhap|truoc ba|gtgt|dat)|khoan phi|"
                       r"muc tro cap|duoc bao nhieu)\b")),
    ("result", re.compile(r"\b(gia tri (bao lau|trong bao lau|may thang|den khi nao)|hieu luc|duoc cap gi|"
                          r"nhan duoc gi|ket qua)\b")),
    ("time", re.compile(r"\b(bao lau|mat bao lau|thoi han|may ngay|bao nhieu ngay|khi nao co|thoi gian giai quyet|"
                        r"lau khong|trong ngay|bao gio|lay ngay|co ngay|lam ngay)\b")),
    ("body", re.compile(r"\b(ai (quyet dinh|giai quyet|cap|ky|duyet|xet)|co quan nao (giai quyet|cap|quyet dinh)|"
                        r"tham quyen|xa hay huyen|huyen hay xa|cap nao)\b")),
    ("documents", re.compile(r"\b(giay to|(?<!nop )ho so|can gi|can nhung gi|mang theo|chuan bi|thanh phan|can mang|"
                             r"giay gi|nhung giay|(co can|can co|phai co|co phai nop) (giay|ban|so|the|to))\b")),
    ("online", re.compile(r"\b(online|truc tuyen|qua mang|tren mang|dich vu cong|dvc|dvctt|vneid|tai nha)\b")),
    ("place", re.compile(r"\b(o dau|noi nao|cho nao|nop o|lam o|co quan nao|dia chi|den dau|di dau|xa nao|"
                         r"tham quyen|noi nop)\b")),
    ("steps", re.compile(r"\b(cac buoc|trinh tu|quy trinh|thu tuc nhu the nao|lam the nao|lam sao|cach lam|"
                         r"nhu the nao)\b")),
    ("legal_basis", re.compile(r"\b(can cu|van ban nao|luat nao|nghi dinh|thong tu|quy dinh nao|co so phap ly)\b")),
]
# Chat filler and question shape around a procedure question: never what the question is about.
FILLER = frozenset(
    ["a", "ad", "ak", "ah", "ba", "ban", "be", "cho", "chi", "co", "con", "dc", "duoc", "em", "gi", "giup", "hoi", "ho", "khi", "khong", "ko", "k", "kg", "la", "lam", "minh", "muon", "nao", "nhe", "nha", "nhi", "oi", "roi", "sao", "the", "thi", "toi", "tui", "vay", "voi", "xin", "ma", "nhieu", "may", "mot", "bn", "hok", "hong", "hem", "chut", "duoc", "ko", "di"])


def procedure_subject(folded: str) -> list[str]:
    """The words a procedure question is about, once the field it asks for ("lệ phí", "mất bao
    lâu", "cần giấy tờ gì"), follow-up words and chat filler are taken out: "còn lệ phí?" → [],
    "làm hộ chiếu phổ thông hết bao nhiêu tiền" → ["ho", "chieu", "pho", "thong", "het"]."""
    rest = FOLLOW_UP.sub(" ", folded)
    for entry in field_lexicon().values():
        rest = entry.strip(rest)
    for _name, rx in FIELD_WORDS:
        rest = rx.sub(" ", rest)
    return [w for w in re.findall(r"[a-z0-9]+", rest) if w not in FILLER]


# "kế hoạch CCHC năm 2019": a question about a plan of a given year.
PLAN_OF_YEAR = re.compile(r"\bke hoach (cchc|cai cach hanh chinh|kiem tra)\w*(\s+\w+){0,3}?\s+(nam\s+)?(19|20)\d\d\b")
INJECTION = re.compile(r"\b(bo qua|ignore|quen) .*(huong dan|chi dan|instruction|quy tac)|\bbia (ra )?(mot|1|so)|"
                       r"\bhay bia\b|\bgia vo\b|\bjailbreak\b")


@dataclass(frozen=True)
class Understanding:
    """Intent and slots of one message. Frozen: what later steps add (typos mended, a follow-up
    filled in from the last turn) is a new Understanding (`dataclasses.replace`), never an edit."""

    text: str
    folded: str
    intent: Intent = Intent.UNKNOWN
    fields: list[str] = field(default_factory=list)
    task_number: str | None = None
    years: list[int] = field(default_factory=list)
    period: tuple[date, date] | None = None
    period_text: str | None = None
    plan_ids: list[str] = field(default_factory=list)
    unknown_place: str | None = None
    localities: list[str] = field(default_factory=list)
    office_ids: list[str] = field(default_factory=list)
    plan_kind: str | None = None
    context_text: str = ""  # the previous question, for a follow-up that leans on it
    recurring: bool = False
    asks_which: bool = False
    pakn_code: str | None = None
    is_follow_up: bool = False
    out_of_scope: bool = False  # asks for something never answered (knowledge/lexicon/dialogue.yaml)
    off_topic: bool = False  # on a topic usually out of scope; refused only when nothing else is in scope
    injection: bool = False
    has_plan_words: bool = False
    has_duty_words: bool = False
    asks_plan_of_year: bool = False
    # "tại UBND xã", "ở bộ phận một cửa": where the citizen goes (folded), set apart from what is asked
    # unless it is all the message names (then `subject_text` is the message: "ở UBND xã được không").
    where: str | None = None
    # The message without its where-phrase: what names the procedure (the message itself when none).
    subject_text: str = ""
    counts: bool = False  # "bao nhiêu / mấy nhiệm vụ": counts an office's duties
    role_asked: str | None = None  # "lead" | "support" when a count names one role


@lru_cache(maxsize=1)
def _provinces() -> list[dict]:
    path = Path(__file__).resolve().parent.parent / "knowledge" / "lexicon" / "provinces.yaml"
    data = yaml.safe_load(path.read_text(encoding="utf-8"))["provinces"]
    return data


@lru_cache(maxsize=1)
def _plan_places() -> list[tuple[str, list[str]]]:
    """(folded place name, plan ids) for every locality and province the plans cover."""
    places: dict[str, set[str]] = {}
    for plan in load_plans():
        m = plan.meta
        loc = fold(m.locality)
        short = re.sub(r"^(tinh|thanh pho|thi xa|huyen) ", "", loc)
        places.setdefault(loc, set()).add(m.id)
        places.setdefault(short, set()).add(m.id)
        places.setdefault(fold(m.province), set()).add(m.id)
        if loc.startswith("thanh pho "):
            places.setdefault("tp " + short, set()).add(m.id)
        if loc.startswith("thi xa "):
            places.setdefault("tx " + short, set()).add(m.id)
        if loc.startswith("tinh "):
            places.setdefault("tinh " + short, set()).add(m.id)
    return sorted(((k, sorted(v)) for k, v in places.items()), key=lambda kv: -len(kv[0]))


def find_places(folded: str) -> tuple[list[str], list[str], str | None]:
    """(plan localities named, plan ids they cover, a named province the plans don't cover)."""
    plan_ids: set[str] = set()
    names: list[str] = []
    rest = " " + re.sub(r"[^a-z0-9]+", " ", folded) + " "
    for place, ids in _plan_places():
        if f" {place} " in rest:
            # "tinh tay ninh" is the province plan only; bare "tay ninh" covers city and province.
            if place.startswith("tinh "):
                ids = [i for i in ids if any(p.id == i and p.meta.level == "tinh" for p in load_plans())]
            elif place.startswith(("tp ", "thanh pho ")):
                ids = [i for i in ids if any(p.id == i and p.meta.level == "huyen" for p in load_plans())]
            plan_ids.update(ids)
            names.append(place)
            rest = rest.replace(f" {place} ", " ")
    unknown = None
    for prov in _provinces():
        for alias in [prov["name"], *prov.get("aliases", [])]:
            fa = fold(alias)
            if f" {fa} " in rest and not any(fa in n for n in names):
                unknown = prov["name"]
                break
        if unknown:
            break
    return names, sorted(plan_ids), unknown


def _without_where(text: str, folded: str, lexicon: DialogueLexicon) -> tuple[str | None, str]:
    """(the where-phrase, folded; the text without it). "đăng ký khai sinh tại UBND xã cần gì" →
    ("tai ubnd xa", "đăng ký khai sinh cần gì"): the office a citizen goes to is not what is asked.
    When nothing else is named, the text stays whole: the office is then what the message is about."""
    m = lexicon.where(folded)
    if m is None:
        return None, text
    source = text if len(text) == len(folded) else folded  # fold keeps positions unless it merged spaces
    rest = " ".join(f"{source[:m.start()]} {source[m.end():]}".split())
    if not procedure_subject(fold(rest)):
        return m[0], text  # "ở UBND xã có làm được không": the office is all it names; it stays the subject
    return m[0], rest


def _fields_of(folded: str) -> list[str]:
    fields = lexicon_fields(folded, [name for name, rx in FIELD_WORDS if rx.search(folded)])
    if "result" in fields and "gia tri" in folded:
        fields = [f for f in fields if f != "time"]  # "có giá trị bao lâu" asks about the result
    return fields


# Where one ask of a question ends and the next begins: "cần gì, bao nhiêu tiền", "… và mất bao lâu".
_CLAUSE_BREAK = re.compile(r"[,;.?!\n]+|\b(?:va|vs|voi lai|roi)\b")


def read_fields(folded: str, fragment: bool = False) -> list[str]:
    """Every field a question asks for, each of its clauses read on its own too.

    "mất CCCD thì làm lại ntn, bao lâu thì có" asks for the steps and the time: a clause that asks
    for no field by name asks by a bare "how" (`alone` phrases of the lexicon) — except in a
    follow-up fragment (`fragment`: "còn Sở Tư pháp thì thế nào?"), which asks nothing new.
    """
    fields = _fields_of(folded)
    for clause in _CLAUSE_BREAK.split(folded):
        clause = " ".join(clause.split())
        if not clause:
            continue
        own = _fields_of(clause)
        if not own and not fragment:
            own = [name for name, entry in field_lexicon().items() if entry.asked_alone(clause)]
        fields += [f for f in own if f not in fields]
    return fields


def understand(text: str, lexicon: DialogueLexicon | None = None) -> Understanding:
    """Read intent and slots from one message (state is applied later by the service)."""
    lexicon = lexicon or dialogue_lexicon()
    folded = fold(text)
    where, subject_text = _without_where(text, folded, lexicon)
    subject = fold(subject_text)  # what is asked about: offices and plan words are read here
    has_plan_words = bool(PLAN_WORDS.search(subject))
    has_duty_words = bool(DUTY_WORDS.search(folded))
    is_follow_up = bool(FOLLOW_UP.search(folded)) and len(folded.split()) <= 12
    counts = lexicon.counts_duties(folded)
    task_number = m[1] if (m := TASK_NUMBER.search(folded)) else None
    years = sorted({int(y) for y in YEAR.findall(folded)})
    localities, plan_ids, unknown_place = find_places(folded)
    period, period_text = _period(text, folded, years)
    office_ids = _offices(subject_text)
    plan_kind = None
    if PLAN_KIND_WORDS.search(folded):
        inspection = [p for p in (plan_ids or [pl.id for pl in load_plans()])
                      if any(pl.id == p and pl.meta.kind == "ke_hoach_kiem_tra" for pl in load_plans())]
        if inspection:  # otherwise it names an inspection plan that a plan of that place mentions
            plan_kind = "ke_hoach_kiem_tra"
            plan_ids = inspection
    pakn_code = m[0].upper() if (m := PAKN_CODE.search(text)) else None

    intent = Intent.UNKNOWN
    if pakn_code or MY_PETITIONS.search(folded):
        intent = Intent.PAKN_STATUS
    elif GREETING.search(folded) and len(folded.split()) <= 8:
        intent = Intent.GREETING
    elif THANKS.search(folded) and len(folded.split()) <= 6:
        intent = Intent.THANKS
    elif PAKN_TRIGGER.search(folded) and (PAKN_FIRST_PERSON.search(folded) or not has_plan_words):
        intent = Intent.PAKN_QUESTION if PAKN_QUESTION.search(folded) else Intent.PAKN_SUBMIT
    elif office_ids and (has_duty_words or counts) and not task_number and (
            counts or not _asks_about_a_task(folded)):
        intent = Intent.DUTY  # "bao nhiêu nhiệm vụ" counts the office's list; "bao nhiêu" alone asks of a task
    return Understanding(
        text=text, folded=folded, intent=intent, fields=read_fields(folded, fragment=is_follow_up),
        task_number=task_number, years=years, period=period, period_text=period_text, plan_ids=plan_ids,
        unknown_place=unknown_place, localities=localities, office_ids=office_ids, plan_kind=plan_kind,
        recurring=bool(RECURRING_WORDS.search(folded)), asks_which=bool(ASKS_WHICH.search(folded)),
        pakn_code=pakn_code, is_follow_up=is_follow_up, out_of_scope=dialogue_lexicon().out_of_scope_request(folded),
        off_topic=dialogue_lexicon().out_of_scope_topic(folded),
        injection=bool(INJECTION.search(folded)), has_plan_words=has_plan_words, has_duty_words=has_duty_words,
        # "kế hoạch CCHC 2019 của Hoài Nhơn có gì": the plan of that year as a whole
        asks_plan_of_year=bool(PLAN_OF_YEAR.search(folded)) and bool(re.search(
            r"\b(co (\w+ ){0,2}gi|gom (nhung )?gi|noi dung|nhung gi|co bao nhieu|the nao|ra sao)\b", folded)),
        where=where, subject_text=subject_text, counts=counts,
        role_asked=lexicon.role_asked(folded) if counts else None)


def _asks_about_a_task(folded: str) -> bool:
    """"Ai chủ trì …?", "… phối hợp với ai …?", "… khi nào?": a question about one task."""
    return bool(re.search(r"\b(ai|co quan nao|don vi nao)\b", folded)) or bool(
        re.search(r"\b(khi nao|thoi gian nao|bao gio|ngay nao|bao nhieu|so may)\b", folded))


_PERIOD_RX = re.compile(r"\b(quy\s*(?:iv|i{1,3}|[1-4])\b(?:\s*(?:/|nam)\s*\d{4})?|q[1-4]\b(?:\s*/?\s*\d{4})?|"
                        r"thang\s*\d{1,2}\b(?:\s*/\s*\d{4})?|6 thang (?:dau|cuoi) nam(?:\s*\d{4})?)")


def _period(text: str, folded: str, years: list[int]) -> tuple[tuple[date, date] | None, str | None]:
    """A period the person restricts to ("quý II/2024", "từ quý IV/2024 đến quý II/2025", "quý II và III").

    Several mentions are joined into one span from the first start to the last end.
    """
    matches = list(_PERIOD_RX.finditer(folded))
    if not matches:
        return None, None
    try:
        from knowledge.deadlines import parse_period
    except ImportError:  # pragma: no cover
        return None, None
    first, last = matches[0], matches[-1]
    shown = text[first.start():last.end()] if len(text) == len(folded) else folded[first.start():last.end()]
    default_year = years[0] if years else None
    if default_year is None:
        return None, shown  # "quý IV" alone: the plan in scope gives the year
    spans = []
    for m in matches:
        own_year = re.search(r"\d{4}", m[0])
        rng = parse_period(m[0], int(own_year[0]) if own_year else default_year)
        if rng:
            spans.append(rng)
    if not spans:
        return None, shown
    return (min(a for a, _ in spans), max(b for _, b in spans)), shown


def _offices(text: str) -> list[str]:
    try:
        from knowledge.offices import load_offices
    except ImportError:  # pragma: no cover
        return []
    directory = load_offices()
    matches = directory.find_offices_in_text(text, province=None, locality=None)
    ids: list[str] = []
    for m in matches:
        office = directory.get(m.office_id)
        if office is not None and office.kind == "group" and len(m.mention.split()) < 3:
            continue  # "cơ quan nào" asks a question; it does not name the group "các cơ quan liên quan"
        # An ambiguous name ("Văn phòng UBND") keeps every equally good body; the plans in scope
        # (or a clarification question) decide which one is meant.
        for oid in (m.office_id, *m.alternatives):
            if oid not in ids:
                ids.append(oid)
    return ids
