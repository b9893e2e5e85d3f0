"""Intent and slot reading, with and without diacritics."""
from __future__ import annotations

from datetime import date

import pytest

from bot.understand import understand


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
