"""ChatService: the single entry point from any channel to an answer.

Flow of one message: load the conversation state (`bot/dialogue.py`: typed, with a typed pending
step) → read the message once into a frozen `Query` (intent and slots as written; typos mended and
follow-ups resolved against the last turn) → ask the handlers in their one written order
(`ChatService._handlers`), the first `Turn` wins: a pending petition, the pick of a procedure variant we
offered, greetings, petitions, refusals, plan facts, duties (structured tasks), a procedure family whose
variant the words do not decide (`bot/variants.py`), the procedure catalogue and plan passages (retrieval) →
a cited reply, or a `Refusal` worded in one place (`_refuse`) → save state.
Answers are deterministic; an optional LLM may only rephrase them (see `bot/llm.py`).
"""
from __future__ import annotations

import logging
import re
import threading
from collections.abc import Callable
from dataclasses import replace
from datetime import date
from typing import Any

from bot.answers import duty as duty_answers
from bot.answers import plan as plan_answers
from bot.answers import plan_meta, refusal
from bot.answers.procedure import procedure_reply
from bot.dialogue import (
    READABLE,
    Clarification,
    ConversationState,
    Handler,
    Intent,
    PetitionDraft,
    Query,
    Refusal,
    Turn,
    VariantChoice,
)
from bot.evidence import (
    ASKS_ADDRESS,
    answer_type_missing,
    answer_type_wanted,
    asks_when_or_where,
    evidence_check,
)
from bot.state import StateStore
from bot.text import terms
from bot.types import InboundMessage, Reply
from bot.understand import Understanding, procedure_subject, understand
from bot.variants import (
    ask_reply,
    choice_for,
    is_unclear,
    names_something_else,
    offer_others,
    pick,
    read_variant,
)
from knowledge.dialogue_lexicon import DialogueLexicon, dialogue_lexicon
from knowledge.plans import get_plan, load_plans, plan_of
from knowledge.procedure_variants import Family, ProcedureVariants, procedure_variants
from vntext import fold

log = logging.getLogger(__name__)

# Minimum share of a question's content terms that the evidence must contain to be answered.
MIN_COVERAGE = 0.5
# Procedure questions are short ("lam so do"): a lower bar, checked against name and aliases too.
MIN_PROCEDURE_COVERAGE = 0.34
# "… có cần / cần có / phải có giấy …": asks whether a procedure requires a paper.
NEEDS_PAPER = re.compile(r"\b(co can|can co|phai co|co phai nop|can phai co|co bat buoc)\b")
# Share of what a procedure question is about that the procedure's name, aliases or field must hold.
MIN_SUBJECT_COVERAGE = 0.5
# The same share when a place is the question's only tie to the plans: all but a stray word.
MIN_FULL_SUBJECT_COVERAGE = 0.8
# Share of what a question is about that a procedure family (its procedures' names and aliases, the
# family's triggers, the chosen option's words) must hold before the family answers instead of the
# catalogue search: "tỷ lệ hồ sơ chứng thực điện tử đạt bao nhiêu phần trăm" names "chứng thực" but asks
# about a plan target, and must not get "which certification?".
MIN_VARIANT_COVERAGE = 0.45
# A follow-up that switches variant ("còn hợp đồng thì sao?") is short; a longer message is a question.
MAX_SWITCH_WORDS = 8


class ChatService:
    """Turns an inbound message into a reply; thread-safe, stateless between calls but for the store."""

    def __init__(self, database_url: str | None = None, engine: Any | None = None,
                 phraser: Any | None = None, clock: Callable[[], date] | None = None,
                 max_fact_age_days: int | None = None, lexicon: DialogueLexicon | None = None,
                 variants: ProcedureVariants | None = None, signals: Any | None = None,
                 triage: Callable[..., Any] | None = None) -> None:
        """`clock` gives the day a question is asked (which fees and rules are in force, which facts
        are stale); tests pass a fixed one. `max_fact_age_days` defaults to the setting. `lexicon`
        holds the dialogue phrases (where-phrases, duty counts); `variants` the procedure families
        whose variant must be chosen; the shipped files by default. `engine` is the retrieval
        engine (built on first use, with `signals`, when not given); `triage` the petitions' triage
        (pakn.service's default when not given). One service per process is built by runtime.services."""
        from bot.llm import build_phraser

        if max_fact_age_days is None:
            from settings import get_settings

            max_fact_age_days = get_settings().tthc_max_fact_age_days
        self.clock: Callable[[], date] = clock or date.today
        self.max_fact_age_days = max_fact_age_days
        self.url = database_url
        self.state = StateStore(database_url)
        self._engine = engine
        self._signals = signals
        self.triage = triage
        self._lock = threading.Lock()
        self.phraser = phraser if phraser is not None else build_phraser()
        self.lexicon = lexicon or dialogue_lexicon()
        self.variants = variants or procedure_variants()
        self.handlers: tuple[Handler, ...] = self._handlers()

    # ------------------------------------------------------------------ plumbing
    @property
    def engine(self):
        if self._engine is None:
            with self._lock:
                if self._engine is None:
                    from retrieval.engine import RetrievalEngine
                    from retrieval.sources import all_units

                    engine = RetrievalEngine(all_units(), signals=self._signals)
                    engine.warm_up()
                    self._engine = engine
        return self._engine

    @property
    def loaded_engine(self):
        """The engine if it exists (never builds it: for readiness probes)."""
        return self._engine

    def warm_up(self) -> None:
        from retrieval.readiness import mark_dense_index_ready

        load_plans()
        _ = self.engine
        if self._engine is not None and getattr(self._engine, "embedder", None) is not None:
            mark_dense_index_ready()
        evidence_check()
        self.handle(InboundMessage(channel="warmup", user_id="warmup", text="Sở Nội vụ làm gì"))
        self.state.forget("warmup", "warmup")

    def handle(self, msg: InboundMessage) -> Reply:
        """Answer one message and persist what the next turn needs."""
        state = ConversationState.from_stored(self.state.load(msg.channel, msg.user_id))
        reply, new_state = self._answer(msg, state)
        self.state.save(msg.channel, msg.user_id, new_state.to_stored())
        if self.phraser is not None:
            reply = self.phraser.rephrase(msg.text, reply)
        return reply

    def forget(self, channel: str, user_id: str) -> None:
        self.state.forget(channel, user_id)

    # ------------------------------------------------------------------ decision
    def _answer(self, msg: InboundMessage, state: ConversationState) -> tuple[Reply, ConversationState]:
        """Read the message once, then ask each handler in turn; the first that answers decides.

        The order of the handlers is the order of `self.handlers` (see `_handlers`), and a handler
        that refuses returns a `Refusal`, worded in one place (`_refuse`)."""
        query, state = self._read(msg, state)
        for handler in self.handlers:
            turn = handler(query, state)
            if turn is not None:
                return self._refuse(turn.reply) if isinstance(turn.reply, Refusal) else turn.reply, turn.state
        raise AssertionError("the last handler always answers")  # pragma: no cover

    def _handlers(self) -> tuple[Handler, ...]:
        """Every way a message can be answered, in the order they are tried (python-telegram-bot's
        handler groups and Haystack's pipelines are the model): the first that returns a Turn wins."""
        return (
            self._continue_petition,       # a petition being drafted takes every message
            self._answer_variant_choice,   # "2", a button's label, "bị mất": the variant we offered
            self._nothing_to_read,         # empty, emoji, punctuation, a lone digit
            self._refuse_injection,
            self._greet_or_thank,
            self._petition_status,
            self._start_petition,
            self._question_about_petitions,
            self._refuse_out_of_scope,     # from here on, typos mended and follow-ups filled in
            self._refuse_unknown_place,
            self._refuse_years_without_plan,
            self._plan_facts,              # who signed the plan, when, how many tasks
            self._duties,
            self._procedure_variant,       # "làm căn cước": which one? (the default, or one question)
            self._continue_procedure,      # a follow-up about the procedure of the last answer
            self._continue_task,           # a follow-up about the task of the last answer
            self._plan_or_procedure,       # the catalogue, then plan passages; else "I don't know"
        )

    def _read(self, msg: InboundMessage, state: ConversationState) -> tuple[Query, ConversationState]:
        """The message read once: as written, and as meant (typos mended, a follow-up filled in
        from the last turn). Reading it as a question ends a pending clarification; a variant choice
        moves from the state to the query (only the next message may answer it); a petition being
        drafted, or a message with nothing to read ("2" is one), is not read."""
        text = (msg.text or "").strip()
        choice = state.pending if isinstance(state.pending, VariantChoice) else None
        if choice is not None:
            state = state.without_pending()
        if isinstance(state.pending, PetitionDraft) or not READABLE.search(text):
            return Query(msg=msg, text=text, folded=fold(text), terms=tuple(terms(text)), choice=choice), state
        read = understand(text, self.lexicon)
        if isinstance(state.pending, Clarification) and read.plan_ids and read.intent == Intent.UNKNOWN:
            # The person answered our "which locality?" question: re-ask the original with it.
            read = understand(f"{state.pending.text} {text}", self.lexicon)
        state = state.without_pending()
        meant = self._apply_follow_up(self._mend_typos(read), state)
        return Query(msg=msg, text=text, folded=fold(text), terms=tuple(terms(text)), read=read,
                     understanding=meant, choice=choice), state

    @staticmethod
    def _refuse(decision: Refusal) -> Reply:
        """The one place a refusal becomes words: out of scope, or in scope with no evidence."""
        if decision.kind == "out_of_scope":
            return refusal.out_of_scope(decision.reason)
        return refusal.no_evidence(decision.reason)

    # ------------------------------------------------------------------ handlers
    def _continue_petition(self, query: Query, state: ConversationState) -> Turn | None:
        if not isinstance(state.pending, PetitionDraft):
            return None
        from bot.answers.pakn import continue_pakn

        reply, flow = continue_pakn(query.msg, state.pending.as_flow(), database_url=self.url, triage=self.triage)
        return Turn(reply, state.but(pending=flow, last_intent=Intent.PAKN_SUBMIT))

    def _answer_variant_choice(self, query: Query, state: ConversationState) -> Turn | None:
        """The message picks one of the variants the last turn offered: the originally asked fields of
        that procedure (or the fields this message asks). After our question, a message that picks
        nothing but is too short to be a question of its own gets the question again; anything
        else is a new question and the choice is dropped. The question is asked again once only, so a
        short question we cannot read as an answer ("làm hộ chiếu ở đâu") is not trapped."""
        from knowledge.procedures import load_catalogue

        choice = query.choice
        if choice is None:
            return None
        catalogue = load_catalogue()
        texts = [query.text] + ([query.understanding.text] if query.understanding is not None else [])
        picked = next((key for t in texts if (key := pick(choice, t, self.variants, catalogue))), None)
        asked_now = query.understanding.fields if query.understanding is not None else []
        fields = asked_now or choice.fields
        if picked is not None:
            reply = procedure_reply(picked, fields, self.clock(), self.max_fact_age_days)
            return Turn(reply, state.but(last_intent=Intent.PROCEDURE, procedure=picked, fields=fields)) if reply \
                else None
        family = self.variants.get(choice.family)
        if not choice.asked or choice.asked_again or family is None:
            return None
        read = query.read
        unclear = read is None or (
            read.intent == Intent.UNKNOWN and not read.has_plan_words and not read.office_ids
            and is_unclear(query.text) and not names_something_else(choice, read.folded, self.variants, catalogue))
        if not unclear:
            return None
        return Turn(ask_reply(family, again=True),
                    state.but(pending=choice.model_copy(update={"fields": fields, "asked_again": True})))

    @staticmethod
    def _nothing_to_read(query: Query, state: ConversationState) -> Turn | None:
        # Say what the bot can do rather than match a procedure to nothing.
        return Turn(refusal.help_reply(), state) if query.read is None else None

    @staticmethod
    def _refuse_injection(query: Query, state: ConversationState) -> Turn | None:
        if not query.as_read.injection:
            return None
        return Turn(Refusal("out_of_scope", "Tôi chỉ trả lời dựa trên văn bản hành chính và không tạo ra "
                                            "thông tin không có trong văn bản."), state)

    @staticmethod
    def _greet_or_thank(query: Query, state: ConversationState) -> Turn | None:
        if query.as_read.intent == Intent.THANKS:
            return Turn(Reply(reply="Rất vui được hỗ trợ bạn!", intent="thanks", answered=True), state)
        if query.as_read.intent == Intent.GREETING:
            return Turn(refusal.help_reply(), state)
        return None

    def _petition_status(self, query: Query, state: ConversationState) -> Turn | None:
        if query.as_read.intent != Intent.PAKN_STATUS:
            return None
        from bot.answers.pakn import status_reply

        return Turn(status_reply(query.as_read.pakn_code, channel=query.msg.channel, user_id=query.msg.user_id,
                                 database_url=self.url),
                    state.but(last_intent=Intent.PAKN_STATUS))

    @staticmethod
    def _start_petition(query: Query, state: ConversationState) -> Turn | None:
        if query.as_read.intent != Intent.PAKN_SUBMIT:
            return None
        from bot.answers.pakn import start_pakn

        reply, flow = start_pakn(query.msg, query.as_read)
        return Turn(reply, state.but(pending=flow, last_intent=Intent.PAKN_SUBMIT))

    def _question_about_petitions(self, query: Query, state: ConversationState) -> Turn | None:
        """"góp ý: thủ tục làm CCCD thế nào?" is a question about a procedure; "phản ánh thì gửi ở
        đâu?" gets how to petition (plan passages about handling petitions are not that)."""
        if query.as_read.intent != Intent.PAKN_QUESTION:
            return None
        from bot.answers.pakn import help_reply as pakn_help

        turn = self._answer_from_knowledge(replace(query.as_read, intent=Intent.UNKNOWN), state)
        answered = isinstance(turn.reply, Reply) and turn.reply.answered and turn.reply.intent == "procedure"
        return turn if answered else Turn(pakn_help(), state)

    def _refuse_out_of_scope(self, query: Query, state: ConversationState) -> Turn | None:
        """A request never answered is refused unless it names an office's duties; a topic that is
        usually out of scope ("tiếng Anh", "chính trị") only when nothing else in the message is in
        scope: "chứng thực chữ ký người dịch tiếng Anh" names a procedure, "Kết luận của Bộ Chính
        trị về tinh giản biên chế" a plan subject."""
        u = query.meant
        if u.office_ids or u.has_duty_words:
            return None
        if u.out_of_scope or (u.off_topic and not (u.has_plan_words or u.plan_ids or self._says_procedure_name(u.text))):
            return Turn(Refusal("out_of_scope"), state)
        return None

    @staticmethod
    def _refuse_unknown_place(query: Query, state: ConversationState) -> Turn | None:
        u = query.meant
        if u.unknown_place and not u.plan_ids and (u.has_plan_words or u.office_ids):
            return Turn(Refusal("no_evidence", f"Tôi chưa có kế hoạch hay văn bản nào của {u.unknown_place} "
                                               "trong cơ sở dữ liệu"), state)
        return None

    def _refuse_years_without_plan(self, query: Query, state: ConversationState) -> Turn | None:
        u = query.meant
        if u.years and (u.intent == Intent.DUTY or u.asks_plan_of_year) and not self._plans_for_years(u):
            return Turn(self._no_plan_for_years(u), state)
        return None

    @staticmethod
    def _plan_facts(query: Query, state: ConversationState) -> Turn | None:
        u = query.meant
        if u.intent == Intent.DUTY and u.counts:
            return None  # "trong phụ lục, Phòng Tư pháp chủ trì bao nhiêu nhiệm vụ": that office's count
        what = plan_meta.wants(u.folded)
        if what is None and u.is_follow_up and (u.localities or u.years):
            what = plan_meta.wants_again(u.folded, state.last_meta)  # "còn kế hoạch của Ngã Năm thì sao?"
        plan_ids = u.plan_ids
        if (what is None and state.last_intent == Intent.PLAN and state.plan_ids and not u.localities
                and len(u.folded.split()) <= 8 and plan_meta.facts_asked(u.folded) == ["signer"]):
            # "ai ký vậy?" after a question about a plan: who signed that plan (only its metadata knows)
            what, plan_ids = "signer", state.plan_ids
        if what is None:
            return None
        plans = plan_meta.scope(plan_ids, u.folded, u.years, u.plan_kind)
        meta = plan_meta.meta_reply(plans, what)
        if meta is None:
            return None  # no plan of that year/kind: it may be a plan that our plans cite; search the text
        return Turn(meta, state.but(last_intent=Intent.PLAN, plan_ids=[p.id for p in plans],
                                    last_question=u.text, last_meta=what))

    def _duties(self, query: Query, state: ConversationState) -> Turn | None:
        return self._duty(query.meant, state) if query.meant.intent == Intent.DUTY else None

    def _procedure_variant(self, query: Query, state: ConversationState) -> Turn | None:
        """A question naming a family of procedures ("làm căn cước", "chứng thực"): the variant its
        words choose; else the variant of the last answer, if of this family (a follow-up stays on
        it); else the family's default with the others as buttons; else (no default) one short
        question with one button per variant (`knowledge/lexicon/procedure_variants.yaml`)."""
        from knowledge.procedures import load_catalogue

        u = query.meant
        if (u.intent not in (Intent.UNKNOWN, Intent.PROCEDURE_FOLLOW_UP) or u.has_plan_words or u.office_ids
                or u.task_number or u.out_of_scope):
            return None
        match = read_variant(u.subject_text, self.variants, load_catalogue())
        if match is None:
            return self._switch_variant(u, state)
        family, fields = match.family, u.fields
        stays = state.last_intent == Intent.PROCEDURE and state.procedure in family.procedures
        key = match.chosen.procedure if match.chosen is not None else state.procedure if stays else family.default
        if not self._about_family(u, family, key):
            return None  # the catalogue search and its checks decide (and `_plan_or_procedure` offers the others)
        if match.chosen is not None or stays:
            reply = procedure_reply(key or "", fields, self.clock(), self.max_fact_age_days)
            return Turn(reply, state.but(last_intent=Intent.PROCEDURE, procedure=key, fields=fields)) if reply else None
        if family.default is not None:
            reply = procedure_reply(family.default, fields, self.clock(), self.max_fact_age_days)
            if reply is None:
                return None
            return Turn(offer_others(reply, family, family.default),
                        state.but(last_intent=Intent.PROCEDURE, procedure=family.default, fields=fields,
                                  pending=choice_for(family, u.text, fields, asked=False)))
        return Turn(ask_reply(family), state.but(last_intent=Intent.PROCEDURE, procedure=None, fields=fields,
                                                 pending=choice_for(family, u.text, fields, asked=True)))

    def _switch_variant(self, u: Understanding, state: ConversationState) -> Turn | None:
        """"còn hợp đồng thì sao?" after a certified-signature answer: a short message naming no family,
        whose words choose another option of the last answer's family, gets that option (with the
        fields it asks, else the fields asked before)."""
        from knowledge.procedures import load_catalogue, match_fold

        if state.last_intent != Intent.PROCEDURE or not state.procedure or len(u.folded.split()) > MAX_SWITCH_WORDS:
            return None
        folded = match_fold(u.subject_text)
        found = load_catalogue().find_by_name(folded, limit=1, min_score=0.75)
        chosen = [(option, n) for family in self.variants.families if state.procedure in family.procedures
                  for option, n in [family.decide(folded)] if option is not None and option.procedure != state.procedure]
        if not chosen or (found and found[0].key not in {o.procedure for o, _ in chosen}):
            return None
        longest = max(n for _, n in chosen)
        keys = {o.procedure for o, n in chosen if n == longest}
        if len(keys) != 1:
            return None
        key, fields = keys.pop(), u.fields or state.fields
        reply = procedure_reply(key, fields, self.clock(), self.max_fact_age_days)
        return Turn(reply, state.but(last_intent=Intent.PROCEDURE, procedure=key, fields=fields)) if reply else None

    def _continue_procedure(self, query: Query, state: ConversationState) -> Turn | None:
        """"còn lệ phí?", "mất bao lâu?" after a procedure answer: the asked field of that procedure."""
        u = query.meant
        if u.intent != Intent.PROCEDURE_FOLLOW_UP or not state.procedure:
            return None
        reply = procedure_reply(state.procedure, u.fields, self.clock(), self.max_fact_age_days)
        return Turn(reply, state.but(last_intent=Intent.PROCEDURE, fields=u.fields)) if reply else None

    @staticmethod
    def _continue_task(query: Query, state: ConversationState) -> Turn | None:
        """"hạn hoàn thành khi nào?" after a task answer: that task again, which holds the answer."""
        if query.meant.intent != Intent.TASK_FOLLOW_UP or not state.task:
            return None
        plan_id, key = state.task
        task = next((t for t in getattr(get_plan(plan_id), "tasks", []) if t.key == key), None)
        return Turn(plan_answers.task_reply(plan_id, task), state) if task is not None else None

    def _plan_or_procedure(self, query: Query, state: ConversationState) -> Turn:
        """The catalogue, then plan passages. When the catalogue answers the default of a procedure
        family the question names without choosing ("báo tử cho mẹ mất bao lâu"), the family's other
        variants are offered as buttons, as `_procedure_variant` does."""
        from knowledge.procedures import load_catalogue

        turn = self._answer_from_knowledge(query.meant, state)
        answered = turn.state.procedure
        if not (isinstance(turn.reply, Reply) and turn.reply.intent == "procedure" and answered
                and turn.state.last_intent == Intent.PROCEDURE):
            return turn
        match = read_variant(query.meant.subject_text, self.variants, load_catalogue())
        if match is None or match.chosen is not None or match.family.default != answered:
            return turn
        return Turn(offer_others(turn.reply, match.family, answered),
                    turn.state.but(pending=choice_for(match.family, query.meant.text, turn.state.fields, asked=False)))

    @staticmethod
    def _about_family(u: Understanding, family: Family, key: str | None) -> bool:
        """What the question is about is mostly named by the family: the names, aliases and field of
        the procedure to answer (of every option when we would ask), the family's triggers and that
        option's words (`MIN_VARIANT_COVERAGE`)."""
        from knowledge.procedures import load_catalogue

        subject = procedure_subject(fold(u.subject_text))
        if len(subject) < 2:
            return True
        catalogue = load_catalogue()
        options = [o for o in family.options if key is None or o.procedure == key]
        identity = [*family.triggers]
        for option in options:
            identity.extend(option.words)
            if (procedure := catalogue.get(option.procedure)) is not None:
                identity.extend([procedure.name, *procedure.aliases, procedure.field])
        return evidence_check().judge(" ".join(subject), " ".join(identity)).coverage >= MIN_VARIANT_COVERAGE

    # ------------------------------------------------------------------ reading helpers
    def _plans_for_years(self, u: Understanding) -> list[str]:
        ids = u.plan_ids or [p.id for p in load_plans()]
        out = []
        for p in load_plans():
            if p.id in ids and any(p.meta.period_start <= y <= p.meta.period_end for y in u.years):
                out.append(p.id)
        return out

    @staticmethod
    def _no_plan_for_years(u: Understanding) -> Refusal:
        years = ", ".join(map(str, u.years)) or "thời gian bạn hỏi"
        return Refusal("no_evidence", f"Tôi không có kế hoạch nào áp dụng cho năm {years}"
                                      + (" ở địa phương bạn hỏi" if u.plan_ids else ""))

    def _mend_typos(self, u: Understanding) -> Understanding:
        """Read the question again with its typos mended ("phí đăg ký thường chú" → "phi dang ky
        thuong tru"; bot/spelling.py), when there were any. Only questions: petitions are handled
        before this and stored as written."""
        from bot.spelling import speller

        mended = speller().correct(u.folded)
        return understand(mended, self.lexicon) if mended != u.folded else u

    def _apply_follow_up(self, u: Understanding, state: ConversationState) -> Understanding:
        """Fill what a short follow-up leaves out from the last turn."""
        last = state.last_intent
        short = len(u.folded.split()) <= 12
        if not last or not short or u.intent not in (Intent.UNKNOWN, Intent.DUTY):
            return u
        fragment = u.is_follow_up or not u.has_duty_words  # "còn Sở Tư pháp thì sao?", "trong quý I thôi"
        if last == Intent.DUTY and fragment and (u.is_follow_up or u.office_ids or u.period_text) and not u.fields:
            office_ids = u.office_ids or state.office_ids
            period_text = u.period_text
            if not u.period_text and not u.years and (u.is_follow_up or not u.office_ids):
                period_text = state.period_text  # "còn Sở Tài chính thì sao?": same quarter
            return replace(u, intent=Intent.DUTY, office_ids=office_ids, plan_ids=u.plan_ids or state.plan_ids,
                           period_text=period_text)
        # "ở UBND xã có làm được không" after a procedure: where to do that procedure, not a new question.
        only_where = u.where is not None and u.subject_text == u.text
        if last == Intent.PROCEDURE and state.procedure and (u.fields or u.is_follow_up or only_where):
            if only_where or not self._names_other_procedure(u, state.procedure):
                return replace(u, intent=Intent.PROCEDURE_FOLLOW_UP)
        elif last == Intent.PLAN and not u.office_ids and not u.task_number and not u.localities:
            # "hạn hoàn thành khi nào?", "kế hoạch đó căn cứ văn bản nào?": same plan, same task
            u = replace(u, plan_ids=u.plan_ids or state.plan_ids)
            if state.task and (u.asks_which or u.fields or u.is_follow_up) and self._about_task(u, state.task):
                return replace(u, intent=Intent.TASK_FOLLOW_UP)
            if state.last_question:
                return replace(u, context_text=state.last_question)
        return u

    @staticmethod
    def _about_task(u: Understanding, task_ref: list[str]) -> bool:
        """A follow-up asks about the same task unless it brings words the task does not have
        ("hạn hoàn thành khi nào?" stays; "còn báo cáo quý III?" moves on)."""
        from bot.evidence import QUESTION_TERMS
        from bot.text import terms

        plan_id, key = task_ref
        task = next((t for t in getattr(get_plan(plan_id), "tasks", []) if t.key == key), None)
        if task is None:
            return False
        have = set(terms(plan_answers.task_text(task)))
        new = [t for t in terms(u.text) if t not in QUESTION_TERMS and t not in {"con", "han", "xong"}]
        return all(t in have for t in new)

    def _names_other_procedure(self, u: Understanding, current: str) -> bool:
        """A follow-up names another procedure only with words beyond the field it asks about:
        "còn lệ phí?", "mất bao lâu?", "làm online đc ko" stay with the procedure of the last turn
        (searched alone, "con"/"mất" would match "con" = child and "người mất" = the deceased)."""
        if len(procedure_subject(u.folded)) < 2:
            return False
        hits = self._search(u.text, k=3, filters={"kind": "tthc_field"})
        if not hits:
            return False
        top = hits[0].unit
        return top.source != current and evidence_check().judge(u.text, f"{top.text} {top.context}").coverage >= 0.6

    # ------------------------------------------------------------------ duty
    def _duty(self, u: Understanding, state: ConversationState) -> Turn:
        plan_ids = u.plan_ids or []
        period = u.period
        if u.period_text and period is None:
            period = self._period_in_scope(u.period_text, plan_ids)
        if period is None and (year := self._year_inside_multi_year_plan(u, plan_ids)):
            period = (date(year, 1, 1), date(year, 12, 31))
            u = replace(u, period_text=f"năm {year}")
        tasks = duty_answers.tasks_for(u.office_ids, plan_ids, period, self.url)
        new_state = state.but(last_intent=Intent.DUTY, office_ids=u.office_ids, plan_ids=plan_ids,
                              period_text=u.period_text)
        if not tasks:
            if period:
                label = ", ".join(duty_answers.office_name(o) for o in u.office_ids[:2])
                return Turn(Refusal("no_evidence", f"Tôi không tìm thấy nhiệm vụ nào của {label} có thời "
                                                   f"hạn trong {u.period_text}"), new_state)
            return self._answer_from_knowledge(u, state)
        tasks = duty_answers.filter_by_topic(tasks, self._topic_terms(u), u.recurring,
                                             duty_answers.cadence_asked(u.folded))
        if period:
            # Tasks due inside the period first; year-long and recurring ones after them.
            def _inside(t) -> tuple:
                span = (t.deadline_end - t.deadline_start).days if t.deadline_start and t.deadline_end else 9999
                return (not duty_answers.due_within(t, period), span)

            tasks = sorted(tasks, key=_inside)
        localities = duty_answers.localities_of(tasks)
        if len(localities) > 1 and not u.plan_ids:
            label = _office_label(u.text, u.office_ids)
            return Turn(duty_answers.clarify_locality(label, tasks), new_state.but(pending=Clarification(text=u.text)))
        new_state = new_state.but(plan_ids=sorted({t.plan_id for t in tasks}))
        if len(tasks) < 5 and not period:
            tasks = tasks + duty_answers.mentioned_in(u.office_ids, new_state.plan_ids, {t.id for t in tasks},
                                                      self.url)
        return Turn(duty_answers.duty_reply(u.office_ids, tasks, u.period_text, period, counts=u.counts,
                                            role_asked=u.role_asked), new_state)

    def _topic_terms(self, u: Understanding) -> list[str]:
        """What the duty question is about, beyond the office, place, period and duty words."""
        from bot.evidence import QUESTION_TERMS
        from bot.text import terms
        from bot.understand import DUTY_WORDS, RECURRING_WORDS

        strip = set(terms(" ".join(duty_answers.short_names(u.office_ids)))) | self._place_terms(u)
        strip |= set(terms(u.period_text or ""))
        rest = RECURRING_WORDS.sub(" ", DUTY_WORDS.sub(" ", u.folded))
        generic = {"so", "phong", "van", "uy", "ban", "nhan", "dan", "hoi", "dong", "tinh", "truong", "tam", "trung",
                   "ubnd", "hdnd", "vp", "giai", "doan", "tu", "den", "thoi", "ky", "toi", "minh", "chung"}
        return [t for t in dict.fromkeys(terms(rest)) if t not in strip and t not in QUESTION_TERMS
                and t not in generic and not t.isdigit()]

    @staticmethod
    def _year_inside_multi_year_plan(u: Understanding, plan_ids: list[str]) -> int | None:
        """"… phải hoàn thành những việc gì trong năm 2021" of a 2021–2025 plan: that year is a
        period to filter by. Of a one-year plan it only names the plan, and filtering by it would
        drop the duties that state no deadline."""
        m = re.search(r"\b(trong|vao|hoan thanh|het|cuoi|con|rieng) nam ((19|20)\d\d)\b", u.folded)
        if not m:
            return None
        year = int(m[2])  # "… 2021-2025 … trong năm 2021": the year after "trong năm", not the plan's span
        plans = [p for p in load_plans() if (not plan_ids or p.id in plan_ids)
                 and p.meta.period_start <= year <= p.meta.period_end]
        return year if plans and all(p.meta.period_end > p.meta.period_start for p in plans) else None

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

    def _answer_from_knowledge(self, u: Understanding, state: ConversationState) -> Turn:
        """A procedure from the catalogue, else a plan passage that passes every evidence check,
        else an honest refusal."""
        plan_scope = u.plan_ids or None
        # Explicit task number in a plan: answer from the table directly.
        if u.task_number and (u.has_plan_words or plan_scope):
            scope = plan_scope or [p.id for p in load_plans() if any(t.origin == "table" for t in p.tasks)]
            if u.years:
                scope = [pid for pid in scope if pid in self._plans_for_years(u)]
            found = plan_answers.find_task(scope, u.task_number)
            if len(found) == 1:
                pid, task = found[0]
                return Turn(plan_answers.task_reply(pid, task), state.but(
                    last_intent=Intent.PLAN, plan_ids=[pid], task=[pid, task.key], last_question=u.text))
        query = f"{u.context_text} {u.text}".strip()
        filters: dict = {"plan_id": plan_scope} if plan_scope else {}
        hits = self._search(query, k=8, filters=filters or None)
        if u.context_text:
            # A follow-up ("còn báo cáo quý III?") is searched on its own words first, inside the
            # plan of the last answer; the previous question only fills in what it leaves out.
            own = self._search(u.text, k=4, filters=filters or None)
            hits = own + [h for h in hits if h.unit.id not in {o.unit.id for o in own}]
        plan_hits = [h for h in hits if h.unit.kind != "tthc_field"]
        proc_hits = [h for h in hits if h.unit.kind == "tthc_field"]
        names_plan = u.has_plan_words or bool(u.office_ids) or bool(u.task_number) or bool(u.context_text)
        # A place alone ("đăng ký khai sinh ở Tây Ninh cần gì") scopes the plans without making a plan
        # question (procedures are the same in every place), unless a year or duty words come with it
        # ("ở Tây Ninh năm 2024 ai chủ trì …"). The catalogue is then asked first, but only a procedure
        # that names every word the question is about counts: plan questions name places too.
        only_place = bool(plan_scope) and not names_plan and not u.years and not u.has_duty_words
        if (only_place or not (names_plan or plan_scope)) and not u.out_of_scope:
            # "… tại UBND xã cần gì": the procedure is named by the question without the office the
            # citizen goes to (which would pull plan passages about that office, or dilute coverage).
            subject = u.subject_text
            named = self._procedure_by_name(subject)
            if named is not None and only_place and not self._names_all_of(u, named):
                named = None
            if named is not None:
                reply = procedure_reply(named, u.fields, self.clock(), self.max_fact_age_days)
                if reply:
                    return Turn(reply, state.but(last_intent=Intent.PROCEDURE, procedure=named, fields=u.fields))
            if subject != u.text or not proc_hits:
                proc_hits = self._search(subject, k=5, filters={"kind": "tthc_field"})
            for hit in proc_hits[:2]:
                top = hit.unit
                verdict = evidence_check().judge(subject, f"{top.title} {top.text} {top.context}")
                if (verdict.ok(MIN_PROCEDURE_COVERAGE) and self._is_about_procedure(u, top.source)
                        and (not only_place or self._names_all_of(u, top.source))):
                    reply = procedure_reply(top.source, u.fields, self.clock(), self.max_fact_age_days)
                    if reply:
                        return Turn(reply, state.but(last_intent=Intent.PROCEDURE, procedure=top.source,
                                                     fields=u.fields))
        candidates = self._plan_candidates(u, query, plan_hits)
        if not candidates and plan_scope and u.localities and not u.plan_kind:
            # "Cổng dịch vụ công tỉnh Tây Ninh …": the province's own plans first; when they hold no
            # answer, the plans of the localities inside that province (the answer names its plan).
            provinces = {plan_of(pid).meta.province for pid in plan_scope}
            wider = [p.id for p in load_plans() if p.meta.province in provinces and p.id not in plan_scope]
            if wider:
                more = [h for h in self._search(query, k=8, filters={"plan_id": wider}) if h.unit.kind != "tthc_field"]
                candidates = self._plan_candidates(u, query, more)
        if candidates:
            _, _, hit, reply = max(candidates, key=lambda c: (c[0], -c[1]))
            unit = hit.unit
            task_ref = [unit.meta.get("plan_id"), unit.meta.get("task_key")] if unit.kind == "plan_task" else None
            return Turn(reply, state.but(last_intent=Intent.PLAN, plan_ids=[unit.meta.get("plan_id")],
                                         last_question=query, task=task_ref))
        if u.years and u.asks_plan_of_year and not self._plans_for_years(u):
            return Turn(self._no_plan_for_years(u), state)
        return Turn(Refusal("no_evidence"), state)

    def _plan_candidates(self, u: Understanding, query: str, plan_hits: list) -> list:
        """The top plan hits that pass every evidence check, scored; each with its composed reply."""
        ignore = self._place_terms(u)
        names_a_task = bool(re.search(r"\bnhiem vu\b", u.folded))
        covered = {y for pid in self._plans_for_years(u) for y in u.years
                   if (p := get_plan(pid)) and p.meta.period_start <= y <= p.meta.period_end}
        uncovered_years = [y for y in u.years if y not in covered]
        candidates: list = []
        # Few passages hold an address (web, e-mail or street), and the answer-type check below
        # drops every one that does not, so a question for one may look further down the ranking.
        depth = 8 if ASKS_ADDRESS.search(u.folded) else 4
        wanted = answer_type_wanted(u.folded) if asks_when_or_where(u.folded) else None
        for rank, hit in enumerate(plan_hits[:depth]):
            unit = hit.unit
            evidence = f"{unit.title} {unit.text} {unit.context}"
            if not self._years_supported(u, unit, evidence) or not self._office_supported(u, unit):
                continue
            verdict = evidence_check().judge(query, evidence, ignore=ignore)
            if not verdict.ok(MIN_COVERAGE):
                continue
            reply = plan_answers.hit_reply(u.text, hit)
            body = _answer_body(reply.reply)
            if answer_type_missing(u.folded, fold(body)) is not None:
                continue
            if uncovered_years and not all(str(y) in body for y in uncovered_years):
                continue  # a year no plan covers must be in the very sentence that answers
            # Retrieval order first, refined by how much of the question the evidence covers; a
            # question about "nhiệm vụ …" prefers a task row over the prose that describes it.
            score = verdict.coverage + 0.1 * (depth - rank) / depth + (0.15 if names_a_task and unit.kind == "plan_task" else 0)
            if wanted is not None and wanted(fold(body)):
                score += 0.2  # "… khi nào?": the task row with its deadline, not the prose about the same work
            candidates.append((score, rank, hit, reply))
        return candidates

    @staticmethod
    def _is_about_procedure(u: Understanding, key: str) -> bool:
        """The question is about this procedure, not merely about words its papers mention.

        "làm hộ chiếu hết bao nhiêu tiền" shares "hộ chiếu" with the ID papers that signature
        certification asks for, and "ly hôn thuận tình" shares "tình trạng hôn nhân" words; a
        procedure the catalogue lacks must get "I don't know", not the nearest procedure's fee.
        So what the question is about (`procedure_subject`) must be mostly named by the
        procedure's own name, aliases or field — not by its documents or fees.
        """
        from knowledge.procedures import load_catalogue

        subject = procedure_subject(fold(u.subject_text))
        procedure = load_catalogue().get(key)
        if len(subject) < 2 or procedure is None:
            return True
        identity = " ".join([procedure.name, *procedure.aliases, procedure.field])
        return evidence_check().judge(" ".join(subject), identity).coverage >= MIN_SUBJECT_COVERAGE

    def _names_all_of(self, u: Understanding, key: str) -> bool:
        """Everything the question is about, but the places it names, is in this procedure's name,
        aliases or field ("đăng ký khai sinh ở Tây Ninh" → "đăng ký khai sinh"): the stricter test for
        a question whose only tie to the plans is a place ("thành phố Tây Ninh có bao nhiêu cuộc họp
        trực tuyến" is not about any procedure, though "trực tuyến" asks a field)."""
        from bot.text import terms
        from knowledge.procedures import load_catalogue

        procedure = load_catalogue().get(key)
        places = self._place_terms(u)
        subject = [t for t in terms(" ".join(procedure_subject(fold(u.subject_text)))) if t not in places]
        if procedure is None or not subject:
            return False
        identity = " ".join([procedure.name, *procedure.aliases, procedure.field])
        return evidence_check().judge(" ".join(subject), identity).coverage >= MIN_FULL_SUBJECT_COVERAGE

    @staticmethod
    def _procedure_by_name(text: str) -> str | None:
        """A procedure the question names by its name or a colloquial alias ("sổ đỏ", "sao y")."""
        from knowledge.procedures import load_catalogue

        catalogue = load_catalogue()
        found = catalogue.find_by_name(text, limit=3, min_score=0.75)
        if len(found) > 1 and (needs := NEEDS_PAPER.search(fold(text))):
            # "đăng ký kết hôn có cần giấy xác nhận độc thân không": the procedure named before
            # "có cần" is the one asked about; the one after it is a paper it may require.
            before = [p for p in found if (at := catalogue.position_named(p, text)) is not None and at < needs.start()]
            if before:
                return before[0].key
        return found[0].key if found else None

    @staticmethod
    def _says_procedure_name(text: str) -> bool:
        """The message says a procedure's name or alias as a phrase ("chứng thực chữ ký người dịch"),
        not merely words scattered in it ("bạn nghĩ sao" holds "bản" and "sao")."""
        from knowledge.procedures import load_catalogue

        return bool(load_catalogue().find_by_name(text, limit=1, min_score=1.0))

    @staticmethod
    def _place_terms(u: Understanding) -> set[str]:
        from bot.text import terms

        return set(terms(" ".join(u.localities)))

    def _years_supported(self, u: Understanding, unit, evidence: str) -> bool:
        """Every year asked about is in the evidence or inside the plan's own period."""
        plan = get_plan(unit.meta.get("plan_id", ""))
        for y in u.years:
            if str(y) in evidence:
                continue
            if plan and plan.meta.period_start <= y <= plan.meta.period_end:
                continue
            return False
        return True

    @staticmethod
    def _office_supported(u: Understanding, unit) -> bool:
        """A question naming an office is answered only by evidence about that office.

        A task must list the office (or its predecessor/successor). A section is not held to this:
        office-like phrases ("UBND cấp xã", "bộ phận một cửa") are often the topic, not the subject.
        """
        named = [o for o in u.office_ids if not duty_answers.is_group(o)]
        if not named:
            return True
        if unit.kind == "plan_task":
            ids = set(unit.meta.get("lead_ids", [])) | set(unit.meta.get("support_ids", []))
            if ids & set(duty_answers.related_offices(named)):
                return True
            # "Đánh giá chất lượng giải quyết TTHC của Bộ phận Một cửa …": the office is what the
            # task is about (named in its text), not who carries it out.
            from knowledge.offices import load_offices, normalise

            text = f" {normalise(unit.text)} "
            directory = load_offices()
            return any(f" {normalise(name)} " in text for oid in named if (office := directory.get(oid))
                       for name in (office.name, *office.aliases) if len(normalise(name).split()) >= 2)
        return True  # sections are held to the evidence and answer-type checks instead


def _answer_body(reply_text: str) -> str:
    """The evidence part of a composed answer: without the "Theo …:" header and item labels."""
    body = reply_text.split("\n", 1)[1] if "\n" in reply_text else reply_text
    return re.sub(r"(Nhiệm vụ|Mục) [\w.]+:", " ", body)


def _office_label(text: str, office_ids: list[str]) -> str:
    """The office as the person wrote it (for a clarification question)."""
    name = duty_answers.office_name(office_ids[0]) if office_ids else "Cơ quan này"
    # Drop the locality tail ("Phòng Nội vụ thành phố Tây Ninh" → "Phòng Nội vụ") for the question.
    for cut in (" thanh pho", " thi xa", " tinh", " huyen"):
        idx = fold(name).find(cut)
        if idx > 0:
            return name[:idx]
    return name
