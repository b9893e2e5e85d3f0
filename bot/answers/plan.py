"""Plan facts: the task row or the sentence(s) of a section that answer the question, cited."""
from __future__ import annotations

import math
from collections import Counter

from bot.evidence import QUESTION_TERMS
from bot.text import sentences, terms
from bot.types import Citation, Reply
from knowledge.plans import Task, plan_of, task_text
from retrieval.types import SearchHit


def task_reply(plan_id: str, task: Task) -> Reply:
    plan = plan_of(plan_id)
    body = task_text(task)
    return Reply(reply=f"Theo {plan.meta.short_name}:\n{body}", intent="plan", answered=True,
                 citations=[Citation(source=plan.id, title=plan.meta.title, locator=task.locator)])


def find_task(plan_ids: list[str], number: str) -> list[tuple[str, Task]]:
    """Table tasks numbered `number` in the given plans ("1" also matches Hoài Nhơn's "I.1")."""
    found = []
    for pid in plan_ids:
        plan = plan_of(pid)
        for t in plan.tasks:
            if t.origin == "table" and t.number and (t.number == number or t.number.split(".")[-1] == number
                                                    and len(plan_ids) == 1 and t.number.startswith("I.")):
                found.append((pid, t))
    return found


def best_sentences(question: str, text: str, limit: int = 2) -> list[str]:
    """The sentence(s) of a passage that share the most weighted terms with the question."""
    sents = sentences(text)
    if len(sents) <= 1:
        return sents
    q = Counter(t for t in terms(question) if t not in QUESTION_TERMS) or Counter(terms(question))
    df = Counter(t for s in sents for t in set(terms(s)))
    n = len(sents)

    def score(s: str) -> float:
        st = set(terms(s))
        return sum(math.log(1 + n / df[t]) for t in q if t in st)

    from bot.evidence import answer_type_wanted
    from vntext import fold

    wanted = answer_type_wanted(fold(question))
    if wanted is not None:  # a sentence holding the kind of fact asked for ranks first
        base = score

        def score(s: str) -> float:
            return base(s) + (100.0 if wanted(fold(s)) and base(s) > 0 else 0.0)

    ranked = sorted(range(n), key=lambda i: -score(sents[i]))
    keep = [i for i in ranked[:limit] if score(sents[i]) > 0] or ranked[:1]
    if len(keep) == 2 and score(sents[keep[1]]) < 0.5 * score(sents[keep[0]]) and wanted is None:
        keep = keep[:1]
    return [sents[i] for i in sorted(keep)]


def hit_reply(question: str, hit: SearchHit) -> Reply:
    """Compose an answer from one retrieved plan unit."""
    unit = hit.unit
    plan = plan_of(unit.meta.get("plan_id", unit.source))
    cite = Citation(source=unit.source, title=unit.title, locator=unit.locator)
    if unit.kind == "plan_task":
        return Reply(reply=f"Theo {plan.meta.short_name}:\n{unit.text}", intent="plan", answered=True,
                     citations=[cite])
    picked = best_sentences(question, unit.text)
    heading = unit.meta.get("section_path", [])
    where = f" ({' › '.join(heading[-2:])})" if heading else ""
    return Reply(reply=f"Theo {plan.meta.short_name}{where}:\n" + "\n".join(picked), intent="plan",
                 answered=True, citations=[cite])
