"""The plan parser on the real shipped documents: sections, task tables, prose duties."""
from __future__ import annotations

import re

import pytest

from knowledge.plans import parse_plan, plan_paths
from vntext import fold


@pytest.fixture(scope="module")
def plans():
    return {p.meta.corpus_id: p for p in (parse_plan(t, m) for t, m in plan_paths())}


class TestMetadata:
    def test_every_plan_has_metadata(self, plans):
        assert sorted(plans) == ["000", "001", "002", "003", "004"]

    def test_tay_ninh_2024_decision_and_signer(self, plans):
        meta = plans["002"].meta
        assert meta.decision_number == "140/QĐ-UBND"
        assert meta.decision_date.isoformat() == "2024-01-19"
        assert meta.signer == "Võ Đức Trọng"
        assert meta.period_start == meta.period_end == 2024

    def test_inspection_plan_kind(self, plans):
        assert plans["003"].meta.kind == "ke_hoach_kiem_tra"


class TestTaskTables:
    def test_tay_ninh_2024_has_46_tasks_numbered_1_to_46(self, plans):
        table = [t for t in plans["002"].tasks if t.origin == "table"]
        assert [t.number for t in table] == [str(i) for i in range(1, 47)]

    def test_task_31_is_led_by_so_noi_vu_due_quarter_two(self, plans):
        t31 = next(t for t in plans["002"].tasks if t.number == "31")
        assert t31.lead_raw == "Sở Nội vụ"
        assert t31.deadline_raw == "Quý II/2024"
        assert t31.text.startswith("Tổ chức thi nâng ngạch công chức")
        assert t31.section == "V. CÁI CÁCH CHẾ ĐỘ CÔNG VỤ"

    def test_section_split_by_page_break_is_joined(self, plans):
        t39 = next(t for t in plans["002"].tasks if t.number == "39")
        assert t39.section == "VII. XÂY DỰNG VÀ CHÍNH QUYỀN ĐIỆN TỬ, CHÍNH QUYỀN SỐ"

    def test_roman_numeral_typo_is_repaired(self, plans):
        t33 = next(t for t in plans["002"].tasks if t.number == "33")
        assert t33.section.startswith("VI. ")

    def test_no_html_or_markdown_left(self, plans):
        for plan in plans.values():
            for t in plan.tasks:
                for cell in (t.text, t.product or "", t.lead_raw, t.support_raw, t.deadline_raw or ""):
                    assert not re.search(r"</?[a-z]+[^>]*>|\*\*", cell), (t.id, cell)
            for s in plan.sections:
                assert not re.search(r"</?(b|li|ul|p|sup)\b", s.text), s.id

    def test_html_list_in_product_becomes_items(self, plans):
        t44 = next(t for t in plans["002"].tasks if t.number == "44")
        assert "Chương trình xúc tiến đầu tư năm 2024" in t44.product
        assert "<li>" not in t44.product

    def test_hoai_nhon_rows_sections_and_offices_whole(self, plans):
        table = [t for t in plans["001"].tasks if t.origin == "table"]
        assert len(table) >= 25
        first = table[0]
        assert first.number == "I.1" and first.section == "I. CÔNG TÁC CHỈ ĐẠO, ĐIỀU HÀNH"
        assert first.text == "Ban hành Kế hoạch CCHC năm 2021"
        assert first.lead_raw == "Phòng Nội vụ"
        assert "Quý I" not in first.deadline_raw and "12/2020" in first.deadline_raw
        sections = {t.section.split(".")[0] for t in table}
        assert {"I", "II", "III", "IV", "V"} <= sections
        assert all(t.lead_raw for t in table), [t.id for t in table if not t.lead_raw]

    def test_continuation_row_is_merged_into_its_row(self, plans):
        merged = [t for t in plans["001"].tasks if "các đơn vị sự nghiệp công lập trên địa thị xã" in t.text]
        assert len(merged) == 1
        assert merged[0].number and merged[0].number.startswith("VI.")
        assert not any(t.number is None for t in plans["001"].tasks if t.origin == "table")

    def test_header_rows_are_not_tasks(self, plans):
        for plan in plans.values():
            assert not any(fold(t.text) in ("nhiem vu", "noi dung") for t in plan.tasks)


class TestSections:
    def test_heading_paths_follow_numbering(self, plans):
        sec = next(s for s in plans["001"].sections if s.locator == "Mục II.3.a")
        assert sec.path == ["II. CHỈ TIÊU, NHIỆM VỤ VÀ GIẢI PHÁP", "1. Công tác chỉ đạo điều hành"][:0] + sec.path
        assert sec.path[0].startswith("II.") and sec.path[1] == "3. Cải cách thủ tục hành chính"
        assert sec.path[2] == "a) Chỉ tiêu"

    def test_page_break_split_sentence_is_repaired(self, plans):
        text = "\n".join(s.text for s in plans["000"].sections)
        assert "trực tiếp chỉ đạo xây dựng" in text
        para = next(p for s in plans["000"].sections for p in s.paragraphs if "trực tiếp chỉ đạo xây dựng" in p)
        assert "30/7/2021" in para

    def test_footnotes_stay_with_their_section_as_notes(self, plans):
        sec = next(s for s in plans["002"].sections if s.locator == "Mục V.8.a")
        notes = [p for p in sec.paragraphs if p.startswith("Chú thích")]
        body = [p for p in sec.paragraphs if not p.startswith("Chú thích")]
        assert any("1112/QĐ-UBND" in n for n in notes)
        assert len(body) == 2 and "Kế hoạch rà soát TTHC năm 2024" in body[1]
        assert not any("<sup>" in p for p in sec.paragraphs)

    def test_signature_and_recipient_blocks_are_skipped(self, plans):
        for plan in plans.values():
            for s in plan.sections:
                assert not any(p.startswith("- Lưu: VT") for p in s.paragraphs), s.id


class TestProseDuties:
    def test_office_headings_become_duties(self, plans):
        duties = [t for t in plans["000"].tasks if t.origin == "prose"]
        leads = {t.lead_raw for t in duties}
        assert "Phòng Nội vụ thành phố" in leads
        assert any("Văn phòng Hội đồng nhân dân" in lead for lead in leads)

    def test_tay_ninh_department_duties(self, plans):
        snv = [t for t in plans["002"].tasks if t.origin == "prose" and t.lead_raw == "Sở Nội vụ"]
        assert len(snv) == 6
        assert any("đo lường sự hài lòng" in t.text for t in snv)
        # "b) Phối hợp Sở Nội vụ tổ chức …" under "11. Bưu điện tỉnh": Sở Nội vụ leads, Bưu điện supports.
        (partner,) = [t for t in snv if t.text.startswith("Phối hợp Sở Nội vụ")]
        assert partner.support_raw.startswith("Bưu điện tỉnh")

    def test_deadlines_written_into_prose_duties(self, plans):
        by_text = {t.text[:40]: t.deadline_raw for t in plans["000"].tasks if t.origin == "prose"}
        deadlines = [d for d in by_text.values() if d]
        assert {"Năm 2021", "Năm 2023", "Năm 2025", "Thường xuyên"} <= set(deadlines)
        assert any(text.startswith("Phần đầu 80% thủ tục") and d == "Năm 2025" for text, d in by_text.items())

    def test_assignment_inside_a_sentence(self, plans):
        duties = [t for t in plans["003"].tasks if t.origin == "prose"]
        assert any(t.lead_raw == "Phòng Nội vụ Thành phố" for t in duties)

    def test_nga_nam_office_subsection(self, plans):
        duties = [t for t in plans["004"].tasks if t.origin == "prose"]
        assert any(t.lead_raw == "Phòng Nội vụ thị xã" for t in duties)
