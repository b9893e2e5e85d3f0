"""Typed dialogue: what a message asks (`Intent`) and what a conversation remembers between turns.

The conversation state used to be a dict of string keys, written and read in many places; a typo
in a key was a silent bug. `ConversationState` names every key once, and its pending step is one
of a closed set of typed steps (a petition being drafted, a clarification question awaiting its
answer), told apart by their `type`. Stored rows are still JSON dicts of the same shape, so rows
written before this model load into it (`ConversationState.from_stored`) and rows written by it
load in older code.
"""
from __future__ import annotations

import logging
import re
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING, Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

if TYPE_CHECKING:
    from bot.types import InboundMessage, Reply
    from bot.understand import Understanding

log = logging.getLogger(__name__)

# A message worth reading holds a word of two letters or more (not only emoji, punctuation, a digit).
READABLE = re.compile(r"[^\W_]{2,}")


class Intent(StrEnum):
    """What a message asks for, and what the last turn was about (`ConversationState.last_intent`).

    A `StrEnum`: it is its stored and displayed string, so replies and stored rows keep their values.
    """

    UNKNOWN = "unknown"
    GREETING = "greeting"
    THANKS = "thanks"
    PAKN_STATUS = "pakn_status"
    PAKN_SUBMIT = "pakn_submit"
    PAKN_QUESTION = "pakn_question"
    DUTY = "duty"
    PLAN = "plan"
    PROCEDURE = "procedure"
    PROCEDURE_FOLLOW_UP = "procedure_follow_up"
    TASK_FOLLOW_UP = "task_follow_up"


class PetitionDraft(BaseModel):
    """A petition (PAKN) being filled in over several turns (see `bot/answers/pakn.py`).

    Extra keys are kept: the petition flow owns its draft's fields and may add some."""

    model_config = ConfigDict(extra="allow")

    type: Literal["pakn"] = "pakn"
    step: str = "content"
    content: str = ""
    location: str | None = None
    contact: str | None = None
    media: list[dict[str, Any]] = Field(default_factory=list)
    draft: str | None = None
    editing: bool = False

    def as_flow(self) -> dict[str, Any]:
        """The draft as the petition flow reads and writes it."""
        return self.model_dump()


class Clarification(BaseModel):
    """We asked which locality the person meant; their answer is read with the original question."""

    type: Literal["clarify"] = "clarify"
    text: str


class VariantChoice(BaseModel):
    """Several procedures fit the question ("làm căn cước": lần đầu, đổi or lại?); the next message may
    pick one by its button label, its number or its own words (`bot/variants.py`), and is then
    answered with the fields the original question asked.

    `asked`: True when we asked the family's question and answered nothing yet; False when we
    answered the family's default and offered the others as buttons. `options` are catalogue keys,
    `labels` their buttons, in the order shown (the numbers the citizen may type)."""

    type: Literal["variant"] = "variant"
    family: str
    question: str
    fields: list[str] = Field(default_factory=list)
    options: list[str] = Field(min_length=1)
    labels: list[str] = Field(default_factory=list)
    asked: bool = True
    asked_again: bool = False  # the answer picked nothing and we asked once more (never a third time)


Pending = Annotated[PetitionDraft | Clarification | VariantChoice, Field(discriminator="type")]


class ConversationState(BaseModel):
    """What the next turn of one (channel, user) conversation needs from the turns before it."""

    model_config = ConfigDict(extra="ignore")

    pending: Pending | None = None
    last_intent: Intent | None = None
    office_ids: list[str] = Field(default_factory=list)
    plan_ids: list[str] = Field(default_factory=list)
    period_text: str | None = None
    procedure: str | None = None
    fields: list[str] = Field(default_factory=list)
    task: list[str] | None = None  # [plan id, task key] of the task last answered
    last_question: str | None = None
    last_meta: str | None = None  # the plan facts last asked for ("signer", "count+date")

    @classmethod
    def from_stored(cls, stored: dict[str, Any] | None) -> ConversationState:
        """A stored row (a JSON dict, possibly written by older code) as a state.

        A row that no longer validates (a pending step of a kind since removed) starts the
        conversation afresh rather than failing every later message of that person."""
        if not stored:
            return cls()
        try:
            return cls.model_validate(stored)
        except ValidationError:
            log.warning("conversation state unreadable; starting afresh", exc_info=True)
            return cls()

    def to_stored(self) -> dict[str, Any]:
        """The JSON dict to store (every key, so a row says all the next turn reads)."""
        return self.model_dump(mode="json")

    def but(self, **changes: Any) -> ConversationState:
        """A copy with some keys changed (the state of the next turn); validated like a load, so
        a pending step handed over as a dict (the petition flow's) becomes its typed model."""
        return type(self).model_validate({**self.model_dump(), **changes})

    def without_pending(self) -> ConversationState:
        return self.but(pending=None)


@dataclass(frozen=True)
class Query:
    """One message, read once (`ChatService._read`) and handed unchanged to every handler.

    `read` is the message as written (with the question it answers, after a clarification);
    `understanding` is what it means in this conversation: typos mended, a follow-up filled in from
    the last turn. Both are None when the message is not read (nothing to read, or a petition draft
    takes it as it is). `choice` is the variant choice the last turn offered, which this message
    may answer ("2", a button's label); the state handed to the handlers no longer holds it."""

    msg: InboundMessage
    text: str
    folded: str
    terms: tuple[str, ...]
    read: Understanding | None = None
    understanding: Understanding | None = None
    choice: VariantChoice | None = None

    @property
    def as_read(self) -> Understanding:
        if self.read is None:
            raise ValueError("the message was not read")  # only handlers after _nothing_to_read ask
        return self.read

    @property
    def meant(self) -> Understanding:
        if self.understanding is None:
            raise ValueError("the message was not read")
        return self.understanding


@dataclass(frozen=True)
class Refusal:
    """A decision not to answer; its words are chosen in one place (`ChatService._refuse`)."""

    kind: Literal["out_of_scope", "no_evidence"]
    reason: str | None = None


@dataclass(frozen=True)
class Turn:
    """What a handler decided: the reply (or a refusal) and the state for the next turn."""

    reply: Reply | Refusal
    state: ConversationState


Handler = Callable[[Query, ConversationState], "Turn | None"]
