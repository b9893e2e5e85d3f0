"""Choosing the procedure variant in conversation: one short question with buttons when the words do
not say which procedure, the pick by label, number or words, and no question when they do say.

Retrieval runs BM25-only (as in test_bot_answers.py); the families are the shipped data file unless
a test brings its own.
"""
from __future__ import annotations

import textwrap
import uuid
from datetime import date

import pytest

from bot.dialogue import ConversationState, VariantChoice
from bot.service import ChatService
from bot.types import InboundMessage
from knowledge.procedure_variants import load_variants, procedure_variants

TODAY = date(2026, 12, 2)
CERTIFY = ["Bản sao từ bản chính", "Chữ ký", "Hợp đồng, giao dịch", "Chữ ký người dịch"]


@pytest.fixture(scope="module")
def service(bm25_engine):
    return ChatService(engine=bm25_engine, clock=lambda: TODAY, max_fact_age_days=180)


class Chat:
    """One person's conversation."""

    def __init__(self, service: ChatService) -> None:
        self.service, self.user = service, uuid.uuid4().hex

    def __call__(self, text: str):
        return self.service.handle(InboundMessage(channel="test", user_id=self.user, text=text))

    @property
    def state(self) -> ConversationState:
        return ConversationState.from_stored(self.service.state.load("test", self.user))


@pytest.fixture
def chat(service):
    return Chat(service)


class TestAsking:
    def test_a_family_without_default_gets_one_question_with_buttons(self, chat):
        r = chat("chung thuc het bao nhieu tien")
        assert (r.intent, r.answered) == ("clarify", True)
        assert r.suggestions == CERTIFY
        assert r.reply.splitlines() == ["Bạn cần chứng thực loại nào?", *(f"{i}. {s}" for i, s in enumerate(CERTIFY, 1))]
        pending = chat.state.pending
        assert isinstance(pending, VariantChoice) and pending.asked and pending.fields == ["fee"]
        assert chat.state.procedure is None

    @pytest.mark.parametrize("answer", ["Chữ ký", "2", "số 2", "chu ki thoi"])
    def test_the_answer_picks_by_label_number_or_words_and_gets_the_asked_field(self, chat, answer):
        chat("chung thuc het bao nhieu tien")
        r = chat(answer)
        assert r.intent == "procedure"
        assert r.reply.startswith("Thủ tục chứng thực chữ ký trong giấy tờ, văn bản:")
        assert "10.000 đồng" in r.reply and "Hồ sơ gồm" not in r.reply  # the fee, as first asked
        assert chat.state.pending is None and chat.state.procedure == "2.000884"

    def test_free_words_of_the_citizen_pick(self, chat):
        chat("dang ky cu tru can giay to gi")
        r = chat("em la sinh vien thue tro")
        assert r.reply.startswith("Thủ tục đăng ký tạm trú:") and "Hồ sơ gồm" in r.reply

    def test_a_follow_up_after_the_pick_stays_on_that_variant(self, chat):
        chat("cong chung mat bao lau")
        chat("3")
        r = chat("còn lệ phí?")
        assert r.reply.startswith("Thủ tục chứng thực hợp đồng, giao dịch:") and "50.000 đồng" in r.reply

    def test_an_unclear_short_answer_gets_the_question_again(self, chat):
        chat("chung thuc het bao nhieu tien")
        r = chat("khong biet nua")
        assert r.intent == "clarify" and r.suggestions == CERTIFY
        r = chat("1")
        assert r.reply.startswith("Thủ tục chứng thực bản sao từ bản chính") and "2.000 đồng" in r.reply

    def test_the_question_is_asked_again_once_only(self, chat):
        chat("chung thuc het bao nhieu tien")
        assert chat("hmm").intent == "clarify"
        assert chat("hmm").intent != "clarify"
        assert chat.state.pending is None

    def test_a_new_question_abandons_the_choice(self, chat):
        chat("chung thuc het bao nhieu tien")
        r = chat("đăng ký giám hộ cần giấy tờ gì")
        assert r.reply.startswith("Thủ tục đăng ký giám hộ")
        assert chat.state.pending is None
        assert "chứng thực" not in chat("2").reply  # the old question is gone: "2" picks nothing

    def test_a_number_out_of_range_picks_nothing(self, chat):
        chat("chung thuc het bao nhieu tien")
        assert chat("7").intent == "clarify"


class TestNotAsking:
    @pytest.mark.parametrize(("text", "title"), [
        ("cap lai can cuoc bi mat can gi", "Thủ tục cấp lại thẻ căn cước:"),
        ("mat cccd lam lai het bn", "Thủ tục cấp lại thẻ căn cước:"),
        ("doi cccd khi du 25 tuoi o dau", "Thủ tục cấp đổi thẻ căn cước:"),
        ("so do bi rach thi lam sao", "Thủ tục cấp đổi Giấy chứng nhận"),
        ("chung thuc chu ky giay uy quyen het bao nhieu", "Thủ tục chứng thực chữ ký trong giấy tờ"),
        ("lam khai sinh cho con chua dang ky ket hon co ten bo", "Thủ tục đăng ký khai sinh kết hợp nhận cha, mẹ, con:"),
    ])
    def test_words_that_decide_the_variant_get_it_without_a_question(self, chat, text, title):
        r = chat(text)
        assert r.intent == "procedure" and r.reply.startswith(title)
        assert chat.state.pending is None

    def test_an_overdue_birth_registration_is_the_ordinary_one(self, chat):
        r = chat("khai sinh qua han thi sao")
        assert r.reply.startswith("Thủ tục đăng ký khai sinh:") and "Nếu để quá hạn" in r.reply

    def test_a_default_is_answered_and_the_others_offered_as_buttons(self, chat):
        r = chat("lam can cuoc can giay to gi")
        assert r.intent == "procedure" and r.reply.startswith("Thủ tục cấp thẻ căn cước (lần đầu):")
        assert r.suggestions[:2] == ["Cấp đổi (hết hạn, đủ tuổi, sai thông tin)", "Cấp lại (bị mất, hư hỏng)"]
        assert "Nếu bạn hỏi trường hợp khác, chọn: Cấp đổi" in r.reply
        r = chat("Cấp lại (bị mất, hư hỏng)")  # the button sends its label back
        assert r.reply.startswith("Thủ tục cấp lại thẻ căn cước:") and "Hồ sơ gồm" in r.reply

    def test_after_a_default_a_bare_follow_up_stays_on_it(self, chat):
        chat("lam can cuoc can giay to gi")
        r = chat("con le phi?")
        assert r.reply.startswith("Thủ tục cấp thẻ căn cước (lần đầu):") and "Lệ phí" in r.reply

    def test_after_a_default_another_family_s_words_are_a_new_question(self, chat):
        chat("lam can cuoc can giay to gi")
        r = chat("so do bi mat thi lam sao")  # "bị mất" picks cấp lại — of the land certificate
        assert r.reply.startswith("Thủ tục cấp lại Giấy chứng nhận quyền sử dụng đất")

    @pytest.mark.parametrize(("first", "follow_up", "title"), [
        ("chung thuc chu ky phi bn", "con hop dong thi sao", "Thủ tục chứng thực hợp đồng, giao dịch:"),
        ("mat cccd lam lai o dau", "neu chi het han thi sao", "Thủ tục cấp đổi thẻ căn cước:"),
        ("dk tam tru can gi", "con gia han thi sao", "Thủ tục gia hạn tạm trú:"),
    ])
    def test_a_short_follow_up_choosing_another_variant_switches_to_it(self, chat, first, follow_up, title):
        chat(first)
        assert chat(follow_up).reply.startswith(title)

    def test_a_bare_field_follow_up_does_not_switch(self, chat):
        chat("mat cccd lam lai o dau")
        assert chat("mat bao lau").reply.startswith("Thủ tục cấp lại thẻ căn cước:")  # "mất" is not "bị mất"

    def test_a_variant_answer_is_kept_when_the_family_is_named_again(self, chat):
        chat("mat cccd lam lai o dau")
        r = chat("con lam cccd mat bao lau")
        assert r.reply.startswith("Thủ tục cấp lại thẻ căn cước:")


def test_a_family_added_in_data_only_is_asked(bm25_engine, tmp_path):
    path = tmp_path / "variants.yaml"
    path.write_text(textwrap.dedent("""\
        families:
          - id: giay-hon-nhan
            question: Bạn cần giấy nào về hôn nhân?
            triggers: [giấy hôn nhân]
            options:
              - {label: Đăng ký kết hôn, procedure: dang-ky-ket-hon, words: [lấy vợ, lấy chồng]}
              - {label: Xác nhận độc thân, procedure: xac-nhan-tinh-trang-hon-nhan, words: [độc thân]}
        """), encoding="utf-8")
    chat = Chat(ChatService(engine=bm25_engine, clock=lambda: TODAY, max_fact_age_days=180, variants=load_variants(path)))
    r = chat("lam giay hon nhan o dau")
    assert r.intent == "clarify" and r.suggestions == ["Đăng ký kết hôn", "Xác nhận độc thân"]
    assert chat("de lay chong").reply.startswith("Thủ tục đăng ký kết hôn:")


def test_the_pending_choice_is_stored_as_a_typed_step():
    family = procedure_variants().get("chung-thuc")
    assert family is not None
    from bot.variants import choice_for

    state = ConversationState(pending=choice_for(family, "chung thuc het bao nhieu", ["fee"], asked=True))
    stored = state.to_stored()
    assert stored["pending"]["type"] == "variant" and stored["pending"]["labels"] == CERTIFY
    assert ConversationState.from_stored(stored) == state


def test_a_question_the_family_does_not_cover_is_left_to_the_catalogue_search(chat):
    # "chứng thực" named, but the question is about a plan target: the family does not ask.
    r = chat("tỷ lệ hồ sơ chứng thực điện tử đạt bao nhiêu phần trăm")
    assert r.intent != "clarify" and chat.state.pending is None


def test_when_the_catalogue_search_answers_a_family_default_the_others_are_offered(chat):
    r = chat("bao tu cho me mat bao lau")  # found by the search, not by the family's words
    assert r.reply.startswith("Thủ tục đăng ký khai tử:")
    assert r.suggestions[0] == "Liên thông khai tử, xóa thường trú, mai táng phí"
    assert chat("Liên thông khai tử, xóa thường trú, mai táng phí").reply.startswith("Thủ tục liên thông")
