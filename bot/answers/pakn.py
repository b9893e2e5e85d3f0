"""PAKN (phản ánh, kiến nghị) in chat: fill content, place and contact, confirm, submit; look up status.

The flow is a small state machine kept in the conversation state (`pending`), so it survives a
restart between two messages:  content → location → contact → confirm → submitted.
"""
from __future__ import annotations

import re
import uuid
from collections.abc import Callable
from typing import Any

from bot.types import InboundMessage, Reply
from bot.understand import PAKN_CODE, PAKN_TRIGGER, Understanding
from vntext import fold

STATUS_VI = {"received": "Đã tiếp nhận", "forwarded": "Đã chuyển đến cơ quan xử lý", "in_progress": "Đang xử lý",
             "answered": "Đã có trả lời", "closed": "Đã đóng", "transferred": "Đã chuyển cơ quan khác",
             "rejected": "Không thụ lý"}
# A whole message that cancels, confirms or asks to change a field; a sentence that merely starts
# with "thôi"/"có" ("thời gian gần đây …", "có thể sửa địa chỉ không") is none of them.
_TAIL = r"( nua| dau| nhe| nha| a| di| luon| roi| ha)*[ .!]*$"
CANCEL = re.compile(r"^(huy|huy bo|thoi|thoi khong gui|khong gui|ko gui|k gui|dung lai|cancel|bo qua phan anh)"
                    + _TAIL)  # not "không cần": at the contact step that skips the contact
SKIP = re.compile(r"^(bo qua|khong|ko|k|khong can|ko can|skip|khong co)" + _TAIL)
CONFIRM = re.compile(r"^(dong y|gui|gui di|xac nhan|ok|oke|okay|co|co gui|dung|dung roi|yes|chinh xac|"
                     r"gui luon|gui nhe)" + _TAIL)
EDIT = re.compile(r"\b(sua|doi|chinh|nhap lai|ghi lai|thay)\b.*?\b(noi dung|dia diem|dia chi|cho|noi|lien he|"
                  r"so dien thoai|sdt|dien thoai|email)\b")
EDIT_FIELD = {"noi dung": "content", "dia diem": "location", "dia chi": "location", "cho": "location",
              "noi": "location", "lien he": "contact", "so dien thoai": "contact", "sdt": "contact",
              "dien thoai": "contact", "email": "contact"}
MIN_CONTENT_WORDS = 4


def start_pakn(msg: InboundMessage, u: Understanding) -> tuple[Reply, dict]:
    """Begin a petition; keep any content already written after the trigger words."""
    content = _strip_trigger(msg.text)
    pending = {"type": "pakn", "step": "content", "content": "", "location": None, "contact": None,
               "media": [a.model_dump() for a in msg.attachments], "draft": uuid.uuid4().hex}
    if len(content.split()) >= MIN_CONTENT_WORDS and _content_problem(content) is None:
        pending["content"] = content
        return _ask("location", pending), pending
    return _ask("content", pending), pending


def continue_pakn(msg: InboundMessage, pending: dict, *, database_url: str | None = None,
                  triage: Callable[..., Any] | None = None) -> tuple[Reply, dict | None]:
    """One more message of a petition being written. Each field is checked when it is given, so
    the citizen fixes it there; nothing they wrote is dropped because a later check failed."""
    text = (msg.text or "").strip()
    folded = fold(text)
    pending = dict(pending)
    pending["media"] = pending.get("media", []) + [a.model_dump() for a in msg.attachments]
    if CANCEL.match(folded):
        return Reply(reply="Đã hủy phản ánh. Bạn cần hỗ trợ gì thêm không?", intent="pakn_submit",
                     answered=True), None
    if code := PAKN_CODE.search(text):
        # A status question in the middle: answer it and keep the draft where it was.
        status = status_reply(code[0], channel=msg.channel, user_id=msg.user_id)
        return Reply(reply=status.reply + "\n\n(Phản ánh bạn đang soạn vẫn được giữ; bạn tiếp tục nhé, "
                           "hoặc gõ “Hủy”.)", intent="pakn_status", answered=status.answered), pending
    step = pending.get("step")
    if step == "content":
        problem = _content_problem(text)
        if problem:
            return _retry(problem, "content", pending), pending
        pending["content"] = text
        return _next_after("content", pending), pending
    if step == "location":
        loc = next((a for a in msg.attachments if a.kind == "location"), None)
        if loc is not None:
            pending["location"] = f"{loc.latitude},{loc.longitude}"
        elif text:
            if problem := _field_problem("location", text):
                return _retry(problem, "location", pending), pending
            pending["location"] = text
        else:
            return _ask("location", pending), pending
        return _next_after("location", pending), pending
    if step == "contact":
        if SKIP.match(folded):
            pending["contact"] = None
        else:
            if problem := _field_problem("contact", text):
                return _retry(problem + " Hoặc gõ “Bỏ qua” nếu không muốn để lại.", "contact", pending), pending
            pending["contact"] = text
        pending["step"] = "confirm"
        return _confirm(pending), pending
    if step == "confirm":
        if CONFIRM.match(folded):
            return _submit(msg, pending, database_url, triage)
        if edit := EDIT.search(folded):
            return _ask(EDIT_FIELD[edit[2]], pending, editing=True), pending
        return _confirm(pending, again=True), pending
    return Reply(reply="Đã hủy phản ánh.", intent="pakn_submit", answered=True), None


QUESTIONS = {
    "content": "Bạn vui lòng mô tả nội dung phản ánh, kiến nghị: sự việc gì, từ khi nào, ảnh hưởng ra sao "
               "(có thể gửi kèm ảnh).",
    "location": "Sự việc xảy ra ở đâu? Bạn ghi rõ địa chỉ, xã/phường và tỉnh/thành phố (hoặc gửi vị trí).",
    "contact": "Bạn để lại số điện thoại hoặc email để cơ quan phản hồi (không bắt buộc, gõ “bỏ qua” nếu "
               "không muốn).",
}


def _ask(step: str, pending: dict, *, editing: bool = False) -> Reply:
    pending["editing"] = editing
    return _retry(None, step, pending)


def _retry(problem: str | None, step: str, pending: dict) -> Reply:
    """Ask for `step` (again, saying what was wrong with the last answer, when `problem`)."""
    pending["step"] = step
    text = f"{problem.rstrip('.')}. {QUESTIONS[step]}" if problem else QUESTIONS[step]
    return Reply(reply=text, intent="pakn_submit", answered=True,
                 suggestions=["Bỏ qua", "Hủy"] if step == "contact" else ["Hủy"])


def _next_after(step: str, pending: dict) -> Reply:
    """The next question, or straight back to the confirmation after an edit."""
    if pending.pop("editing", False):
        pending["step"] = "confirm"
        return _confirm(pending)
    following = {"content": "location", "location": "contact"}[step]
    return _ask(following, pending)


def _content_problem(text: str) -> str | None:
    from pakn.errors import PaknValidationError
    from pakn.service import validate_content

    if len(text.split()) < MIN_CONTENT_WORDS:
        return "Nội dung còn quá ngắn. Bạn vui lòng mô tả rõ sự việc (ít nhất vài câu)."
    try:
        validate_content(text)
    except PaknValidationError as exc:
        return str(exc)
    return None


def _field_problem(step: str, text: str) -> str | None:
    """What is wrong with a location or contact as typed (the checks `pakn.service` runs at submit)."""
    from pakn.errors import PaknValidationError
    from pakn.service import check_location, parse_contact

    try:
        check_location(text) if step == "location" else parse_contact(text)
    except PaknValidationError as exc:
        return str(exc)
    return None


def _strip_trigger(text: str) -> str:
    folded = fold(text)
    m = PAKN_TRIGGER.search(folded)
    if not m:
        return text.strip()
    # Folding keeps one character per character, so the fold's offsets index the original text.
    if len(folded) != len(text):
        return text.strip()
    group = "what" if m.group("what") else "what2"
    # "tôi muốn tố cáo X …": the words "khiếu nại"/"tố cáo" stay in the content, where triage
    # reads them (they change the legal procedure and the office); "tôi muốn phản ánh" goes.
    start = m.start(group) if m.group(group) in ("khieu nai", "to cao") else m.end()
    return text[start:].lstrip(" :,.-–").strip()


def _confirm(pending: dict, *, again: bool = False) -> Reply:
    pending["step"] = "confirm"
    contact = pending.get("contact") or "không để lại"
    media = f"\n• Tệp đính kèm: {len(pending['media'])}" if pending.get("media") else ""
    lead = "Phản ánh chưa được gửi. " if again else ""
    return Reply(reply=(f"{lead}Xin xác nhận phản ánh của bạn:\n• Nội dung: {pending['content']}\n"
                        f"• Địa điểm: {pending.get('location') or 'chưa rõ'}\n• Liên hệ: {contact}{media}\n"
                        "Gõ “Gửi” để gửi, “Sửa địa điểm” (hoặc nội dung, liên hệ) để sửa, hoặc “Hủy” để bỏ."),
                 intent="pakn_submit", answered=True, suggestions=["Gửi", "Sửa địa điểm", "Hủy"])


def _legal_notice(content: str) -> str:
    """What the law of a complaint/denunciation says about its time limits and the denouncer's
    protection, citing the articles (pakn.triage.legal_notice; data: knowledge/pakn/legal_deadlines.yaml)."""
    from pakn.triage import detect_complaint, legal_notices

    return " ".join(legal_notices(*detect_complaint(content))) or ("Nội dung có dấu hiệu khiếu nại, tố cáo, được giải quyết theo Luật Khiếu nại 2011 "
                               "và Luật Tố cáo 2018, không theo thủ tục phản ánh, kiến nghị.")


def _submit(msg: InboundMessage, pending: dict, database_url: str | None = None,
            triage: Callable[..., Any] | None = None) -> tuple[Reply, dict | None]:
    """Store the petition. One draft is one petition: a double tap or a retried message sends the
    same draft id as external id, and the store answers the second with the first's record."""
    from db import session_scope
    from pakn.errors import PaknValidationError
    from pakn.service import submit

    draft = pending.get("draft")
    external_id = (f"chat:{msg.user_id}:{msg.message_id}" if msg.message_id
                   else f"chat-draft:{msg.user_id}:{draft}" if draft else None)
    try:
        with session_scope(database_url) as session:
            record = submit(session, content=pending["content"], location=pending.get("location"),
                            contact=pending.get("contact"), channel=msg.channel, channel_user_id=msg.user_id,
                            external_id=external_id, media=pending.get("media") or None, triage=triage)
            code, office, due = record.code, record.office_name, record.due_at
            notice = _legal_notice(record.content) if getattr(record, "is_complaint", False) else None
            cluster = _cluster_notice(session, record)
            # An old address (before 1/7/2025) was read as today's unit: say which, or the office
            # named below would puzzle someone who wrote "Phường 3, TP Tây Ninh".
            successor = (getattr(record, "locality", None) or {}).get("successor_note")
    except PaknValidationError as exc:
        # Keep the draft and ask for the field that failed; nothing the citizen wrote is lost.
        step = exc.field if exc.field in QUESTIONS else "content"
        return Reply(reply=f"Chưa gửi được phản ánh: {str(exc).rstrip('.')}. {QUESTIONS[step]}",
                     intent="pakn_submit", answered=False, suggestions=["Hủy"]), {**pending, "step": step}
    if cluster:
        # The same problem at the same place is an open case already: say so, with its code, and
        # that the answer will come here — nothing about the other people who reported it.
        return Reply(reply="\n".join([f"Đã tiếp nhận phản ánh của bạn. Mã tra cứu: {code}", cluster,
                                       "Khi cơ quan trả lời, bạn sẽ nhận được câu trả lời qua kênh này.",
                                       f"Bạn có thể gõ “tra cứu {code}” để xem tình trạng xử lý."]),
                     intent="pakn_submit", answered=True, suggestions=[f"Tra cứu {code}"]), None
    due_text = due.strftime("%d/%m/%Y") if due else "theo quy định"
    lines = [f"Đã tiếp nhận phản ánh của bạn. Mã tra cứu: {code}",
             f"Cơ quan xử lý: {office}", f"Hạn xử lý dự kiến: {due_text}",
             f"Bạn có thể gõ “tra cứu {code}” để xem tình trạng xử lý."]
    if successor:
        lines.insert(2, f"Địa bàn: {successor}.")
    if notice:
        lines.append(f"Lưu ý: {notice}")
    return Reply(reply="\n".join(lines), intent="pakn_submit", answered=True, suggestions=[f"Tra cứu {code}"]), None


def _cluster_notice(session, record) -> str | None:
    """"Đã có N người phản ánh việc này (mã …), đang được xử lý." for a report that joined an open
    case (pakn.clusters); None otherwise (and for stand-ins of the record in tests)."""
    if getattr(record, "primary_id", None) is None:
        return None
    from pakn.clusters import intake_notice

    return intake_notice(session, record)


def help_reply() -> Reply:
    """How to petition — for "phản ánh thì gửi ở đâu?", "khiếu nại thì làm thế nào?"."""
    return Reply(reply=("Bạn có thể gửi phản ánh, kiến nghị ngay tại đây: gõ “Tôi muốn phản ánh” rồi mô tả sự việc, "
                        "địa điểm và (nếu muốn) số điện thoại; tôi sẽ cấp mã tra cứu, chuyển đến cơ quan có thẩm "
                        "quyền và báo hạn xử lý. Bạn cũng có thể gửi trên Cổng Dịch vụ công quốc gia "
                        "(dichvucong.gov.vn, mục Phản ánh kiến nghị).\n"
                        "Khiếu nại, tố cáo là thủ tục riêng (Luật Khiếu nại 2011, Luật Tố cáo 2018): gửi đơn đến "
                        "cơ quan đã ra quyết định hoặc cơ quan quản lý người bị tố cáo, hoặc qua Ban Tiếp công dân; "
                        "nếu bạn gửi ở đây, tôi sẽ ghi nhận và chuyển đến cơ quan có thẩm quyền."),
                 intent="pakn_help", answered=True, suggestions=["Tôi muốn phản ánh", "Tra cứu phản ánh"])


def status_reply(code: str | None, *, channel: str | None = None, user_id: str | None = None,
                 database_url: str | None = None) -> Reply:
    """The status of one petition by its code; without a code, the petitions this person sent
    from this channel (a code is not something people keep)."""
    from db import session_scope
    from pakn.privacy import redact_public
    from pakn.published import is_private
    from pakn.service import get_by_code

    if code:
        code = re.sub(r"[\s\-–—]", "", code).upper()
    elif channel and user_id:
        return _my_petitions(channel, user_id, database_url=database_url)
    else:
        return Reply(reply="Bạn cho tôi mã tra cứu phản ánh (dạng PA-2612-XXXXX-XXXXX) để tôi xem tình trạng xử lý.",
                     intent="pakn_status", answered=False)
    from pakn.clusters import shared

    with session_scope(database_url) as session:
        record = get_by_code(session, code)
        if record is None:
            return Reply(reply=f"Không tìm thấy phản ánh có mã {code}. Bạn kiểm tra lại mã tra cứu giúp tôi.",
                         intent="pakn_status", answered=False)
        # A report linked to an open case shows that case's status, office, due date and answer.
        case = shared(session, record)
        due = case.due_at.strftime("%d/%m/%Y") if case.due_at else "—"
        same = f" (cùng sự việc với phản ánh {case.code})" if case is not record else ""
        lines = [f"Phản ánh {record.code}{same}: {STATUS_VI.get(case.status, case.status)}.",
                 f"Cơ quan xử lý: {case.office_name}. Hạn xử lý: {due}."]
        # "Own" answers are read unmasked: the sender's own record; never another citizen's case.
        own = case is record and bool(channel and user_id and record.channel == channel
                                      and record.channel_user_id == user_id)
        reply_text = _last_reply(case)
        if reply_text and is_private(case) and not own:
            # Someone else holding the code of a complaint or denunciation learns its status only.
            lines.append("Cơ quan đã có văn bản trả lời; nội dung được gửi trực tiếp cho người gửi.")
        elif reply_text:
            # The sender reads the answer as it was written; anyone else as the public does (masked).
            lines.append(f"Trả lời của cơ quan: {reply_text if own else redact_public(reply_text)}")
    return Reply(reply="\n".join(lines), intent="pakn_status", answered=True)


def _my_petitions(channel: str, user_id: str, limit: int = 5, *, database_url: str | None = None) -> Reply:
    from sqlalchemy import select

    from db import session_scope
    from pakn.models import PaknRecord

    with session_scope(database_url) as session:
        records = session.scalars(select(PaknRecord).where(
            PaknRecord.channel == channel, PaknRecord.channel_user_id == user_id)
            .order_by(PaknRecord.created_at.desc()).limit(limit)).all()
        lines = [f"• {r.code} ({r.created_at:%d/%m/%Y}): {STATUS_VI.get(r.status, r.status)} — {r.office_name}"
                 for r in records]
    if not lines:
        return Reply(reply="Tôi chưa thấy phản ánh nào bạn gửi từ kênh này. Nếu bạn có mã tra cứu (dạng "
                           "PA-2612-XXXXX-XXXXX), hãy gửi mã để tôi xem tình trạng xử lý.", intent="pakn_status",
                     answered=False)
    return Reply(reply="Các phản ánh bạn đã gửi:\n" + "\n".join(lines) + "\nGõ “tra cứu <mã>” để xem chi tiết.",
                 intent="pakn_status", answered=True, suggestions=[f"Tra cứu {lines[0].split()[1]}"])


def _last_reply(record) -> str | None:
    events = getattr(record, "events", None) or []
    replies = [e for e in events if getattr(e, "kind", "") == "reply" and getattr(e, "note", None)]
    return replies[-1].note if replies else None
