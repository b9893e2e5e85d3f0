"""Optional LLM phrasing against a real HTTP fake: faithful rewrites pass, invented facts are rejected."""
from __future__ import annotations

import pytest

from bot.llm import LLMPhraser, ungrounded_claims
from bot.types import Citation, Reply
from tests.fakes.openai_server import FakeOpenAI

ANSWER = Reply(
    reply="Thủ tục “Chứng thực bản sao từ bản chính”:\nLệ phí: 2.000 đồng/trang; từ trang thứ 3 trở lên 1.000 đồng/trang.",
    intent="procedure", answered=True,
    citations=[Citation(source="2.000815", title="Chứng thực bản sao từ bản chính",
                        locator="Lệ phí — Thông tư 226/2016/TT-BTC")],
)


def _user_answer(messages: list[dict]) -> str:
    return messages[-1]["content"].split("CÂU TRẢ LỜI:\n", 1)[1]


class TestGroundingCheck:
    def test_numbers_in_evidence_pass(self):
        assert ungrounded_claims("Phí là 2.000 đồng mỗi trang", ANSWER.reply) == []

    def test_invented_number_is_caught(self):
        assert "50.000" in ungrounded_claims("Phí là 50.000 đồng", ANSWER.reply)

    def test_invented_document_is_caught(self):
        assert ungrounded_claims("Theo Nghị định Số 99", ANSWER.reply)


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
