"""Deadline cells and user periods → intervals, checked on the forms the corpus really uses."""
from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from knowledge.deadlines import Deadline, DeadlineKind, deadline_overlaps, parse_deadline, parse_period
from knowledge.plans import clean_inline, parse_plan, plan_paths
from vntext import fold

PLANS = Path(__file__).resolve().parents[2] / "knowledge" / "sources" / "plans"
K = DeadlineKind


@pytest.mark.parametrize(
    ("raw", "year", "kind", "start", "end"),
    [
        ("Quý I năm 2024", 2024, K.BY_QUARTER, date(2024, 1, 1), date(2024, 3, 31)),
        ("Quý II, III/2024", 2024, K.BY_QUARTER, date(2024, 4, 1), date(2024, 9, 30)),
        ("Quý IV/2024 đến quý II/2025", 2024, K.RANGE, date(2024, 10, 1), date(2025, 6, 30)),
        ("Trong tháng 1", 2024, K.BY_MONTH, date(2024, 1, 1), date(2024, 1, 31)),
        ("Hàng tháng", 2024, K.MONTHLY, date(2024, 1, 1), date(2024, 12, 31)),
        ("Thường xuyên", 2024, K.RECURRING, date(2024, 1, 1), date(2024, 12, 31)),
        ("Trước ngày 20 của kỳ Báo cáo", 2024, K.REPORTING_CYCLE, date(2024, 1, 1), date(2024, 12, 31)),
        ("Theo Kế hoạch số 3989/KH-UBND ngày 21/11/2022 của UBND tỉnh", 2024, K.BY_OTHER_PLAN,
         date(2024, 1, 1), date(2024, 12, 31)),
        ("Trong năm 2024", 2024, K.BY_YEAR, date(2024, 1, 1), date(2024, 12, 31)),
        ("Cả năm", 2021, K.BY_YEAR, date(2021, 1, 1), date(2021, 12, 31)),
        ("Năm 2021", 2021, K.BY_YEAR, date(2021, 1, 1), date(2021, 12, 31)),
        ("Quý I, II, III và cả năm 2024", 2024, K.QUARTERLY, date(2024, 1, 1), date(2024, 12, 31)),
        ("trước ngày 15/10/2023", 2023, K.BY_DATE, date(2023, 1, 1), date(2023, 10, 15)),
        ("Quý I /2021", 2021, K.BY_QUARTER, date(2021, 1, 1), date(2021, 3, 31)),
        ("Quý I", 2021, K.BY_QUARTER, date(2021, 1, 1), date(2021, 3, 31)),  # year from the plan
        ("Qúy ĨI/2024", 2024, K.BY_QUARTER, date(2024, 4, 1), date(2024, 6, 30)),  # scan typos
        ("quy iv/2021", 2021, K.BY_QUARTER, date(2021, 10, 1), date(2021, 12, 31)),  # no diacritics
        ("Năm 2024 -2025", 2024, K.RANGE, date(2024, 1, 1), date(2025, 12, 31)),
        ("Quý II/2024", 2024, K.BY_QUARTER, date(2024, 4, 1), date(2024, 6, 30)),
        ("thực hiện hoàn thành năm 2025", 2021, K.BY_YEAR, date(2025, 1, 1), date(2025, 12, 31)),
        ("thường xuyên hàng năm", 2021, K.RECURRING, date(2021, 1, 1), date(2021, 12, 31)),
        ("6 tháng đầu năm 2024", 2024, K.RANGE, date(2024, 1, 1), date(2024, 6, 30)),
        ("Ngày 30/7/2021", 2021, K.BY_DATE, date(2021, 7, 30), date(2021, 7, 30)),
        ("Tháng 2/2024 (leap year)", 2024, K.BY_MONTH, date(2024, 2, 1), date(2024, 2, 29)),
    ],
)
def test_known_forms(raw: str, year: int, kind: DeadlineKind, start: date, end: date) -> None:
    d = parse_deadline(raw, year)
    assert (d.kind, d.start, d.end) == (kind, start, end), d
    assert d.raw == raw
    assert d.label_vi


def test_phased_deadline_keeps_each_phase() -> None:
    d = parse_deadline("- Ban hành Kế hoạch: Quý I/2021 - Thực hiện: Cả năm", 2021)
    assert d.kind is K.PHASED
    assert [(p.label, p.start, p.end) for p in d.phases] == [
        ("Ban hành Kế hoạch", date(2021, 1, 1), date(2021, 3, 31)),
        ("Thực hiện", date(2021, 1, 1), date(2021, 12, 31)),
    ]
    assert (d.start, d.end) == (date(2021, 1, 1), date(2021, 12, 31))
    assert d.label_vi == "Ban hành Kế hoạch: quý I/2021; Thực hiện: cả năm 2021"


def test_phase_in_previous_year_widens_the_interval() -> None:
    d = parse_deadline("- Ban hành Kế hoạch: 12/2020 - Thực hiện: Cả năm", 2021)
    assert d.kind is K.PHASED
    assert d.phases[0].deadline.kind is K.BY_MONTH
    assert (d.start, d.end) == (date(2020, 12, 1), date(2021, 12, 31))


def test_single_labelled_value_keeps_the_value_kind() -> None:
    d = parse_deadline("Thực hiện: Cả năm", 2021)
    assert d.kind is K.BY_YEAR and d.label_vi == "Thực hiện: cả năm 2021"


def test_other_plan_reference_and_labels() -> None:
    d = parse_deadline("Theo Kế hoạch số 3989/KH-UBND ngày 21/11/2022 của UBND tỉnh", 2024)
    assert d.reference == "3989/KH-UBND"
    assert "3989/KH-UBND" in d.label_vi
    assert parse_deadline("Quý IV/2024 đến quý II/2025", 2024).label_vi == "Từ quý IV/2024 đến quý II/2025"
    assert parse_deadline("Trước ngày 20 của kỳ Báo cáo", 2024).label_vi.startswith("Trước ngày 20")


def test_multi_year_plan_spreads_recurring_duties() -> None:
    d = parse_deadline("Thường xuyên", 2021, plan_end_year=2025)
    assert (d.start, d.end) == (date(2021, 1, 1), date(2025, 12, 31))


def test_unknown_and_empty_never_raise() -> None:
    assert parse_deadline("khi có yêu cầu của cấp trên", 2024).kind is K.RECURRING
    unknown = parse_deadline("theo tiến độ dự án", 2024)
    assert unknown.kind is K.UNKNOWN and unknown.start is None and unknown.label_vi == "theo tiến độ dự án"
    assert parse_deadline("", 2024).kind is K.UNKNOWN


def test_overlaps() -> None:
    q23 = parse_deadline("Quý II, III/2024", 2024)
    assert deadline_overlaps(q23, date(2024, 7, 1), date(2024, 9, 30))
    assert not deadline_overlaps(q23, date(2024, 1, 1), date(2024, 3, 31))
    assert deadline_overlaps(parse_deadline("Hàng tháng", 2024), date(2024, 1, 1), date(2024, 3, 31))
    assert not deadline_overlaps(parse_deadline("Hàng tháng", 2024), date(2023, 1, 1), date(2023, 12, 31))
    assert not deadline_overlaps(parse_deadline("???", 2024), date(2000, 1, 1), date(2100, 1, 1))


@pytest.mark.parametrize(
    ("text", "default", "expected"),
    [
        ("quý 1/2024", None, (date(2024, 1, 1), date(2024, 3, 31))),
        ("quy I 2024", None, (date(2024, 1, 1), date(2024, 3, 31))),
        ("2024-Q1", None, (date(2024, 1, 1), date(2024, 3, 31))),
        ("Q3/2024", None, (date(2024, 7, 1), date(2024, 9, 30))),
        ("tháng 3/2024", None, (date(2024, 3, 1), date(2024, 3, 31))),
        ("thang 3 nam 2024", None, (date(2024, 3, 1), date(2024, 3, 31))),
        ("năm 2021", None, (date(2021, 1, 1), date(2021, 12, 31))),
        ("nam 2021", None, (date(2021, 1, 1), date(2021, 12, 31))),
        ("2024", None, (date(2024, 1, 1), date(2024, 12, 31))),
        ("2024-03", None, (date(2024, 3, 1), date(2024, 3, 31))),
        ("quy 4", 2021, (date(2021, 10, 1), date(2021, 12, 31))),
        ("Quý IV", 2023, (date(2023, 10, 1), date(2023, 12, 31))),
        ("quý 1 đến quý 2 năm 2024", None, (date(2024, 1, 1), date(2024, 6, 30))),
        ("phong noi vu hoai nhon phai lam gi trong quy IV/2021", None, (date(2021, 10, 1), date(2021, 12, 31))),
        ("nhiệm vụ nào hạn tháng 12 năm 2020", None, (date(2020, 12, 1), date(2020, 12, 31))),
    ],
)
def test_parse_period(text: str, default: int | None, expected: tuple[date, date]) -> None:
    assert parse_period(text, default) == expected


def test_parse_period_without_year_uses_this_year_and_rejects_noise() -> None:
    this_year = date.today().year
    assert parse_period("quy 4", None) == (date(this_year, 10, 1), date(this_year, 12, 31))
    assert parse_period("Sở Nội vụ làm gì", 2024) is None
    assert parse_period("", 2024) is None


# --------------------------------------------------------------------------- the whole corpus

def _table_deadline_cells(corpus_id: str) -> list[str]:
    """Every deadline cell of a plan's task table, rows continued across page breaks merged.

    Read straight from the text (not through the plan parser) so a parser bug cannot hide cells.
    001: TT | Nhiệm vụ | Sản phẩm | Chủ trì | Phối hợp | Thời gian hoàn thành | Ghi chú — a row with
    an empty TT continues the previous one. 002: Nội dung | "N. Nhiệm vụ" | Sản phẩm | Chủ trì |
    Phối hợp | Thời gian hoàn thành — a row whose task cell has no number continues the previous one.
    """
    path = next(PLANS.glob(f"{corpus_id}_*.txt"))
    cells: list[str] = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.count("\t") < 3:
            continue
        row = [clean_inline(c) for c in line.split("\t")] + [""] * 7
        if fold(row[5]).startswith("thoi gian"):
            continue  # the header repeated on every page
        if corpus_id == "001":
            starts_row = bool(row[0]) and not row[0].rstrip(".").isalpha()  # "I", "II": section rows
            is_section = bool(row[0]) and row[0].rstrip(".").isalpha()
        else:
            starts_row = bool(row[1][:1].isdigit())
            is_section = False
        if is_section:
            continue
        if starts_row or not cells:
            cells.append(row[5])
        elif row[5]:
            cells[-1] = f"{cells[-1]} {row[5]}".strip()
    return cells


@pytest.mark.parametrize(("corpus_id", "year", "at_least"), [("001", 2021, 25), ("002", 2024, 46)])
def test_every_corpus_deadline_cell_parses(corpus_id: str, year: int, at_least: int) -> None:
    cells = _table_deadline_cells(corpus_id)
    assert len(cells) >= at_least, f"extracted only {len(cells)} rows from {corpus_id}"
    filled = [c for c in cells if c]
    failed = [c for c in filled if parse_deadline(c, year).kind is K.UNKNOWN]
    assert not failed, f"{len(failed)} deadline cells of {corpus_id} parse to unknown:\n" + "\n".join(failed)
    assert all(parse_deadline(c, year).start is not None for c in filled)


def test_every_task_deadline_from_the_plan_parser_parses() -> None:
    """The parser's merged cells (what the store keeps) must parse too, in every plan."""
    failed: list[str] = []
    seen = 0
    for txt, meta_path in plan_paths():
        plan = parse_plan(txt, meta_path)
        for task in plan.tasks:
            if task.deadline_raw:
                seen += 1
                d: Deadline = parse_deadline(task.deadline_raw, plan.meta.period_start,
                                             plan_end_year=plan.meta.period_end)
                if d.kind is K.UNKNOWN:
                    failed.append(f"{task.id}: {task.deadline_raw}")
    assert seen >= 70
    assert not failed, "\n".join(failed)
