"""Behaviours found on an independent question set (tests/data/eval/written2.jsonl), each stated as
the general rule it is, with sentences of other shapes than the ones that revealed it."""
from __future__ import annotations

import uuid
from datetime import date

import pytest

from bot.service import ChatService
from bot.types import InboundMessage


@pytest.fixture(scope="module")
def service(bm25_engine):
    return ChatService(engine=bm25_engine, clock=lambda: date(2026, 12, 2))


def ask(service, *turns: str):
    user = uuid.uuid4().hex
    reply = None
    for text in turns:
        reply = service.handle(InboundMessage(channel="test", user_id=user, text=text))
    return reply


class TestOutOfScope:
    @pytest.mark.parametrize("text", [
        "toi dich giay to sang tieng anh roi, chung thuc chu ky nguoi dich can gi",
        "Kết luận của Bộ Chính trị về tinh giản biên chế mà tỉnh Tây Ninh triển khai năm 2024 là kết luận số mấy",
    ])
    def test_a_usual_off_topic_word_inside_an_in_scope_question_is_answered(self, service, text):
        assert ask(service, text).answered is True

    @pytest.mark.parametrize("text", [
        "ban nghi sao ve tinh hinh chinh tri the gioi",
        "dich giup toi doan van nay sang tieng anh",
        "lam bai tho ve cai cach hanh chinh di",  # a request never answered, whatever it is about
    ])
    def test_off_topic_messages_are_refused(self, service, text):
        assert ask(service, text).answered is False


class TestProcedureFields:
    @pytest.mark.parametrize("text,expected", [
        ("xac nhan thong tin cu tru xong thi nhan duoc giay gi", "CT07"),
        ("cải chính hộ tịch xong được cấp giấy gì", "Trích lục thay đổi, cải chính"),
    ])
    def test_what_the_citizen_gets_is_the_result_not_the_papers(self, service, text, expected):
        r = ask(service, text)
        assert expected in r.reply and "Hồ sơ gồm" not in r.reply

    def test_how_long_a_result_lasts_is_not_the_processing_time(self, service):
        r = ask(service, "dang ky tam tru thi duoc o toi da bao lau")
        assert "02 năm" in r.reply and "Thời hạn giải quyết" not in r.reply


class TestWhichProcedure:
    @pytest.mark.parametrize("text,name", [
        ("nguoi o tro nha toi chuyen di roi, bao lau phai xoa dang ky tam tru", "xóa đăng ký tạm trú"),
        ("con toi chuyen khau di noi khac, xoa dang ky thuong tru can giay to gi", "xóa đăng ký thường trú"),
    ])
    def test_the_more_specific_name_said_in_full_wins(self, service, text, name):
        assert name in ask(service, text).reply.split("\n")[0]

    @pytest.mark.parametrize("follow_up", ["han khi nao phai di dang ky?", "khi nao phai di khai?"])
    def test_a_follow_up_in_question_words_stays_with_the_procedure(self, service, follow_up):
        r = ask(service, "khai tu can giay to gi", follow_up)
        assert "khai tử" in r.reply.split("\n")[0]


def test_an_office_count_in_the_appendix_says_where_each_duty_comes_from(service):
    r = ask(service, "trong phu luc ke hoach cchc hoai nhon 2021 phong tu phap chu tri bao nhieu nhiem vu")
    assert "Phòng Tư pháp" in r.reply
    assert "trong bảng phân công ở phụ lục" in r.reply and "nhiệm vụ trong bảng phân công (phụ lục)" not in r.reply


def test_equally_named_procedures_prefer_the_one_covering_more_of_the_question(service):
    r = ask(service, "chung toi chua dang ky ket hon, nay sinh con muon vua khai sinh vua nhan cha cho be thi can giay to gi")
    assert "khai sinh kết hợp nhận cha, mẹ, con" in r.reply.split("\n")[0]


@pytest.mark.parametrize("first,follow_up,signer", [
    ("ke hoach cchc thi xa hoai nhon 2021 co bao nhieu nhiem vu", "nguoi ky la ai", "Phạm Trương"),
    ("kh cchc nam 2024 cua nga nam can cu vao dau", "ai ky kh nay vay?", "Kim Thái Phong"),
])
def test_who_signed_after_a_plan_question_is_that_plan_s_signer(service, first, follow_up, signer):
    assert signer in ask(service, first, follow_up).reply


def test_an_alias_left_with_one_content_word_must_be_said_as_a_phrase() -> None:
    """"làm thẻ căn cước" keeps only "cước" once "làm", "thẻ", "căn" are read as filler, and "cuộc họp"
    folds to the same letters: such an alias counts only when said whole."""
    from knowledge.procedures import load_catalogue

    found = load_catalogue().find_by_name("bao nhieu phan tram cuoc hop cap xa hop truc tuyen", min_score=0.75)
    assert found == []
    assert [p.id for p in load_catalogue().find_by_name("lam the can cuoc can gi", limit=1)] == ["cap-the-can-cuoc"]


@pytest.mark.parametrize("text,expected", [
    ("Đến cuối 2025 bao nhiêu phần trăm cuộc họp cấp xã ở thành phố Tây Ninh phải họp qua hệ thống thông tin?", "60%"),
    ("tp tay ninh phan dau ty le thu tuc hanh chinh giai quyet dung han la bao nhieu phan tram", "%"),
])
def test_a_percentage_is_answered_from_the_figure_without_the_words_phan_tram(service, text, expected):
    r = ask(service, text)
    assert r.answered is True and expected in r.reply
