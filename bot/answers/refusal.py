"""Honest refusals and help: what the bot says when it cannot or should not answer."""
from __future__ import annotations

from bot.types import Reply

WHERE_TO_ASK = ("Bạn có thể tra cứu trên Cổng Dịch vụ công quốc gia (dichvucong.gov.vn) hoặc hỏi trực tiếp "
                "Bộ phận Một cửa (Trung tâm phục vụ hành chính công) của xã, phường hoặc tỉnh nơi bạn ở.")

HELP_SUGGESTIONS = ["Đăng ký khai sinh cần giấy tờ gì?", "Lệ phí chứng thực bản sao bao nhiêu?",
                    "Sở Nội vụ Tây Ninh chủ trì những nhiệm vụ nào năm 2024?", "Tôi muốn gửi phản ánh"]


def help_reply(intent: str = "greeting") -> Reply:
    return Reply(
        reply=("Xin chào! Tôi là trợ lý hành chính công. Tôi có thể:\n"
               "• Hướng dẫn thủ tục hành chính: giấy tờ cần nộp, thời hạn, lệ phí, nơi nộp, nộp trực tuyến.\n"
               "• Tra cứu kế hoạch cải cách hành chính (CCHC) và nhiệm vụ của từng cơ quan.\n"
               "• Tiếp nhận phản ánh, kiến nghị (PAKN) và tra cứu tình trạng xử lý theo mã hồ sơ.\n"
               "Bạn cứ hỏi bằng tiếng Việt, có dấu hoặc không dấu đều được."),
        intent=intent, answered=True, suggestions=HELP_SUGGESTIONS,
    )


def out_of_scope(reason: str | None = None) -> Reply:
    """A question outside public administration."""
    text = reason or ("Xin lỗi, câu hỏi này nằm ngoài phạm vi của tôi. Tôi chỉ hỗ trợ thủ tục hành chính, "
                      "kế hoạch cải cách hành chính và phản ánh, kiến nghị.")
    return Reply(reply=f"{text}\n{WHERE_TO_ASK}", intent="out_of_scope", answered=False,
                 suggestions=HELP_SUGGESTIONS[:3])


def no_evidence(what: str | None = None) -> Reply:
    """In scope, but the knowledge base holds nothing that answers it: say so, never guess."""
    head = what or "Tôi không tìm thấy thông tin này trong các văn bản mà tôi đang có"
    return Reply(reply=f"{head}, nên không thể trả lời chính xác.\n{WHERE_TO_ASK}", intent="no_evidence",
                 answered=False, suggestions=HELP_SUGGESTIONS[:2])
