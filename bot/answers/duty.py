"""Duty answers for staff: the tasks an office leads or supports, filtered by plan and period."""
from __future__ import annotations

from collections import defaultdict

from bot.types import Citation, Reply
from knowledge.duties import TaskView, find_tasks
from knowledge.plans import get_plan, load_plans
from knowledge.store import session_scope

MAX_LISTED = 25  # a complete list matters more than brevity; channels split long replies
BRIEF_ABOVE = 8  # longer lists drop the product line


def office_name(office_id: str) -> str:
    from knowledge.offices import load_offices

    office = load_offices().get(office_id)
    return office.name if office is not None else office_id


def tasks_for(office_ids: list[str], plan_ids: list[str], period, url: str | None = None) -> list[TaskView]:
    with session_scope(url) as session:
        return find_tasks(session, office_ids=office_ids, plan_ids=plan_ids or None, period=period,
                          origin="table" if period else None)


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
        plan = get_plan(plan_id)
        lines.append(f"• {plan.meta.short_name}: {len(items)} nhiệm vụ")
        suggestions.append(plan.meta.locality)
    lines.append("Bạn muốn xem nhiệm vụ ở địa phương nào?")
    return Reply(reply="\n".join(lines), intent="clarify", answered=True, suggestions=suggestions)


def task_line(t: TaskView, *, with_offices: bool = True, brief: bool = False) -> str:
    label = f"Nhiệm vụ {t.number}" if t.origin == "table" and t.number else f"Mục {t.number}" if t.number else ""
    head = f"{label}: " if label else ""
    text = t.text if len(t.text) <= 260 else t.text[:257].rsplit(" ", 1)[0] + "…"
    parts = [f"- {head}{text}"]
    if t.product and t.origin == "table" and not brief:
        prod = t.product if len(t.product) <= 160 else t.product[:157].rsplit(" ", 1)[0] + "…"
        parts.append(f"  Sản phẩm: {prod}")
    if with_offices and t.lead:
        parts.append(f"  Chủ trì: {'; '.join(t.lead)}" + (f". Phối hợp: {'; '.join(t.support)}" if t.support else ""))
    if t.deadline_raw:
        parts.append(f"  Thời hạn: {t.deadline_raw}")
    return "\n".join(parts)


def citation_for(t: TaskView) -> Citation:
    return Citation(source=t.plan_id, title=t.plan_title, locator=t.locator)


def duty_reply(office_ids: list[str], tasks: list[TaskView], period_text: str | None) -> Reply:
    """List an office's tasks (lead first, then support), grouped by plan."""
    names = []
    for oid in office_ids:
        name = office_name(oid)
        if name not in names:
            names.append(name)
    label = ", ".join(names[:3])
    lead = [t for t in tasks if t.role == "lead"]
    support = [t for t in tasks if t.role == "support"]
    plan_names = sorted({get_plan(t.plan_id).meta.short_name for t in tasks})
    scope = f" trong {period_text}" if period_text else ""
    lines = [f"{label} — {'; '.join(plan_names)}{scope}:"]
    brief = len(lead) + len(support) > BRIEF_ABOVE
    if lead:
        lines.append(f"Chủ trì {len(lead)} nhiệm vụ:")
        lines += [task_line(t, with_offices=False, brief=brief) for t in lead[:MAX_LISTED]]
        if len(lead) > MAX_LISTED:
            lines.append(f"… và {len(lead) - MAX_LISTED} nhiệm vụ khác.")
    if support:
        lines.append(f"Phối hợp {len(support)} nhiệm vụ:")
        lines += [task_line(t, brief=brief) for t in support[:MAX_LISTED // 2]]
        if len(support) > MAX_LISTED // 2:
            lines.append(f"… và {len(support) - MAX_LISTED // 2} nhiệm vụ phối hợp khác.")
    shown = lead[:MAX_LISTED] + support[:MAX_LISTED // 2]
    return Reply(reply="\n".join(lines), intent="duty", answered=True,
                 citations=[citation_for(t) for t in shown][:20],
                 suggestions=_suggestions(period_text))


def _suggestions(period_text: str | None) -> list[str]:
    if period_text:
        return ["Cả năm thì sao?", "Những nhiệm vụ phối hợp?"]
    return ["Trong quý I thì sao?", "Những nhiệm vụ thường xuyên?"]


def all_plan_ids() -> list[str]:
    return [p.id for p in load_plans()]
