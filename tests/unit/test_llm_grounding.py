"""Optional LLM phrasing against a real HTTP fake: faithful rewrites pass, invented facts are rejected."""
from __future__ import annotations

from bot.llm import ungrounded_claims
from bot.types import Citation, Reply

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


