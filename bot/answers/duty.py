"""Duty answers for staff: the tasks an office leads or supports, filtered by plan and period."""
from __future__ import annotations

import re
import threading
import time
from collections import defaultdict
from datetime import date
from itertools import pairwise

from bot.types import Citation, Reply
from db import session_scope
from knowledge.duties import TaskView, find_tasks
from knowledge.plans import load_plans, plan_of
from vntext import fold

MAX_LISTED = 25  # a complete list matters more than brevity; channels split long replies
BRIEF_ABOVE = 8  # longer lists drop the product line


def office_name(office_id: str) -> str:
    from knowledge.offices import load_offices

    office = load_offices().get(office_id)
    return office.name if office is not None else office_id


# Duty lookups repeat (every staff member of an office asks about the same tasks) and the task
# tables change only when `knowledge build` runs: a short-lived cache takes the ORM load off most
# answers (it was the largest single cost of a chat answer under load); a rebuild shows within a minute.
_TASKS_TTL_S = 60.0
_TASKS_CACHE: dict[tuple, tuple[float, list[TaskView]]] = {}
_TASKS_LOCK = threading.Lock()


def tasks_for(office_ids: list[str], plan_ids: list[str], period, url: str | None = None) -> list[TaskView]:
    key = (url, tuple(office_ids), tuple(plan_ids or ()), period)
    now = time.monotonic()
    with _TASKS_LOCK:
        hit = _TASKS_CACHE.get(key)
    if hit is not None and now - hit[0] < _TASKS_TTL_S:
        return list(hit[1])
    with session_scope(url) as session:
        tasks = find_tasks(session, office_ids=office_ids, plan_ids=plan_ids or None, period=period)
    with _TASKS_LOCK:
        if len(_TASKS_CACHE) >= 512:
            _TASKS_CACHE.clear()
        _TASKS_CACHE[key] = (now, tasks)
    return list(tasks)


def localities_of(tasks: list[TaskView]) -> list[str]:
    seen: list[str] = []
    for t in tasks:
        if t.locality not in seen:
            seen.append(t.locality)
    return seen


def clarify_locality(office_label: str, tasks: list[TaskView]) -> Reply:
    """Several plans assign duties to an office of this name: ask which locality, showing the counts."""
    by_plan: dict[str, list[TaskView]] = defaultdict(list)
    for t in tasks:
        by_plan[t.plan_id].append(t)
    lines = [f"“{office_label}” có nhiệm vụ trong {len(by_plan)} kế hoạch của các địa phương khác nhau:"]
    suggestions = []
    for plan_id, items in by_plan.items():
        plan = plan_of(plan_id)
        lines.append(f"• {plan.meta.short_name}: {len(items)} nhiệm vụ")
        suggestions.append(plan.meta.locality)
    lines.append("Bạn muốn xem nhiệm vụ ở địa phương nào?")
    return Reply(reply="\n".join(lines), intent="clarify", answered=True, suggestions=suggestions)


def task_line(t: TaskView, *, with_lead: bool = True, brief: bool = False) -> str:
    """One task: what, product (unless brief), who leads and who supports, deadline.

    In the list of tasks an office leads (`with_lead=False`) the lead is that office and goes
    unsaid, but the supporting offices stay: they are who the office must work with."""
    label = f"Nhiệm vụ {t.number}" if t.origin == "table" and t.number else f"Mục {t.number}" if t.number else ""
    head = f"{label}: " if label else ""
    limit = 220 if brief else 600
    text = t.text if len(t.text) <= limit else t.text[:limit - 3].rsplit(" ", 1)[0] + "…"
    parts = [f"- {head}{text}"]
    if t.product and t.origin == "table" and not brief:
        prod = t.product if len(t.product) <= 320 else t.product[:317].rsplit(" ", 1)[0] + "…"
        parts.append(f"  Sản phẩm: {prod}")
    if with_lead and t.lead:
        parts.append(f"  Chủ trì: {'; '.join(t.lead)}" + (f". Phối hợp: {'; '.join(t.support)}" if t.support else ""))
    elif t.support:
        parts.append(f"  Phối hợp: {'; '.join(t.support)}")
    if t.deadline_raw:
        parts.append(f"  Thời hạn: {t.deadline_raw}")
    return "\n".join(parts)


def citation_for(t: TaskView) -> Citation:
    return Citation(source=t.plan_id, title=t.plan_title, locator=t.locator)


def due_within(t: TaskView, period: tuple[date, date] | None) -> bool:
    """The task's deadline falls inside the period (not a year-long or recurring task that merely
    overlaps it)."""
    return bool(period and t.deadline_start and t.deadline_end
                and t.deadline_start >= period[0] and t.deadline_end <= period[1])


def count_line(lead: list[TaskView], support: list[TaskView], role_asked: str | None = None) -> str:
    """"Tổng cộng 30 nhiệm vụ: chủ trì 21 nhiệm vụ, phối hợp 9 nhiệm vụ." — both counts always (a
    zero is an answer too), the role the question asks about first. Where an office's duties come
    both from the plan's task table (phụ lục) and from its prose (tổ chức thực hiện), each count says
    how many come from where: staff asking "trong phụ lục" count table rows only."""
    def counted(tasks: list[TaskView]) -> str:
        table = sum(t.origin == "table" for t in tasks)
        if 0 < table < len(tasks):
            return (f"{len(tasks)} nhiệm vụ ({table} trong bảng phân công ở phụ lục, "
                    f"{len(tasks) - table} trong phần tổ chức thực hiện)")
        return f"{len(tasks)} nhiệm vụ"

    parts = [f"chủ trì {counted(lead)}", f"phối hợp {counted(support)}"]
    if role_asked == "support":
        parts.reverse()
    return f"Tổng cộng {len(lead) + len(support)} nhiệm vụ: {'; '.join(parts)}."


def duty_reply(office_ids: list[str], tasks: list[TaskView], period_text: str | None,
               period: tuple[date, date] | None = None, *, counts: bool = False,
               role_asked: str | None = None) -> Reply:
    """List an office's tasks (lead first, then support), grouped by plan; with a period, the
    lead count says how many fall due in it and how many run through it (recurring, all year).
    A question that counts them (`counts`: "bao nhiêu nhiệm vụ phối hợp") gets both counts first."""
    names = []
    involved = {o for t in tasks for o in (*t.lead_ids, *t.support_ids)}
    for oid in [o for o in office_ids if o in involved] or office_ids:
        name = office_name(oid)
        if name not in names:
            names.append(name)
    label = ", ".join(names[:3])
    lead = [t for t in tasks if t.role == "lead"]
    support = [t for t in tasks if t.role == "support"]
    plan_names = sorted({plan_of(t.plan_id).meta.short_name for t in tasks})
    scope = f" trong {period_text}" if period_text else ""
    lines = [f"{label} — {'; '.join(plan_names)}{scope}:"]
    brief = len(lead) + len(support) > BRIEF_ABOVE
    if counts:
        lines.append(count_line(lead, support, role_asked))
    due = sum(due_within(t, period) for t in lead)
    if lead and period and due < len(lead):
        due_text = f"{due} đến hạn trong {period_text}" if due else f"không nhiệm vụ nào đến hạn riêng trong {period_text}"
        lines.append(f"Chủ trì {len(lead)} nhiệm vụ ({due_text}; {len(lead) - due} có thời hạn dài hơn, gồm cả "
                     f"{period_text}: thường xuyên, nhiều quý hoặc cả năm):")
    elif lead:
        lines.append(f"Chủ trì {len(lead)} nhiệm vụ:")
    if lead:
        lines += [task_line(t, with_lead=False, brief=brief) for t in lead[:MAX_LISTED]]
        if len(lead) > MAX_LISTED:
            lines.append(f"… và {len(lead) - MAX_LISTED} nhiệm vụ khác.")
    if support:
        lines.append(f"Phối hợp {len(support)} nhiệm vụ:")
        lines += [task_line(t, brief=brief) for t in support[:MAX_LISTED // 2]]
        if len(support) > MAX_LISTED // 2:
            lines.append(f"… và {len(support) - MAX_LISTED // 2} nhiệm vụ phối hợp khác.")
    mentioned = [t for t in tasks if t.role == "mentioned"]
    if mentioned:
        lines.append(f"Được nhắc đến trong {len(mentioned)} nhiệm vụ khác:")
        lines += [task_line(t, brief=False) for t in mentioned[:5]]
    shown = lead[:MAX_LISTED] + support[:MAX_LISTED // 2] + mentioned[:5]
    return Reply(reply="\n".join(lines), intent="duty", answered=True,
                 citations=[citation_for(t) for t in shown][:20],
                 suggestions=_suggestions(period_text))


def _suggestions(period_text: str | None) -> list[str]:
    if period_text:
        return ["Cả năm thì sao?", "Những nhiệm vụ phối hợp?"]
    return ["Trong quý I thì sao?", "Những nhiệm vụ thường xuyên?"]


def all_plan_ids() -> list[str]:
    return [p.id for p in load_plans()]


def is_group(office_id: str) -> bool:
    from knowledge.offices import load_offices

    office = load_offices().get(office_id)
    return office is not None and office.kind == "group"


def related_offices(office_ids: list[str]) -> list[str]:
    """The offices plus their predecessors and successors (a duty moves with the body)."""
    from knowledge.offices import load_offices

    directory = load_offices()
    out = set(office_ids)
    for oid in office_ids:
        out.update(o.id for o in directory.chain(oid))
    for office in directory.all():
        if any(o.id in office_ids for o in directory.chain(office.id)):
            out.add(office.id)
    return sorted(out)


_LOCALITY_TAIL = re.compile(r"\s+(tinh|thanh pho|thi xa|huyen|tp|tx)\b.*$")


def short_names(office_ids: list[str]) -> list[str]:
    """Folded office names without their locality ("so noi vu"), and their aliases."""
    from knowledge.offices import load_offices

    directory = load_offices()
    names: set[str] = set()
    for oid in office_ids:
        office = directory.get(oid)
        if office is None:
            continue
        for name in (office.name, *office.aliases):
            short = _LOCALITY_TAIL.sub("", fold(name)).strip()
            if len(short.split()) >= 2:
                names.add(short)
    return sorted(names)


# "việc gì phải làm hàng tháng": the cadence asked for, the deadline kind that states it, and the
# words a deadline or a task text uses for it.
CADENCES = {
    "monthly": ("monthly", re.compile(r"\b(hang|moi) thang\b")),
    "quarterly": ("quarterly", re.compile(r"\b(hang|moi|tung) quy\b")),
    "yearly": (None, re.compile(r"\b(hang|moi) nam\b")),
}


def cadence_asked(folded: str) -> str | None:
    """"monthly", "quarterly" or "yearly" when the question names one, else None."""
    return next((name for name, (_, rx) in CADENCES.items() if rx.search(folded)), None)


def filter_by_topic(tasks: list[TaskView], topic_terms: list[str], recurring: bool,
                    cadence: str | None = None) -> list[TaskView]:
    """Keep the tasks about the topic the person named (and recurring ones if asked), best first.

    The topic is matched as syllable pairs ("bộ máy", "kiểm soát"), since single Vietnamese
    syllables are too ambiguous ("đoạn" and "đoàn" fold alike). With no topic, or when nothing
    matches it, every task stays: a filter that empties the list would hide duties.
    """
    from bot.text import terms

    kept = tasks
    if recurring:
        rec = [t for t in tasks if t.deadline_kind in ("recurring", "monthly", "quarterly", "reporting_cycle")
               or re.search(r"thuong xuyen|hang (thang|nam|quy)|dinh ky", fold(t.text))]
        kept = rec or tasks
    if cadence in CADENCES:
        # "hàng tháng" asks for the monthly ones, not every recurring task; none → all recurring.
        kind, rx = CADENCES[cadence]
        exact = [t for t in kept if (kind and t.deadline_kind == kind)
                 or rx.search(fold(f"{t.deadline_raw or ''} {t.text} {t.product or ''}"))]
        kept = exact or kept
    pairs = {f"{a} {b}" for a, b in pairwise(topic_terms)}
    if pairs:
        scored = []
        for t in kept:
            words = terms(f"{t.text} {t.product or ''} {t.section}")
            have = {f"{a} {b}" for a, b in pairwise(words)}
            hits = len(pairs & have)
            if hits:
                scored.append((hits, t))
        if scored:
            best = max(h for h, _ in scored)
            on_topic = [t for h, t in sorted(scored, key=lambda x: -x[0]) if h >= max(1, best // 2)]
            # Tasks on the topic come first; the others follow, so nothing the office owns is hidden.
            kept = on_topic + [t for t in kept if t not in on_topic]
    return kept


def mentioned_in(office_ids: list[str], plan_ids: list[str], exclude: set[str], url: str | None) -> list[TaskView]:
    """Tasks of the plans in scope whose text or product names the office without assigning it."""
    names = short_names(office_ids)
    if not names:
        return []
    with session_scope(url) as session:
        candidates = find_tasks(session, plan_ids=plan_ids or None, origin="table")
    out = []
    for t in candidates:
        if t.id in exclude:
            continue
        body = fold(f"{t.text} {t.product or ''}")
        if any(n in body for n in names):
            out.append(t.model_copy(update={"role": "mentioned"}))
    return out
