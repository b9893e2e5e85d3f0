"""The typed conversation state: rows stored as JSON dicts (also by older code) load into it."""
from __future__ import annotations

import uuid

import pytest

from bot.dialogue import Clarification, ConversationState, Intent, PetitionDraft

# Rows exactly as the dict-based service wrote them.
OLD_ROWS = [
    {"last_intent": "duty", "office_ids": ["tay-ninh.so-noi-vu"], "plan_ids": ["tayninh-cchc-2024"],
     "period_text": None},
    {"last_intent": "duty", "office_ids": ["a", "b"], "plan_ids": [], "period_text": None,
     "pending": {"type": "clarify", "text": "Văn phòng UBND có những nhiệm vụ gì?"}},
    {"last_intent": "plan", "plan_ids": ["tayninh-cchc-2024"], "last_question": "nhiệm vụ 31 là gì",
     "task": ["tayninh-cchc-2024", "31"], "last_meta": None},
    {"last_intent": "procedure", "procedure": "1.001193", "fields": ["documents"]},
    {"last_intent": "pakn_submit", "pending": {"type": "pakn", "step": "location", "content": "Đèn đường hỏng",
                                               "location": None, "contact": None, "media": [],
                                               "draft": "d1", "editing": False}},
    {"last_intent": "pakn_submit", "pending": None},
    {},
]


@pytest.mark.parametrize("row", OLD_ROWS)
def test_old_rows_load_and_store_back_what_they_said(row):
    state = ConversationState.from_stored(row)
    stored = state.to_stored()
    for key, value in row.items():
        assert stored[key] == value
    assert ConversationState.from_stored(stored) == state


def test_pending_steps_are_typed():
    assert isinstance(ConversationState.from_stored(OLD_ROWS[1]).pending, Clarification)
    draft = ConversationState.from_stored(OLD_ROWS[4]).pending
    assert isinstance(draft, PetitionDraft) and draft.step == "location"
    assert ConversationState.from_stored(OLD_ROWS[2]).last_intent is Intent.PLAN


def test_a_petition_flow_key_unknown_to_the_model_is_kept():
    row = {"pending": {"type": "pakn", "step": "confirm", "content": "x", "attempts": 2}}
    assert ConversationState.from_stored(row).to_stored()["pending"]["attempts"] == 2


def test_an_unreadable_row_starts_afresh():
    assert ConversationState.from_stored({"pending": {"type": "no-such-step"}}) == ConversationState()


def test_a_clarification_stored_by_older_code_is_answered(store_engine):
    from bot.service import ChatService
    from bot.types import InboundMessage

    service = ChatService(engine=store_engine)
    user = uuid.uuid4().hex
    service.state.save("test", user, OLD_ROWS[1])
    r = service.handle(InboundMessage(channel="test", user_id=user, text="Hoài Nhơn"))
    assert r.intent == "duty" and "Phòng họp không giấy" in r.reply
