"""The LLM phraser against a fake OpenAI-compatible HTTP server (moved from tests/unit: it starts a server)."""
from __future__ import annotations

import pytest

from bot.llm import LLMPhraser
from bot.types import Reply
from tests.fakes.openai_server import FakeOpenAI
from tests.unit.test_llm_grounding import ANSWER, _user_answer

pytestmark = pytest.mark.integration


class TestPhraserAgainstFakeServer:
    def test_faithful_rewrite_is_used(self):
        with FakeOpenAI(lambda m: "Dạ, " + _user_answer(m)) as fake:
            out = LLMPhraser(fake.base_url, "k", "fake-model").rephrase("phí chứng thực?", ANSWER)
        assert out.reply.startswith("Dạ, ")
        assert fake.requests and fake.requests[0]["body"]["model"] == "fake-model"
        assert out.citations == ANSWER.citations

    def test_rewrite_that_invents_a_number_falls_back(self):
        with FakeOpenAI(lambda m: "Lệ phí chứng thực là 50.000 đồng một bản.") as fake:
            out = LLMPhraser(fake.base_url, "k", "fake-model").rephrase("phí chứng thực?", ANSWER)
        assert len(fake.requests) == 1
        assert out.reply == ANSWER.reply

    def test_timeout_falls_back(self):
        with FakeOpenAI(lambda m: "chậm", delay_s=1.5) as fake:
            out = LLMPhraser(fake.base_url, "k", "m", timeout=0.3).rephrase("q", ANSWER)
        assert out.reply == ANSWER.reply

    @pytest.mark.parametrize("answered", [False])
    def test_refusals_are_not_sent_to_the_model(self, answered):
        refusal = Reply(reply="Tôi không biết.", intent="no_evidence", answered=answered)
        with FakeOpenAI(lambda m: "bịa") as fake:
            out = LLMPhraser(fake.base_url, "k", "m").rephrase("q", refusal)
        assert out == refusal and fake.requests == []
