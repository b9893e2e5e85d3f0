"""ChatService: the single entry point from any channel to an answer.

Flow of one message: load the conversation state → continue a pending flow (clarification, PAKN)
→ read intent and slots → resolve follow-ups against the last turn → gather evidence (structured
tasks, the procedure catalogue, retrieval) → compose a cited reply or refuse honestly → save state.
Answers are deterministic; an optional LLM may only rephrase them (see `bot/llm.py`).
"""
from __future__ import annotations

import logging
import threading
from functools import lru_cache
from typing import Any

from bot.answers import duty as duty_answers
from bot.answers import plan as plan_answers
from bot.answers import refusal
from bot.answers.procedure import procedure_reply
from bot.state import StateStore
from bot.types import InboundMessage, Reply
from bot.understand import Understanding, understand
from knowledge.plans import fold, load_plans

log = logging.getLogger(__name__)

# Minimum share of a question's content terms that the evidence must contain to be answered.
MIN_COVERAGE = 0.5
# Procedure questions are short ("lam so do"): a lower bar, checked against name and aliases too.
MIN_PROCEDURE_COVERAGE = 0.34


class ChatService:
    """Turns an inbound message into a reply; thread-safe, stateless between calls but for the store."""

    def __init__(self, database_url: str | None = None, engine: Any | None = None,
                 phraser: Any | None = None) -> None:
        from bot.llm import build_phraser

        self.url = database_url
        self.state = StateStore(database_url)
        self._engine = engine
        self._lock = threading.Lock()
        self.phraser = phraser if phraser is not None else build_phraser()

    # ------------------------------------------------------------------ plumbing
    @property
    def engine(self):
        if self._engine is None:
            with self._lock:
                if self._engine is None:
                    from retrieval.engine import get_engine

                    self._engine = get_engine()
        return self._engine

    def warm_up(self) -> None:
        load_plans()
        _ = self.engine
        self.handle(InboundMessage(channel="warmup", user_id="warmup", text="Sở Nội vụ làm gì"))
        self.state.forget("warmup", "warmup")

    def handle(self, msg: InboundMessage) -> Reply:
        """Answer one message and persist what the next turn needs."""
        state = self.state.load(msg.channel, msg.user_id)
        reply, new_state = self._answer(msg, state)
        self.state.save(msg.channel, msg.user_id, new_state)
        if self.phraser is not None:
            reply = self.phraser.rephrase(msg.text, reply)
        return reply

    def forget(self, channel: str, user_id: str) -> None:
        self.state.forget(channel, user_id)

    # ------------------------------------------------------------------ decision
    def _answer(self, msg: InboundMessage, state: dict) -> tuple[Reply, dict]:
        text = (msg.text or "").strip()
        pending = state.get("pending")
        if pending and pending.get("type") == "pakn":
            from bot.answers.pakn import continue_pakn

            reply, pending = continue_pakn(msg, pending)
            return reply, {**state, "pending": pending, "last_intent": "pakn_submit"}
        if not text:
            if msg.attachments:
                return refusal.help_reply(), state
            return refusal.help_reply(), state

        u = understand(text)
        if pending and pending.get("type") == "clarify" and u.plan_ids and u.intent == "unknown":
            # The person answered our "which locality?" question: re-ask the original with it.
            u = understand(f"{pending['text']} {text}")
            state = {k: v for k, v in state.items() if k != "pending"}
        state = {k: v for k, v in state.items() if k != "pending"}

        if u.injection:
            return refusal.out_of_scope("Tôi chỉ trả lời dựa trên văn bản hành chính và không tạo ra thông tin "
                                        "không có trong văn bản."), state
        if u.intent in ("greeting", "thanks"):
            if u.intent == "thanks":
                return Reply(reply="Rất vui được hỗ trợ bạn!", intent="thanks", answered=True), state
            return refusal.help_reply(), state
        if u.intent == "pakn_status":
            from bot.answers.pakn import status_reply

            return status_reply(u.pakn_code), {**state, "last_intent": "pakn_status"}
        if u.intent == "pakn_submit":
            from bot.answers.pakn import start_pakn

            reply, pending = start_pakn(msg, u)
            return reply, {**state, "pending": pending, "last_intent": "pakn_submit"}

        u = self._apply_follow_up(u, state)
        if u.out_of_scope and not (u.has_plan_words or u.office_ids or u.fields):
            return refusal.out_of_scope(), state
        if u.unknown_place and not u.plan_ids and (u.has_plan_words or u.office_ids):
            return refusal.no_evidence(
                f"Tôi chưa có kế hoạch hay văn bản nào của {u.unknown_place} trong cơ sở dữ liệu"), state
        if u.years and (u.has_plan_words or u.intent == "duty") and not self._plans_for_years(u):
            years = ", ".join(map(str, u.years))
            return refusal.no_evidence(f"Tôi không có kế hoạch nào áp dụng cho năm {years}"
                                       + (" ở địa phương bạn hỏi" if u.plan_ids else "")), state

        if u.intent == "duty":
            return self._duty(u, state)
        return self._plan_or_procedure(u, state)

    def _plans_for_years(self, u: Understanding) -> list[str]:
        ids = u.plan_ids or [p.id for p in load_plans()]
        out = []
        for p in load_plans():
            if p.id in ids and any(p.meta.period_start <= y <= p.meta.period_end for y in u.years):
                out.append(p.id)
        return out

    def _apply_follow_up(self, u: Understanding, state: dict) -> Understanding:
        """Fill what a short follow-up leaves out from the last turn."""
        last = state.get("last_intent")
        short = len(u.folded.split()) <= 10
        if not last or not short or u.intent not in ("unknown", "duty"):
            return u
        fragment = u.is_follow_up or not u.has_duty_words  # "còn Sở Tư pháp thì sao?", "trong quý I thôi"
        if last == "duty" and fragment and (u.is_follow_up or u.office_ids or u.period_text) and not u.fields:
            u.intent = "duty"
            u.office_ids = u.office_ids or state.get("office_ids", [])
            u.plan_ids = u.plan_ids or state.get("plan_ids", [])
            if not u.period_text and not u.office_ids:
                u.period_text = state.get("period_text")
        elif last == "procedure" and state.get("procedure") and (u.fields or u.is_follow_up):
            if not self._names_other_procedure(u, state["procedure"]):
                u.intent = "procedure_follow_up"
        elif last == "plan" and u.is_follow_up:
            u.plan_ids = u.plan_ids or state.get("plan_ids", [])
        return u

    def _names_other_procedure(self, u: Understanding, current: str) -> bool:
        hits = self._search(u.text, k=3, filters={"kind": "tthc_field"})
        if not hits:
            return False
        top = hits[0].unit
        return top.source != current and plan_answers.coverage(u.text, top.text + " " + top.context) >= 0.6

    # ------------------------------------------------------------------ duty
    def _duty(self, u: Understanding, state: dict) -> tuple[Reply, dict]:
        plan_ids = u.plan_ids or []
        period = u.period
        if u.period_text and period is None:
            period = self._period_in_scope(u.period_text, plan_ids)
        tasks = duty_answers.tasks_for(u.office_ids, plan_ids, period, self.url)
        new_state = {**state, "last_intent": "duty", "office_ids": u.office_ids, "plan_ids": plan_ids,
                     "period_text": u.period_text}
        if not tasks:
            if period:
                label = ", ".join(duty_answers.office_name(o) for o in u.office_ids[:2])
                return refusal.no_evidence(f"Tôi không tìm thấy nhiệm vụ nào của {label} có thời hạn trong "
                                           f"{u.period_text}"), new_state
            return self._plan_or_procedure(u, state)
        localities = duty_answers.localities_of(tasks)
        if len(localities) > 1 and not u.plan_ids:
            label = _office_label(u.text, u.office_ids)
            new_state["pending"] = {"type": "clarify", "text": u.text}
            return duty_answers.clarify_locality(label, tasks), new_state
        new_state["plan_ids"] = sorted({t.plan_id for t in tasks})
        return duty_answers.duty_reply(u.office_ids, tasks, u.period_text), new_state

    def _period_in_scope(self, period_text: str, plan_ids: list[str]):
        from knowledge.deadlines import parse_period

        plans = [p for p in load_plans() if not plan_ids or p.id in plan_ids]
        years = sorted({p.meta.period_start for p in plans})
        return parse_period(period_text, years[0]) if len(years) == 1 else None

    # ------------------------------------------------------------------ plan / procedure
    def _search(self, text: str, k: int, filters: dict | None = None):
        try:
            return self.engine.search(text, k=k, filters=filters)
        except Exception:  # pragma: no cover - logged, answered honestly
            log.exception("retrieval failed")
            return []

    def _plan_or_procedure(self, u: Understanding, state: dict) -> tuple[Reply, dict]:
        if u.intent == "procedure_follow_up":
            reply = procedure_reply(state["procedure"], u.fields)
            if reply:
                return reply, {**state, "last_intent": "procedure", "fields": u.fields}
        plan_scope = u.plan_ids or None
        # Explicit task number in a plan: answer from the table directly.
        if u.task_number and (u.has_plan_words or plan_scope):
            scope = plan_scope or [p.id for p in load_plans() if any(t.origin == "table" for t in p.tasks)]
            if u.years:
                scope = [pid for pid in scope if pid in self._plans_for_years(u)]
            found = plan_answers.find_task(scope, u.task_number)
            if len(found) == 1:
                pid, task = found[0]
                return plan_answers.task_reply(pid, task), {**state, "last_intent": "plan", "plan_ids": [pid]}
        filters: dict = {}
        if plan_scope:
            filters["plan_id"] = plan_scope
        hits = self._search(u.text, k=8, filters=filters or None)
        if u.years and not plan_scope:
            allowed = set(self._plans_for_years(u))
            hits = [h for h in hits if h.unit.kind == "tthc_field" or h.unit.meta.get("plan_id") in allowed]
        plan_hits = [h for h in hits if h.unit.kind != "tthc_field"]
        proc_hits = [h for h in hits if h.unit.kind == "tthc_field"]
        prefer_plan = u.has_plan_words or bool(u.office_ids) or bool(plan_scope) or bool(u.task_number)
        if not prefer_plan:
            if not proc_hits:
                proc_hits = self._search(u.text, k=5, filters={"kind": "tthc_field"})
            if proc_hits:
                top = proc_hits[0].unit
                cov = plan_answers.coverage(u.text, top.text + " " + top.context + " " + top.title)
                if cov >= MIN_PROCEDURE_COVERAGE and not u.out_of_scope:
                    fields = u.fields
                    reply = procedure_reply(top.source, fields)
                    if reply:
                        return reply, {**state, "last_intent": "procedure", "procedure": top.source,
                                       "fields": fields}
        for hit in plan_hits[:3]:
            evidence = hit.unit.text + " " + hit.unit.context
            if plan_answers.coverage(u.text, evidence) >= MIN_COVERAGE:
                reply = plan_answers.hit_reply(u.text, hit)
                return reply, {**state, "last_intent": "plan", "plan_ids": [hit.unit.meta.get("plan_id")]}
        return refusal.no_evidence(), state


def _office_label(text: str, office_ids: list[str]) -> str:
    """The office as the person wrote it (for a clarification question)."""
    name = duty_answers.office_name(office_ids[0]) if office_ids else "Cơ quan này"
    words = fold(name).split()
    # Drop the locality tail ("Phòng Nội vụ thành phố Tây Ninh" → "Phòng Nội vụ") for the question.
    for cut in (" thanh pho", " thi xa", " tinh", " huyen"):
        idx = fold(name).find(cut)
        if idx > 0:
            return name[:idx]
    return name if words else "Cơ quan này"


@lru_cache(maxsize=1)
def get_chat_service() -> ChatService:
    """The process-wide service (built lazily; `warm_up()` is called from the app lifespan)."""
    return ChatService()
