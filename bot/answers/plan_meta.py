"""Facts about a plan itself — who signed it, its number and date, how many tasks — from metadata.

These are answered from each plan's metadata file, not from retrieved text, so they are exact; a
question that could mean several plans is answered for each, naming its locality.
"""
from __future__ import annotations

import re

from bot.types import Citation, Reply
from knowledge.plans import Plan, load_plans

# The plan the question is about must be the plan itself, not a plan it cites
# ("kế hoạch tuyên truyền … số mấy" is answered from the text, not from metadata).
ABOUT_THE_PLAN = re.compile(r"\b(ke hoach (cchc|cai cach hanh chinh|thuc hien (cchc|cai cach hanh chinh)|kiem tra"
                            r"(?! ra soat))|kh (cchc|cai cach hanh chinh)|quyet dinh ban hanh ke hoach|"
                            r"(qd|quyet dinh) \d+ ban hanh (ke hoach|kh))\b")
SIGNER = re.compile(r"\b(ai ky|nguoi ky|do ai ky|ky boi|ai la nguoi ky|ky ban hanh)\b")
NUMBER = re.compile(r"\b(so may|so hieu|so bao nhieu|quyet dinh so|quyet dinh nao|ke hoach so|van ban so)\b")
# "ngày nào" asks when the plan was issued, but not "(hoàn thành / báo cáo) trước ngày nào": a deadline in it.
DATE = re.compile(r"\b(?<!truoc )(?<!den )(?<!han )ngay nao\b|\b(ban hanh ngay|ngay ban hanh|ban hanh khi nao|"
                  r"ban hanh vao)\b")
COUNT = re.compile(r"\b(bao nhieu nhiem vu|may nhiem vu|tong (so|cong) .*nhiem vu|co bao nhieu .*nhiem vu)\b")


def facts_asked(folded: str) -> list[str]:
    """The metadata facts a question names ("… ký ngày nào, ai ký" → date and signer), in order."""
    return [name for name, rx in (("count", COUNT), ("signer", SIGNER), ("number", NUMBER), ("date", DATE))
            if rx.search(folded)]


def wants(folded: str) -> str | None:
    """Which metadata fact(s) the question asks for ("signer", "date+signer"), if it asks about a
    plan as a document."""
    if not ABOUT_THE_PLAN.search(folded) or re.search(r"\bto trinh\b|\bcan cu\b", folded):
        return None
    # A question about another document the plan cites ("chương trình hành động số mấy").
    if re.search(r"\b(chuong trinh|van ban|cong van|nghi quyet|chi thi|ket luan|de an|nhiem vu chung)\b", folded):
        return None
    return "+".join(facts_asked(folded)) or None


def wants_again(folded: str, last: str | None) -> str | None:
    """A follow-up to a metadata answer ("còn kế hoạch của Ngã Năm thì ai ký?", "còn Hoài Nhơn?"):
    the facts it names, else the facts asked last time."""
    if not last:
        return None
    return "+".join(facts_asked(folded)) or last


def scope(plan_ids: list[str], folded: str, years: list[int], plan_kind: str | None) -> list[Plan]:
    plans = [p for p in load_plans() if not plan_ids or p.id in plan_ids]
    if plan_kind:
        plans = [p for p in plans if p.meta.kind == plan_kind]
    elif re.search(r"\bke hoach kiem tra\b", folded):
        return []  # an inspection plan the plans of that place only mention: not our document
    else:
        plans = [p for p in plans if p.meta.kind == "ke_hoach_cchc"] or plans
    if years:
        plans = [p for p in plans if any(p.meta.period_start <= y <= p.meta.period_end for y in years)]
    if re.search(r"\bthi xa\b|\btx\b", folded):
        plans = [p for p in plans if p.meta.locality.lower().startswith("thị xã")] or plans
    elif re.search(r"\btinh\b", folded) and not re.search(r"\b(thanh pho|tp)\b", folded):
        plans = [p for p in plans if p.meta.level == "tinh"] or plans
    return plans


def _date(p: Plan) -> str:
    m = p.meta
    return m.decision_date.strftime("%d/%m/%Y") if m.decision_date else (m.decision_date_text or "không ghi ngày")


def fact(p: Plan, what: str) -> str:
    """One fact ("signer"), or several joined by "+" ("date+signer")."""
    if "+" in what:
        return "; ".join(dict.fromkeys(fact(p, w) for w in what.split("+")))
    m = p.meta
    if what == "signer":
        who = m.signer or "văn bản không ghi tên người ký"
        return f"người ký: {who} ({m.signer_title})" if m.signer_title else f"người ký: {who}"
    if what == "number":
        number = m.decision_number or "không ghi số"
        return f"số {number}, ngày {_date(p)}"
    if what == "date":
        return f"ban hành ngày {_date(p)} (số {m.decision_number or 'không ghi số'})"
    table = sum(1 for t in p.tasks if t.origin == "table")
    if table:
        return f"{table} nhiệm vụ trong bảng phân công (phụ lục)"
    return "không có bảng phân công nhiệm vụ đánh số; nhiệm vụ được nêu theo từng mục của kế hoạch"


def meta_reply(plans: list[Plan], what: str) -> Reply | None:
    if not plans:
        return None
    lines = [f"• {p.meta.title} ({p.meta.locality}, {p.meta.province}): {fact(p, what)}." for p in plans]
    head = "" if len(plans) == 1 else f"Có {len(plans)} kế hoạch phù hợp với câu hỏi:\n"
    cites = [Citation(source=p.id, title=p.meta.title,
                      locator="Phụ lục nhiệm vụ" if what == "count" else "Phần mở đầu (văn bản ban hành)")
             for p in plans]
    return Reply(reply=head + "\n".join(lines), intent="plan", answered=True, citations=cites,
                 suggestions=[p.meta.locality for p in plans][:4] if len(plans) > 1 else [])
