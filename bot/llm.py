"""Optional LLM phrasing (off unless LLM_BASE_URL is set), guarded by a grounding check.

The model only rewrites the deterministic answer more naturally; it never adds facts. Every
number, date, document code and capitalised name in its output must already be in the evidence
(the deterministic answer and its citations); otherwise the rewrite is dropped and the
deterministic answer is sent. Any error or timeout also falls back, so the LLM can only help.
"""
from __future__ import annotations

import logging
import re

from bot.types import Reply
from vntext import fold

log = logging.getLogger(__name__)

SYSTEM_PROMPT = (
    "Bạn là trợ lý hành chính công. Hãy viết lại CÂU TRẢ LỜI dưới đây bằng tiếng Việt tự nhiên, ngắn gọn, "
    "lịch sự. Chỉ dùng thông tin có trong CÂU TRẢ LỜI; không thêm số liệu, ngày tháng, tên cơ quan, "
    "lệ phí hay văn bản nào khác. Giữ nguyên mọi con số, ngày tháng, số hiệu văn bản."
)

_NUMBER = re.compile(r"\d[\d.,/]*\d|\d")
_CODE = re.compile(r"\b\d+/\d{4}/[A-ZĐ\-]+|\b\d+/[A-ZĐ]+-[A-ZĐ]+\b")
_NAME = re.compile(r"\b(?:Sở|Phòng|Văn phòng|Ủy ban|UBND|Trung tâm|Bộ|Thông tư|Nghị định|Luật|Quyết định|"
                   r"Kế hoạch)(?:\s+[A-ZĐÀ-Ỹ][\wÀ-ỹ]*)+")


def ungrounded_claims(text: str, evidence: str) -> list[str]:
    """Numbers, codes and proper names in `text` that the evidence does not contain."""
    ev_digits = {re.sub(r"[.,]", "", n) for n in _NUMBER.findall(evidence)}
    ev_fold = fold(evidence)
    missing = []
    for n in _NUMBER.findall(text):
        if re.sub(r"[.,]", "", n) not in ev_digits:
            missing.append(n)
    for c in _CODE.findall(text) + _NAME.findall(text):
        if fold(c) not in ev_fold:
            missing.append(c)
    return missing


class LLMPhraser:
    """Rephrase a reply through any OpenAI-compatible endpoint via LangChain."""

    def __init__(self, base_url: str, api_key: str, model: str, timeout: float = 8.0) -> None:
        from langchain_openai import ChatOpenAI

        self.chat = ChatOpenAI(base_url=base_url, api_key=api_key, model=model, timeout=timeout,
                               max_retries=0, temperature=0)

    def rephrase(self, question: str, reply: Reply) -> Reply:
        if not reply.answered or not reply.citations:
            return reply
        evidence = reply.reply + "\n" + "\n".join(f"{c.title} {c.locator}" for c in reply.citations)
        try:
            out = self.chat.invoke([("system", SYSTEM_PROMPT),
                                    ("user", f"CÂU HỎI: {question}\n\nCÂU TRẢ LỜI:\n{reply.reply}")])
            text = str(out.content).strip()
        except Exception as exc:  # noqa: BLE001 - network, timeout, bad response: the deterministic answer stands
            log.warning("llm rephrase failed: %s", type(exc).__name__)
            return reply
        missing = ungrounded_claims(text, evidence)
        if not text or missing:
            log.warning("llm rewrite rejected: %d ungrounded claims", len(missing))
            return reply
        return reply.model_copy(update={"reply": text})


def build_phraser() -> LLMPhraser | None:
    from settings import get_settings

    s = get_settings()
    if not s.llm_base_url:
        return None
    return LLMPhraser(s.llm_base_url, s.llm_api_key.get_secret_value(), s.llm_model, s.llm_timeout_s)
