"""Complaints and denunciations are due under their own laws, and the notice cites the articles.

Figures come from knowledge/pakn/legal_deadlines.yaml (each with its source); these tests pin
what triage does with them for a fixed time of receipt.
"""
from __future__ import annotations

from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from pakn.legal_deadlines import LEGAL_DEADLINES_FILE, load_legal_deadlines
from pakn.triage import legal_notice, triage

VN = ZoneInfo("Asia/Ho_Chi_Minh")
RECEIVED = datetime(2026, 12, 2, 9, 0, tzinfo=VN)  # a Wednesday
COMPLAINT = "Tôi khiếu nại quyết định thu hồi đất số 12/QĐ-UBND vì bồi thường không đúng."
DENUNCIATION = "Tố cáo cán bộ địa chính nhận hối lộ để làm sổ đỏ."


def test_complaint_due_after_acceptance_and_resolution_in_calendar_days() -> None:
    t = triage(COMPLAINT, now=RECEIVED)
    # Điều 27: thụ lý within 10 days of receipt; Điều 28: resolved within 30 days of thụ lý.
    assert t.due_at == datetime(2027, 1, 11, 17, 0, tzinfo=VN)
    assert "Theo Điều 27 Luật Khiếu nại năm 2011" in t.notice
    assert "theo Điều 28 Luật Khiếu nại năm 2011, thời hạn giải quyết khiếu nại lần đầu không quá 30 ngày" in t.notice
    assert "20/2008/NĐ-CP" in t.notice
    assert "Điều 47" not in t.notice


def test_denunciation_due_by_resolution_period_and_notice_protects_the_denouncer() -> None:
    t = triage(DENUNCIATION, now=RECEIVED)
    # The acceptance period is unverified: not used; Điều 30's 30 days counted from receipt.
    assert t.due_at == datetime(2027, 1, 1, 17, 0, tzinfo=VN)
    assert "theo Điều 30 Luật Tố cáo năm 2018, thời hạn giải quyết tố cáo không quá 30 ngày kể từ ngày thụ lý" \
        in t.notice
    assert "Theo Điều 47 Luật Tố cáo năm 2018, người tố cáo được bảo vệ bí mật thông tin cá nhân" in t.notice
    # no number is printed for the unverified acceptance period: the law and its articles are named
    assert "theo điều kiện và thời hạn của Luật Tố cáo năm 2018 (Điều 24, Điều 29)" in t.notice


def test_ordinary_petition_keeps_ten_working_days() -> None:
    t = triage("Đèn đường hẻm 5 hư cả tháng, đề nghị sửa chữa.", now=RECEIVED)
    assert t.due_at == datetime(2026, 12, 16, 17, 0, tzinfo=VN)
    assert t.notice is None


def test_every_figure_names_its_source_and_check_date() -> None:
    data = load_legal_deadlines()
    for track in (data.complaint, data.denunciation):
        for period in (track.acceptance, track.resolution):
            assert period.source.startswith("http") and period.checked.isoformat() == "2026-12-02"
            assert period.article.startswith("Điều")
    assert data.denunciation.protection is not None and data.denunciation.protection.article == "Điều 47"


def test_unverified_figure_is_neither_dated_nor_quoted(tmp_path: Path) -> None:
    text = LEGAL_DEADLINES_FILE.read_text(encoding="utf-8")
    # mark the complaint's resolution period unverified: the due date and notice must drop it
    start = text.index("  resolution:\n    days: 30")
    edited = text[:start] + text[start:].replace("verified: true", "verified: false", 1)
    path = tmp_path / "legal_deadlines.yaml"
    path.write_text(edited, encoding="utf-8")
    data = load_legal_deadlines(path)
    assert data.complaint.due_at(RECEIVED) == datetime(2026, 12, 12, 17, 0, tzinfo=VN)
    notice = legal_notice("complaint", data)
    assert "30 ngày" not in notice and "thời hạn giải quyết theo Điều 28 Luật Khiếu nại năm 2011" in notice


def test_a_broken_file_names_itself(tmp_path: Path) -> None:
    path = tmp_path / "legal_deadlines.yaml"
    path.write_text(LEGAL_DEADLINES_FILE.read_text(encoding="utf-8").replace("days: 10", "days: null"),
                    encoding="utf-8")
    with pytest.raises(ValueError, match="legal_deadlines.yaml"):
        load_legal_deadlines(path)
