"""Intent and slot reading, with and without diacritics."""
from __future__ import annotations

from datetime import date

import pytest

from bot.understand import understand
from vntext import fold


class TestIntents:
    @pytest.mark.parametrize("text", ["Xin chào", "xin chao ban", "/start", "ban lam duoc gi"])
    def test_greeting(self, text):
        assert understand(text).intent == "greeting"

    @pytest.mark.parametrize("text", ["Tôi muốn phản ánh: đèn đường hẻm 5 bị hỏng cả tháng nay",
                                      "toi muon gui phan anh", "Phản ánh việc đổ rác ra đường"])
    def test_pakn_submit(self, text):
        assert understand(text).intent == "pakn_submit"

    def test_plan_question_about_feedback_is_not_a_petition(self):
        assert understand("Kế hoạch CCHC giao ai tiếp nhận phản ánh kiến nghị?").intent != "pakn_submit"

    @pytest.mark.parametrize("text", ["tra cứu PA-2411-7KQ3M", "pa-2411-7kq3m"])
    def test_pakn_status_by_code(self, text):
        u = understand(text)
        assert u.intent == "pakn_status" and u.pakn_code == "PA-2411-7KQ3M"

    @pytest.mark.parametrize("text", ["Phòng Nội vụ Hoài Nhơn phải làm gì?", "phong noi vu hoai nhon phai lam gi",
                                      "Sở Tư pháp Tây Ninh chủ trì những nhiệm vụ nào?"])
    def test_duty(self, text):
        u = understand(text)
        assert u.intent == "duty" and u.office_ids

    @pytest.mark.parametrize("text", ["Thời tiết Tây Ninh ngày mai thế nào?", "viet giup toi mot bai tho"])
    def test_out_of_scope_topics(self, text):
        assert understand(text).out_of_scope


class TestSlots:
    def test_locality_and_plan_scope(self):
        u = understand("phong noi vu hoai nhon phai lam gi")
        assert u.plan_ids == ["hoainhon-cchc-2021"]

    def test_province_vs_city_of_tay_ninh(self):
        assert understand("kế hoạch CCHC tỉnh Tây Ninh").plan_ids == ["tayninh-cchc-2024"]
        assert set(understand("kế hoạch CCHC TP Tây Ninh").plan_ids) == {"tptn-cchc-2021-2025", "tptn-kiemtra-2023"}

    def test_unknown_province_is_noticed(self):
        u = understand("Kế hoạch CCHC năm 2024 của tỉnh Bình Dương có bao nhiêu nhiệm vụ?")
        assert u.unknown_place == "Bình Dương" and not u.plan_ids

    @pytest.mark.parametrize("text,expected", [
        ("trong quý IV/2021", (date(2021, 10, 1), date(2021, 12, 31))),
        ("trong quy 2 nam 2024", (date(2024, 4, 1), date(2024, 6, 30))),
    ])
    def test_period(self, text, expected):
        assert understand(text).period == expected

    @pytest.mark.parametrize("text,fields", [
        ("Đăng ký khai tử cần giấy tờ gì?", ["documents"]),
        ("dang ky ket hon mat bao lau", ["time"]),
        ("le phi chung thuc ban sao bao nhieu", ["fee"]),
        ("lam ho kinh doanh o dau", ["place"]),
        ("dk tam tru online dc ko", ["online"]),
        ("nop ho so chung thuc online dc ko", ["online"]),  # "nộp hồ sơ" is the act, not the papers
        ("ho so dang ky khai tu gom nhung gi", ["documents"]),
    ])
    def test_procedure_field(self, text, fields):
        assert understand(text).fields == fields

    def test_task_number(self):
        assert understand("Nhiệm vụ số 1 trong kế hoạch CCHC năm 2024").task_number == "1"


class TestUnseenPhrasings:
    """Phrasings first met on unseen questions; each case is one instance of a general rule."""

    @pytest.mark.parametrize("text,office", [
        ("đăng ký kết hôn tại UBND xã cần gì", "ubnd xa"),
        ("dang ky khai sinh tai UBND phuong can gi", "ubnd phuong"),
        ("đăng ký khai sinh tại ủy ban nhân dân xã cần giấy tờ gì", "uy ban nhan dan xa"),
        ("làm lại CCCD ở công an phường mất bao lâu", "cong an phuong"),
        ("đăng ký khai tử ở bộ phận một cửa cần giấy tờ gì", "bo phan mot cua"),
        ("lên UBND huyện xin giấy phép xây dựng mất mấy ngày", "ubnd huyen"),
    ])
    def test_a_where_phrase_naming_the_citizens_office_is_set_apart(self, text, office):
        """The office a citizen goes to is where, not what: it names no office whose duties are asked,
        and the rest of the question still names the procedure."""
        u = understand(text)
        assert u.where is not None and office in u.where
        assert not u.office_ids and u.intent == "unknown"
        assert office not in fold(u.subject_text)

    @pytest.mark.parametrize("text", ["ở UBND xã có làm được không", "tại bộ phận một cửa được không ạ"])
    def test_a_where_phrase_that_is_all_the_question_names_stays_its_subject(self, text):
        u = understand(text)
        assert u.where is not None and u.subject_text == u.text

    @pytest.mark.parametrize("text", ["Sở Nội vụ tỉnh Tây Ninh chủ trì những nhiệm vụ nào?",
                                      "UBND cấp xã phải làm gì trong kế hoạch CCHC",
                                      "tỷ lệ hài lòng tại bộ phận một cửa cấp xã là bao nhiêu"])
    def test_an_office_named_without_going_there_is_not_a_where_phrase(self, text):
        u = understand(text)
        assert u.subject_text == u.text or u.has_plan_words

    @pytest.mark.parametrize("text,asked", [
        ("mất CCCD thì làm lại ntn, bao lâu thì có", {"steps", "time"}),
        ("đăng ký kết hôn cần gì, bao nhiêu tiền", {"documents", "fee"}),
        ("đăng ký thường trú phải nộp gì, mấy ngày xong", {"documents", "time"}),
        ("khai sinh can j, bao lau", {"documents", "time"}),
        ("làm sổ đỏ ra sao, tốn bao nhiêu", {"steps", "fee"}),
        ("đăng ký kết hôn thủ tục thế nào, nộp ở đâu", {"steps", "place"}),
        ("làm lại CCCD thế nào, mất mấy ngày", {"steps", "time"}),
        ("làm hộ chiếu cần mang gì, hết bao nhiêu", {"documents", "fee"}),
    ])
    def test_every_ask_of_a_question_is_read(self, text, asked):
        assert asked <= set(understand(text).fields)

    @pytest.mark.parametrize("text", ["còn Sở Tư pháp thì thế nào?", "còn quý II thì sao", "lệ phí thế nào"])
    def test_a_how_word_alone_asks_for_steps_only_when_nothing_else_is_asked(self, text):
        assert "steps" not in understand(text).fields

    @pytest.mark.parametrize("text,role", [
        ("so noi vu tay ninh co bao nhieu nhiem vu phoi hop", "support"),
        ("Sở Tư pháp Tây Ninh có bao nhiêu việc phối hợp", "support"),
        ("phong noi vu hoai nhon co bao nhieu nhiem vu", None),
        ("Sở Nội vụ Tây Ninh chủ trì bao nhiêu nhiệm vụ năm 2024", "lead"),
        ("Văn phòng UBND tỉnh Tây Ninh có mấy nhiệm vụ", None),
        ("Sở Tài chính Tây Ninh phối hợp mấy việc", "support"),
    ])
    def test_counting_an_offices_duties_is_a_duty_question(self, text, role):
        u = understand(text)
        assert u.intent == "duty" and u.counts and u.role_asked == role

    @pytest.mark.parametrize("text", ["Ai chủ trì nhiệm vụ 5 kế hoạch CCHC Tây Ninh 2024?",
                                      "Sở Nội vụ Tây Ninh báo cáo CCHC khi nào?",
                                      "Kế hoạch CCHC năm 2024 của tỉnh Tây Ninh có bao nhiêu nhiệm vụ?"])
    def test_questions_about_one_task_or_a_plan_are_not_counting_duties(self, text):
        assert understand(text).intent != "duty"


class TestDialogueLexicon:
    def test_offices_are_widened_by_their_abbreviations(self):
        from knowledge.dialogue_lexicon import dialogue_lexicon

        lexicon = dialogue_lexicon()
        assert {"ubnd", "bpmc"} <= set(lexicon.office_variants)
        assert lexicon.where("lam giay khai sinh tai bpmc cap xa")[0] == "tai bpmc cap xa"

    def test_a_bad_phrase_names_the_file_and_line(self, tmp_path):
        from knowledge.dialogue_lexicon import dialogue_lexicon
        from knowledge.errors import KnowledgeError

        bad = tmp_path / "dialogue.yaml"
        bad.write_text("where:\n  before: [tai]\n  offices: [Ủy ban]\nduty_count:\n  count: [may]\n"
                       "  nouns: [viec]\nout_of_scope:\n  requests: [lam tho]\n", encoding="utf-8")
        with pytest.raises(KnowledgeError, match=r"dialogue.yaml:3: 'where.offices'"):
            dialogue_lexicon(bad)

    def test_out_of_scope_phrases_are_data(self, tmp_path):
        """A new out-of-scope request is a line in the file; a topic refuses only alone."""
        from knowledge.dialogue_lexicon import dialogue_lexicon
        from knowledge.errors import KnowledgeError

        path = tmp_path / "dialogue.yaml"
        path.write_text("where:\n  before: [tai]\n  offices: [uy ban]\nduty_count:\n  count: [may]\n"
                        "  nouns: [viec]\nout_of_scope:\n  requests: [xem boi]\n  topics: [gia xang]\n",
                        encoding="utf-8")
        lexicon = dialogue_lexicon(path)
        assert lexicon.out_of_scope_request("xem boi giup toi") and not lexicon.out_of_scope_request("lam tho")
        assert lexicon.out_of_scope_topic("gia xang hom nay") and not lexicon.out_of_scope_topic("gia han tam tru")
        bad = tmp_path / "bad" / "dialogue.yaml"  # another path: loads are cached per path
        bad.parent.mkdir()
        bad.write_text(path.read_text(encoding="utf-8").replace("[xem boi]", "[Xem bói]"), encoding="utf-8")
        with pytest.raises(KnowledgeError, match=r"dialogue.yaml:8: 'out_of_scope.requests'"):
            dialogue_lexicon(bad)
