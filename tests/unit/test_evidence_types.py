"""Which kind of fact a question asks for, and whether a sentence holds one (bot/evidence.py)."""
from __future__ import annotations

import pytest

from bot.evidence import answer_type_missing, answer_type_wanted
from vntext import fold


@pytest.mark.parametrize(("question", "evidence", "missing"), [
    # State and Party document numbers both count as a document number.
    ("Kế hoạch này cụ thể hóa chương trình hành động số mấy của Thành ủy?",
     "Chương trình hành động số 51-CTr/TU ngày 10/3/2021 của Thành ủy", None),
    ("Nghị quyết số mấy của Bộ Chính trị?", "Nghị quyết số 18-NQ/TW", None),
    ("Kế hoạch số mấy?", "Quyết định số 766/QĐ-TTg ngày 23/6/2022", None),
    ("Kế hoạch số mấy?", "Kế hoạch tuyên truyền cải cách hành chính năm 2023", "document number"),
    # An address: web, e-mail or street; never a sentence that merely mentions the portal.
    ("Cổng dịch vụ công của tỉnh có địa chỉ nào?", "theo địa chỉ <http://dichvucong.tayninh.gov.vn>", None),
    ("website của hệ thống một cửa là gì", "tại địa chỉ motcua.tayninh.gov.vn", None),
    ("Email của Văn phòng là gì?", "gửi về hộp thư vanphong@tayninh.gov.vn", None),
    ("Địa chỉ Bộ phận một cửa ở đâu?", "Bộ phận Một cửa đặt tại số 83 đường Phạm Tung, phường 3", None),
    ("Địa chỉ Cổng dịch vụ công tỉnh là gì?", "Cập nhật quy trình TTHC lên Cổng dịch vụ công tỉnh", "address"),
])
def test_answer_type_missing(question: str, evidence: str, missing: str | None) -> None:
    assert answer_type_missing(fold(question), fold(evidence)) == missing


def test_when_questions_prefer_a_sentence_with_a_period() -> None:
    wanted = answer_type_wanted(fold("Đánh giá chất lượng giải quyết TTHC làm vào những kỳ nào?"))
    assert wanted is not None
    assert wanted(fold("Thực hiện đánh giá định kỳ vào Quý I, II, III năm 2024"))
    assert wanted(fold("Báo cáo hằng tháng, trước ngày 15/12"))
    assert not wanted(fold("Đánh giá chất lượng giải quyết TTHC theo quy định của Thủ tướng"))
