"""PAKN (phản ánh, kiến nghị) in chat: fill content, place and contact, confirm, submit; look up status.

The flow is a small state machine kept in the conversation state (`pending`), so it survives a
restart between two messages:  content → location → contact → confirm → submitted.
"""
from __future__ import annotations

import re

from bot.types import InboundMessage, Reply
from bot.understand import PAKN_TRIGGER, Understanding
from knowledge.plans import fold

STATUS_VI = {"received": "Đã tiếp nhận", "forwarded": "Đã chuyển đến cơ quan xử lý", "in_progress": "Đang xử lý",
             "answered": "Đã có trả lời", "closed": "Đã đóng", "transferred": "Đã chuyển cơ quan khác",
             "rejected": "Không thụ lý"}
CANCEL = re.compile(r"^(huy|thoi|khong gui|dung lai|cancel|bo qua phan anh)\b")
SKIP = re.compile(r"^(bo qua|khong|ko|k|khong can|skip)\b")
CONFIRM = re.compile(r"^(dong y|gui|xac nhan|ok|co|dung|yes|gui di|chinh xac)\b")
MIN_CONTENT_WORDS = 4


def start_pakn(msg: InboundMessage, u: Understanding) -> tuple[Reply, dict]:
    """Begin a petition; keep any content already written after the trigger words."""
    content = _strip_trigger(msg.text)
    pending = {"type": "pakn", "step": "content", "content": "", "location": None, "contact": None,
               "media": [a.model_dump() for a in msg.attachments]}
    if len(content.split()) >= MIN_CONTENT_WORDS:
        pending["content"] = content
        return _ask_location(pending), pending
    return Reply(reply="Bạn vui lòng mô tả nội dung phản ánh, kiến nghị: sự việc gì, từ khi nào, ảnh hưởng ra sao "
                       "(có thể gửi kèm ảnh).", intent="pakn_submit", answered=True,
                 suggestions=["Hủy"]), pending


def continue_pakn(msg: InboundMessage, pending: dict) -> tuple[Reply, dict | None]:
    text = (msg.text or "").strip()
    folded = fold(text)
    pending = dict(pending)
    pending["media"] = pending.get("media", []) + [a.model_dump() for a in msg.attachments]
    if CANCEL.match(folded):
        return Reply(reply="Đã hủy phản ánh. Bạn cần hỗ trợ gì thêm không?", intent="pakn_submit",
                     answered=True), None
    step = pending.get("step")
    if step == "content":
        if len(text.split()) < MIN_CONTENT_WORDS:
            return Reply(reply="Nội dung còn quá ngắn. Bạn vui lòng mô tả rõ sự việc (ít nhất vài câu).",
                         intent="pakn_submit", answered=True, suggestions=["Hủy"]), pending
        pending["content"] = text
        return _ask_location(pending), pending
    if step == "location":
        loc = next((a for a in msg.attachments if a.kind == "location"), None)
        if loc is not None:
            pending["location"] = f"{loc.latitude},{loc.longitude}"
        elif text:
            pending["location"] = text
        else:
            return _ask_location(pending), pending
        pending["step"] = "contact"
        return Reply(reply="Bạn để lại số điện thoại hoặc email để cơ quan phản hồi (không bắt buộc, "
                           "gõ “bỏ qua” nếu không muốn).", intent="pakn_submit", answered=True,
                     suggestions=["Bỏ qua"]), pending
    if step == "contact":
        pending["contact"] = None if SKIP.match(folded) else text
        pending["step"] = "confirm"
        return _confirm(pending), pending
    if step == "confirm":
        if CONFIRM.match(folded):
            return _submit(msg, pending), None
        return _confirm(pending), pending
    return Reply(reply="Đã hủy phản ánh.", intent="pakn_submit", answered=True), None


def _strip_trigger(text: str) -> str:
    folded = fold(text)
    m = PAKN_TRIGGER.search(folded)
    if not m:
        return text.strip()
    # Folding keeps one character per character, so the fold's offsets index the original text.
    rest = text[m.end():] if len(folded) == len(text) else text
    return rest.lstrip(" :,.-–").strip()


def _ask_location(pending: dict) -> Reply:
    pending["step"] = "location"
    return Reply(reply="Sự việc xảy ra ở đâu? Bạn ghi rõ địa chỉ, xã/phường và tỉnh/thành phố (hoặc gửi vị trí).",
                 intent="pakn_submit", answered=True, suggestions=["Hủy"])


def _confirm(pending: dict) -> Reply:
    contact = pending.get("contact") or "không để lại"
    media = f"\n• Tệp đính kèm: {len(pending['media'])}" if pending.get("media") else ""
    return Reply(reply=(f"Xin xác nhận phản ánh của bạn:\n• Nội dung: {pending['content']}\n"
                        f"• Địa điểm: {pending.get('location') or 'chưa rõ'}\n• Liên hệ: {contact}{media}\n"
                        "Gõ “Gửi” để gửi hoặc “Hủy” để bỏ."),
                 intent="pakn_submit", answered=True, suggestions=["Gửi", "Hủy"])


def _submit(msg: InboundMessage, pending: dict) -> Reply:
    from knowledge.store import session_scope
    from pakn.errors import PaknValidationError
    from pakn.service import submit

    try:
        with session_scope() as session:
            record = submit(session, content=pending["content"], location=pending.get("location"),
                            contact=pending.get("contact"), channel=msg.channel, channel_user_id=msg.user_id,
                            external_id=f"chat:{msg.user_id}:{msg.message_id}" if msg.message_id else None,
                            media=pending.get("media") or None)
            code, office, due = record.code, record.office_name, record.due_at
            notice = "Nội dung có dấu hiệu khiếu nại, tố cáo" if getattr(record, "is_complaint", False) else None
    except PaknValidationError as exc:
        return Reply(reply=f"Chưa gửi được phản ánh: {exc}. Bạn vui lòng sửa lại rồi gửi lại.",
                     intent="pakn_submit", answered=False)
    due_text = due.strftime("%d/%m/%Y") if due else "theo quy định"
    lines = [f"Đã tiếp nhận phản ánh của bạn. Mã tra cứu: {code}",
             f"Cơ quan xử lý: {office}", f"Hạn xử lý dự kiến: {due_text}",
             f"Bạn có thể gõ “tra cứu {code}” để xem tình trạng xử lý."]
    if notice:
        lines.append(f"Lưu ý: {notice}, được giải quyết theo Luật Khiếu nại 2011 và Luật Tố cáo 2018, "
                     "không theo thủ tục phản ánh, kiến nghị.")
    return Reply(reply="\n".join(lines), intent="pakn_submit", answered=True, suggestions=[f"Tra cứu {code}"])


def status_reply(code: str | None) -> Reply:
    from knowledge.store import session_scope
    from pakn.service import get_by_code

    with session_scope() as session:
        record = get_by_code(session, code) if code else None
        if record is None:
            return Reply(reply=f"Không tìm thấy phản ánh có mã {code}. Bạn kiểm tra lại mã tra cứu giúp tôi.",
                         intent="pakn_status", answered=False)
        due = record.due_at.strftime("%d/%m/%Y") if record.due_at else "—"
        lines = [f"Phản ánh {record.code}: {STATUS_VI.get(record.status, record.status)}.",
                 f"Cơ quan xử lý: {record.office_name}. Hạn xử lý: {due}."]
        reply_text = _last_reply(record)
        if reply_text:
            lines.append(f"Trả lời của cơ quan: {reply_text}")
    return Reply(reply="\n".join(lines), intent="pakn_status", answered=True)


def _last_reply(record) -> str | None:
    events = getattr(record, "events", None) or []
    replies = [e for e in events if getattr(e, "kind", "") == "reply" and getattr(e, "note", None)]
    return replies[-1].note if replies else None
