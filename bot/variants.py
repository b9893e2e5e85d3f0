"""Which procedure variant a question means, and the one short question when its words do not say.

"Làm căn cước" fits three procedures with different papers and fees; answering the first card to
someone who lost theirs is a wrong answer with a citation. The families and the words that choose
inside them are data (`knowledge/lexicon/procedure_variants.yaml`); this module only reads a
message against them:

- `read_variant`: the family a question names and, when its words say, the option they choose;
- `pick`: which option a reply to our question (or to the buttons under a default answer) picks,
  by label, by number or by its words — or None when it is a new question;
- `ask_reply` / `offer_others`: the question with one button per option, and the buttons added
  under an answer of the family's default.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

from bot.dialogue import VariantChoice
from bot.types import Reply
from knowledge.procedure_variants import Family, Option, ProcedureVariants
from knowledge.procedures import Catalogue, match_fold

# "2", "số 2", "chọn 2", "cái thứ 2 ạ": the number of an option of the question we asked.
NUMBER = re.compile(r"^(?:(?:so|chon|cai|thu|phuong an|truong hop|muc|loai|lua chon)\s+)*(\d{1,2})"
                    r"(?:\s+(?:a|nhe|nha|ak|ah|ad|ha))?$")
# A reply longer than this that picks nothing is a question of its own, not an unclear answer.
MAX_UNCLEAR_WORDS = 6
MAX_SUGGESTIONS = 5  # Zalo shows five quick-reply buttons


@dataclass(frozen=True)
class VariantMatch:
    """A family the question names; `chosen` is the option its words choose (None: they do not)."""

    family: Family
    chosen: Option | None


def read_variant(text: str, variants: ProcedureVariants, catalogue: Catalogue) -> VariantMatch | None:
    """The family `text` names and the option its words choose, if any.

    The procedure the text names best by name or alias (if any) must be an option of a named family:
    "xin bản sao giấy khai sinh" names "khai sinh" but asks for a copy, another procedure, which the
    catalogue answers as before. When several families are named ("khai tử và xóa hộ khẩu"), the one
    whose words choose with the longest phrase wins; when none choose, the family of the procedure
    named by name, else the one named by the longest trigger.
    """
    folded = match_fold(text)
    named = variants.named_in(folded)
    if not named:
        return None
    found = catalogue.find_by_name(folded, limit=1, min_score=0.75)
    top = found[0].key if found else None
    if top is not None and not any(top in f.procedures for f, _ in named):
        return None
    decided = [(f, o, k) for f, _ in named for o, k in [f.decide(folded)] if o is not None]
    if decided:
        longest = max(k for _, _, k in decided)
        best = [(f, o) for f, o, k in decided if k == longest]
        if len({o.procedure for _, o in best}) == 1:
            return VariantMatch(*best[0])
    family = max(named, key=lambda fn: (top in fn[0].procedures, fn[1]))[0]
    return VariantMatch(family, None)


def pick(choice: VariantChoice, text: str, variants: ProcedureVariants, catalogue: Catalogue) -> str | None:
    """The catalogue key of the option this message picks, or None.

    A button sends its label back, so a label picks exactly; a number picks when we asked (the
    question numbers the options); otherwise the message's own words ("con tôi sinh ở nước ngoài"),
    unless it names a procedure or a family outside the choice — then it is a new question."""
    folded = match_fold(text)
    for key, label in zip(choice.options, choice.labels):
        if folded and folded == match_fold(label):
            return key
    if choice.asked and (m := NUMBER.match(folded)):
        n = int(m[1])
        return choice.options[n - 1] if 1 <= n <= len(choice.options) else None
    family = variants.get(choice.family)
    if family is None or not folded or names_something_else(choice, folded, variants, catalogue):
        return None
    option, _ = family.decide(folded, among=tuple(choice.options))
    return option.procedure if option else None


def names_something_else(choice: VariantChoice, folded: str, variants: ProcedureVariants,
                         catalogue: Catalogue) -> bool:
    """The message names a family or a procedure that has nothing to do with the choice (a new question)."""
    options = set(choice.options)
    if any(not options & set(f.procedures) for f, _ in variants.named_in(folded)):
        return True
    top = catalogue.find_by_name(folded, limit=1, min_score=0.75)
    return bool(top) and top[0].key not in options


def is_unclear(text: str) -> bool:
    """Short enough to be a (failed) answer to our question rather than a question of its own."""
    return len(match_fold(text).split()) <= MAX_UNCLEAR_WORDS


def ask_reply(family: Family, again: bool = False) -> Reply:
    """The family's question, its options numbered (for channels without buttons) and as buttons."""
    lead = "Bạn chọn giúp một trường hợp để tôi trả lời đúng thủ tục. " if again else ""
    lines = [f"{lead}{family.question}", *(f"{i}. {o.label}" for i, o in enumerate(family.options, 1))]
    return Reply(reply="\n".join(lines), intent="clarify", answered=True,
                 suggestions=[o.label for o in family.options])


def offer_others(reply: Reply, family: Family, answered: str) -> Reply:
    """The answer of one option, with the family's other options named and offered as buttons first."""
    others = [o for o in family.options if o.procedure != answered]
    if not others:
        return reply
    line = "Nếu bạn hỏi trường hợp khác, chọn: " + "; ".join(o.label for o in others) + "."
    labels = [o.label for o in others]
    suggestions = (labels + [s for s in reply.suggestions if s not in labels])[:MAX_SUGGESTIONS]
    return reply.model_copy(update={"reply": f"{reply.reply}\n{line}", "suggestions": suggestions})


def choice_for(family: Family, question: str, fields: list[str], asked: bool) -> VariantChoice:
    """The pending step that remembers the question until the next message picks (or does not)."""
    return VariantChoice(family=family.id, question=question, fields=list(fields), asked=asked,
                         options=list(family.procedures), labels=[o.label for o in family.options])
