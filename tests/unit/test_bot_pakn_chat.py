"""Filing a petition by chat: each field is checked when given, nothing written is lost, the
confirmation step only sends on a clear yes, and one draft is one petition."""
from __future__ import annotations

import re
import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest

from bot.service import ChatService
from bot.types import InboundMessage

CONTENT = "đèn đường trước nhà văn hóa khu phố 3 bị hỏng hơn một tháng, buổi tối rất tối và nguy hiểm"
PLACE = "khu phố 3, phường Tân Ninh, tỉnh Tây Ninh"


@pytest.fixture(scope="module")
def service(store_engine):
    return ChatService(engine=store_engine)


def conversation(service):
    user = uuid.uuid4().hex
    return lambda text: service.handle(InboundMessage(channel="test", user_id=user, text=text))


def code_in(reply) -> str | None:
    m = re.search(r"PA-\d{4}-[0-9A-Z]{5}(?:-[0-9A-Z]{5})?", reply.reply)
    return m[0] if m else None


def test_a_bad_place_or_contact_is_asked_again_and_the_draft_kept(service):
    say = conversation(service)
    assert "ở đâu" in say(f"Tôi muốn phản ánh: {CONTENT}").reply
    again = say("truoc cho")
    assert "Không xác định được địa bàn" in again.reply and "ở đâu" in again.reply
    assert "số điện thoại" in say(PLACE).reply
    # A CCCD number is not a phone number; the phone next to it is what the office needs.
    confirm = say("Nguyen Van A, CCCD 072085001234, dt 0913 222 333")
    assert "Xin xác nhận" in confirm.reply and CONTENT in confirm.reply
    done = say("Gửi")
    assert code_in(done), done.reply


def test_an_invalid_phone_is_asked_again_not_dropped_at_the_end(service):
    say = conversation(service)
    say(f"em mun phan anh: {CONTENT}")
    say(PLACE)
    bad = say("0123")
    assert "Số điện thoại không hợp lệ" in bad.reply and "Bỏ qua" in bad.suggestions
    assert "Xin xác nhận" in say("không cần").reply  # skips the contact, does not cancel
    assert code_in(say("gửi nhé"))


def test_a_question_at_the_confirmation_does_not_send_and_a_field_can_be_changed(service):
    say = conversation(service)
    say(f"Tôi muốn phản ánh: {CONTENT}")
    say(PLACE)
    say("bỏ qua")
    held = say("có thể sửa địa chỉ được không")
    assert code_in(held) is None and "ở đâu" in held.reply  # asks for the place again, sends nothing
    back = say("tổ 5, khu phố 3, phường Tân Ninh, tỉnh Tây Ninh")
    assert "Xin xác nhận" in back.reply and "tổ 5" in back.reply
    assert code_in(say("Gửi"))


def test_cancel_only_on_a_cancel_message(service):
    say = conversation(service)
    say("Tôi muốn phản ánh")
    kept = say("thời gian gần đây đêm nào cũng có thanh niên tụ tập đua xe gây ồn ào")
    assert "Đã hủy" not in kept.reply and "ở đâu" in kept.reply
    assert "Đã hủy" in say("thôi không gửi nữa đâu").reply


def test_a_status_question_in_the_middle_keeps_the_draft(service):
    say = conversation(service)
    say("Tôi muốn phản ánh")
    status = say("tra cứu PA-2611-ZZZZZ")
    assert "Không tìm thấy phản ánh" in status.reply and "vẫn được giữ" in status.reply
    assert "ở đâu" in say(CONTENT).reply  # the next message is still the content


def test_emoji_is_not_a_description(service):
    say = conversation(service)
    say("Tôi muốn phản ánh")
    r = say("😡😡😡🤬💩 😡😡 😡 😡")
    assert "cần mô tả sự việc bằng chữ" in r.reply and "Sự việc xảy ra ở đâu" not in r.reply


def test_a_double_tap_files_one_petition(service):
    user = uuid.uuid4().hex

    def say(text):
        return service.handle(InboundMessage(channel="test", user_id=user, text=text))

    say(f"Tôi muốn phản ánh: {CONTENT}")
    say(PLACE)
    say("bỏ qua")
    with ThreadPoolExecutor(3) as pool:
        replies = list(pool.map(say, ["Gửi", "Gửi", "Gửi"]))
    codes = {code_in(r) for r in replies} - {None}
    assert len(codes) == 1, [r.reply for r in replies]


def test_the_words_complaint_and_denunciation_reach_triage(service):
    say = conversation(service)
    say("toi muon to cao nha hang xom xay dung trai phep lan chiem loi di chung cua xom")
    say(PLACE)
    say("bỏ qua")
    done = say("Gửi")
    assert code_in(done) and "Luật Tố cáo" in done.reply
    assert "Điều 30" in done.reply and "Điều 47" in done.reply  # the articles, not just the law


def test_an_old_address_is_read_as_todays_ward_and_the_citizen_told(service):
    say = conversation(service)
    say("Tôi muốn phản ánh: rác thải ùn ứ bốc mùi hôi thối cả tuần nay không ai thu gom")
    say("phuong 3 tp tay ninh")
    say("bỏ qua")
    done = say("Gửi")
    assert code_in(done), done.reply
    assert "Phường Tân Ninh" in done.reply
    assert "Phường 3, TP Tây Ninh (cũ) nay là Phường Tân Ninh, tỉnh Tây Ninh" in done.reply


@pytest.mark.parametrize("text", ["phan anh kien nghi thi gui o dau", "khieu nai quyet dinh hanh chinh thi lam the nao"])
def test_a_question_about_petitioning_is_answered_not_filed(service, text):
    r = conversation(service)(text)
    assert r.intent == "pakn_help" and "Tôi muốn phản ánh" in r.reply


def test_my_petitions_without_a_code_and_codes_typed_loosely(service):
    say = conversation(service)
    assert "chưa thấy phản ánh nào" in say("tra cứu phản ánh của tôi").reply
    say(f"Tôi muốn phản ánh: {CONTENT}")
    say(PLACE)
    say("bỏ qua")
    code = code_in(say("Gửi"))
    mine = say("tra cuu phan anh cua toi")
    assert mine.answered and code in mine.reply
    loose = code.replace("-", " ").lower()          # "pa 2611 abcde"
    assert f"Phản ánh {code}" in say(f"ma {loose} sao roi").reply
    assert f"Phản ánh {code}" in say(code.replace("-", "–")).reply  # a phone keyboard's dash
