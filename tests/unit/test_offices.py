"""Office directory: every office the corpus names resolves, successors lead to today's bodies,
and a broken directory file is reported with its file and line."""
from __future__ import annotations

import textwrap
from datetime import date
from pathlib import Path

import pytest

from knowledge.offices import OfficeDirectoryError, find_offices_in_text, load_offices
from knowledge.plans import clean_inline, load_meta, load_plans
from vntext import fold

PLANS = Path(__file__).resolve().parents[2] / "knowledge" / "sources" / "plans"
PRESENT_DAY_BODIES = [
    "so-noi-vu", "so-tai-chinh", "so-tu-phap", "so-xay-dung", "so-nong-nghiep-moi-truong", "so-khoa-hoc-cong-nghe",
    "so-y-te", "so-giao-duc-dao-tao", "so-van-hoa-the-thao-du-lich", "so-cong-thuong", "so-dan-toc-ton-giao",
    "cong-an-tinh", "thanh-tra-tinh", "van-phong-ubnd", "ubnd-tinh",
]


@pytest.fixture(scope="module")
def directory():
    return load_offices()


def _meta(corpus_id: str):
    return load_meta(next(PLANS.glob(f"{corpus_id}_*.yaml")))


def _office_cells(corpus_id: str) -> list[tuple[str, str]]:
    """(role, cell) for the lead and supporting columns of a task table, read from the raw text.

    Rows that continue the previous one across a page break (empty number cell in 001, a task
    cell without its number in 002) are merged into it, as the plan parser does.
    """
    path = next(PLANS.glob(f"{corpus_id}_*.txt"))
    rows: list[list[str]] = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.count("\t") < 3:
            continue
        cells = [clean_inline(c) for c in line.split("\t")] + [""] * 7
        if fold(cells[3]).startswith("co quan chu tr"):
            continue  # the header repeated on every page
        starts = bool(cells[0]) if corpus_id == "001" else cells[1][:1].isdigit()
        if starts or not rows:
            rows.append([cells[3], cells[4]])
        else:
            rows[-1] = [f"{a} {b}".strip() for a, b in zip(rows[-1], (cells[3], cells[4]), strict=True)]
    return [(role, cell) for lead, support in rows for role, cell in (("lead", lead), ("support", support)) if cell]


@pytest.mark.parametrize("corpus_id", ["001", "002"])
def test_every_table_office_mention_resolves(directory, corpus_id: str) -> None:
    meta = _meta(corpus_id)
    cells = _office_cells(corpus_id)
    assert len(cells) >= 40, f"only {len(cells)} office cells extracted from {corpus_id}"
    failures = []
    for role, cell in cells:
        matches = directory.resolve(cell, province=meta.province, locality=meta.locality)
        left = directory.unresolved(cell)
        if not matches or left:
            failures.append(f"[{role}] {cell!r} → {[m.office_id for m in matches]} unresolved={left}")
    assert not failures, f"{len(failures)} office cells of {corpus_id} do not resolve:\n" + "\n".join(failures)


@pytest.mark.parametrize(
    ("cell", "corpus_id", "expected"),
    [
        ("Sở Nội vụ, Văn phòng UBND tỉnh, Sở TTTT, Sở Tài chính, Sở Tư pháp", "002",
         ["tay-ninh.so-noi-vu", "tay-ninh.van-phong-ubnd", "tay-ninh.so-thong-tin-truyen-thong",
          "tay-ninh.so-tai-chinh", "tay-ninh.so-tu-phap"]),
        # cut by a page break: the trailing "Sở" is dropped, the rest still resolves
        ("Sở Nội vụ, Văn phòng UBND tỉnh, Sở TTTT, Sở Tài chính, Sở", "002",
         ["tay-ninh.so-noi-vu", "tay-ninh.van-phong-ubnd", "tay-ninh.so-thong-tin-truyen-thong",
          "tay-ninh.so-tai-chinh"]),
        ("Các sở, ngành; UBND cấp huyện, cấp xã", "002",
         ["tay-ninh.cac-so-ban-nganh", "tay-ninh.ubnd-cap-huyen", "tay-ninh.ubnd-cap-xa"]),
        ("Các sở, ngành; UBND cấp huyện, cấp", "002",
         ["tay-ninh.cac-so-ban-nganh", "tay-ninh.ubnd-cap-huyen", "tay-ninh.ubnd-cap-xa"]),
        ("Thường trực BCĐ CCHC; Sở Nội vụ", "002", ["tay-ninh.thuong-truc-bcd-cchc", "tay-ninh.so-noi-vu"]),
        ("Sở Tài chính các sở, ban, ngành tỉnh và UBND cấp huyện", "002",
         ["tay-ninh.so-tai-chinh", "tay-ninh.cac-so-ban-nganh", "tay-ninh.ubnd-cap-huyen"]),
        ("Bưu điện tỉnh và các cơ quan liên quan", "002", ["tay-ninh.buu-dien-tinh", "tay-ninh.cac-co-quan-lien-quan"]),
        ("KBNN tỉnh", "002", ["tay-ninh.kho-bac-nha-nuoc"]),
        ("Sở Kế hoạch và Đầu tư", "002", ["tay-ninh.so-ke-hoach-dau-tu"]),
        ("Văn phòng HĐND và UBND; Các cơ quan liên quan", "001",
         ["binh-dinh.tx-hoai-nhon.van-phong-hdnd-ubnd", "binh-dinh.tx-hoai-nhon.cac-co-quan-lien-quan"]),
        ("Phòng Văn hóa và Thông tin", "001", ["binh-dinh.tx-hoai-nhon.phong-van-hoa-thong-tin"]),
        ("Phòng Tài chính – Kế hoạch", "001", ["binh-dinh.tx-hoai-nhon.phong-tai-chinh-ke-hoach"]),
        ("Các cơ quan, đơn vị, địa phương", "001", ["binh-dinh.tx-hoai-nhon.cac-co-quan-don-vi-dia-phuong"]),
    ],
)
def test_cells_naming_several_offices(directory, cell: str, corpus_id: str, expected: list[str]) -> None:
    meta = _meta(corpus_id)
    assert [m.office_id for m in directory.resolve(cell, province=meta.province, locality=meta.locality)] == expected


@pytest.mark.parametrize(
    ("heading", "corpus_id", "expected"),
    [
        ("Các cơ quan chuyên môn thành phố và Ủy ban nhân dân các phường, xã", "000",
         ["tay-ninh.tp-tay-ninh.co-quan-chuyen-mon", "tay-ninh.tp-tay-ninh.ubnd-phuong-xa"]),
        ("2. Văn phòng Hội đồng nhân dân và Ủy ban nhân dân thành phố", "000",
         ["tay-ninh.tp-tay-ninh.van-phong-hdnd-ubnd"]),
        ("Phòng Nội vụ thành phố", "000", ["tay-ninh.tp-tay-ninh.phong-noi-vu"]),
        ("Phòng Tư pháp thành phố", "000", ["tay-ninh.tp-tay-ninh.phong-tu-phap"]),
        ("Phòng Tài chính - Kế hoạch thành phố", "000", ["tay-ninh.tp-tay-ninh.phong-tai-chinh-ke-hoach"]),
        ("Trung tâm Văn hóa, Thể thao và Truyền Thanh thành phố", "000",
         ["tay-ninh.tp-tay-ninh.trung-tam-van-hoa-the-thao-truyen-thanh"]),
        ("Đề nghị Mặt trận Tổ quốc và các đoàn thể thành phố", "000",
         ["tay-ninh.tp-tay-ninh.mat-tran-to-quoc-doan-the"]),
        ("Các cơ quan, đơn vị thuộc thị xã", "001", ["binh-dinh.tx-hoai-nhon.co-quan-don-vi-thuoc-thi-xa"]),
        ("Phòng Nội vụ:", "001", ["binh-dinh.tx-hoai-nhon.phong-noi-vu"]),
        ("Văn phòng HĐND và UBND thị xã", "001", ["binh-dinh.tx-hoai-nhon.van-phong-hdnd-ubnd"]),
        ("Phòng Văn hóa - Thông tin", "001", ["binh-dinh.tx-hoai-nhon.phong-van-hoa-thong-tin"]),
        ("Trung tâm Văn hóa - Thông tin - Thể thao", "001",
         ["binh-dinh.tx-hoai-nhon.trung-tam-van-hoa-thong-tin-the-thao"]),
        ("Ủy ban nhân dân các xã, phường", "001", ["binh-dinh.tx-hoai-nhon.ubnd-xa-phuong"]),
        ("Các sở, ban, ngành tỉnh", "002", ["tay-ninh.cac-so-ban-nganh"]),
        ("Ủy ban nhân dân các huyện, thị xã, thành phố", "002", ["tay-ninh.ubnd-cap-huyen"]),
        ("Sở Thông tin và Truyền thông", "002", ["tay-ninh.so-thong-tin-truyen-thong"]),
        ("Báo Tây Ninh, Đài Phát thanh và Truyền hình tỉnh", "002",
         ["tay-ninh.bao-tay-ninh", "tay-ninh.dai-phat-thanh-truyen-hinh"]),
        ("Bưu điện tỉnh Tây Ninh", "002", ["tay-ninh.buu-dien-tinh"]),
        ("Các cơ quan Trung ương đóng trên địa bàn tỉnh", "002", ["tay-ninh.co-quan-trung-uong"]),
        ("Phòng Nội vụ Thành phố", "003", ["tay-ninh.tp-tay-ninh.phong-noi-vu"]),
        ("Thủ trưởng các cơ quan chuyên môn và Chủ tịch UBND phường, xã", "003",
         ["tay-ninh.tp-tay-ninh.co-quan-chuyen-mon", "tay-ninh.tp-tay-ninh.ubnd-phuong-xa"]),
        (("Thủ trưởng các Phòng, ban ngành, các đơn vị sự nghiệp công lập thị xã và Chủ tịch Ủy ban nhân dân "
          "các xã phường"), "004",
         ["soc-trang.tx-nga-nam.phong-ban-nganh", "soc-trang.tx-nga-nam.don-vi-su-nghiep-cong-lap",
          "soc-trang.tx-nga-nam.ubnd-xa-phuong"]),
        ("2.2. Phòng Nội vụ thị xã", "004", ["soc-trang.tx-nga-nam.phong-noi-vu"]),
        ("Phòng Tài chính - Kế hoạch thị xã", "004", ["soc-trang.tx-nga-nam.phong-tai-chinh-ke-hoach"]),
        ("Thanh tra thị xã", "004", ["soc-trang.tx-nga-nam.thanh-tra"]),
        ("Sở Nội vụ tỉnh", "004", ["soc-trang.so-noi-vu"]),
    ],
)
def test_prose_office_headings_resolve(directory, heading: str, corpus_id: str, expected: list[str]) -> None:
    meta = _meta(corpus_id)
    assert [m.office_id for m in directory.resolve(heading, province=meta.province, locality=meta.locality)] == expected
    assert directory.unresolved(heading) == []


def test_same_short_name_resolves_per_locality(directory) -> None:
    ids = {loc: directory.resolve("Phòng Nội vụ", province=prov, locality=loc)[0].office_id
           for prov, loc in [("Tây Ninh", "Thành phố Tây Ninh"), ("Bình Định", "Thị xã Hoài Nhơn"),
                             ("Sóc Trăng", "Thị xã Ngã Năm")]}
    assert ids == {"Thành phố Tây Ninh": "tay-ninh.tp-tay-ninh.phong-noi-vu",
                   "Thị xã Hoài Nhơn": "binh-dinh.tx-hoai-nhon.phong-noi-vu",
                   "Thị xã Ngã Năm": "soc-trang.tx-nga-nam.phong-noi-vu"}


@pytest.mark.parametrize(
    "variant",
    ["Văn phòng HĐND và UBND", "VP HĐND-UBND", "Văn phòng Hội đồng nhân dân và Ủy ban nhân dân thị xã",
     "van phong hdnd va ubnd", "VĂN PHÒNG HĐND & UBND THỊ XÃ"],
)
def test_spelling_variants_are_one_office(directory, variant: str) -> None:
    got = directory.resolve(variant, province="Bình Định", locality="Thị xã Hoài Nhơn")
    assert [m.office_id for m in got] == ["binh-dinh.tx-hoai-nhon.van-phong-hdnd-ubnd"]


@pytest.mark.parametrize("variant", ["Sở Thông tin và Truyền thông", "Sở TTTT", "Sở TT&TT", "so thong tin truyen thong"])
def test_tttt_variants(directory, variant: str) -> None:
    got = directory.resolve(variant, province="Tây Ninh", locality="Tỉnh Tây Ninh")
    assert [m.office_id for m in got] == ["tay-ninh.so-thong-tin-truyen-thong"]


def test_every_parsed_task_has_its_offices() -> None:
    """The plan parser's tasks (table rows and prose duties) all get at least one lead office id."""
    missing = [f"{t.id}: {t.lead_raw!r}" for p in load_plans() for t in p.tasks if t.lead_raw and not t.lead_ids]
    assert not missing, "\n".join(missing)


# --------------------------------------------------------------------------- free text

@pytest.mark.parametrize(
    ("question", "expected", "today"),
    [
        ("phong noi vu hoai nhon", "binh-dinh.tx-hoai-nhon.phong-noi-vu", "gia-lai.so-noi-vu"),
        ("so tttt tay ninh", "tay-ninh.so-thong-tin-truyen-thong", "tay-ninh.so-khoa-hoc-cong-nghe"),
        ("Phòng Nội vụ thành phố Tây Ninh giao việc gì?", "tay-ninh.tp-tay-ninh.phong-noi-vu", "tay-ninh.so-noi-vu"),
        ("phòng tư pháp ngã năm", "soc-trang.tx-nga-nam.phong-tu-phap", "can-tho.so-tu-phap"),
        ("Sở Kế hoạch và Đầu tư Bình Định", "binh-dinh.so-ke-hoach-dau-tu", "gia-lai.so-tai-chinh"),
        ("so noi vu gia lai o dau", "gia-lai.so-noi-vu", "gia-lai.so-noi-vu"),
    ],
)
def test_find_offices_in_text(directory, question: str, expected: str, today: str) -> None:
    matches = find_offices_in_text(question, None, None, directory=directory)
    assert matches and matches[0].office_id == expected and not matches[0].ambiguous
    assert directory.current(matches[0].office_id).id == today


def test_ambiguous_question_lists_alternatives(directory) -> None:
    [match] = find_offices_in_text("Văn phòng UBND có những nhiệm vụ gì?", directory=directory)
    localities = {directory.get(oid).locality for oid in (match.office_id, *match.alternatives)}
    assert match.ambiguous
    assert {"Tỉnh Tây Ninh", "Thị xã Hoài Nhơn", "Thị xã Ngã Năm"} <= localities
    # the plan's place settles it
    scoped = find_offices_in_text("Văn phòng UBND có những nhiệm vụ gì?", "Sóc Trăng", "Thị xã Ngã Năm",
                                  directory=directory)
    assert scoped[0].office_id == "soc-trang.tx-nga-nam.van-phong-hdnd-ubnd"


def test_text_without_offices(directory) -> None:
    assert find_offices_in_text("thời tiết ngày mai thế nào", directory=directory) == []


# --------------------------------------------------------------------------- successors

def test_successor_chains_end_at_bodies_valid_today(directory) -> None:
    today = date.today()
    for office in directory.all():
        now = directory.current(office.id)
        assert now is not None, office.id
        assert now.is_valid_on(today) and now.valid_to is None, (office.id, now.id)
        if office.valid_to:
            assert office.valid_to < today and now.id != office.id


@pytest.mark.parametrize(
    ("old", "new"),
    [
        ("tay-ninh.so-thong-tin-truyen-thong", "tay-ninh.so-khoa-hoc-cong-nghe"),
        ("tay-ninh.so-ke-hoach-dau-tu", "tay-ninh.so-tai-chinh"),
        ("tay-ninh.tp-tay-ninh.phong-noi-vu", "tay-ninh.so-noi-vu"),
        ("tay-ninh.ubnd-cap-huyen", "tay-ninh.ubnd-cap-xa"),
        ("binh-dinh.tx-hoai-nhon.ubnd", "gia-lai.ubnd-tinh"),
        ("binh-dinh.tx-hoai-nhon.van-phong-hdnd-ubnd", "gia-lai.van-phong-ubnd"),
        ("binh-dinh.so-thong-tin-truyen-thong", "gia-lai.so-khoa-hoc-cong-nghe"),  # two hops
        ("soc-trang.tx-nga-nam.phong-noi-vu", "can-tho.so-noi-vu"),
        ("soc-trang.tx-nga-nam.thanh-tra", "can-tho.thanh-tra-tinh"),
        ("long-an.so-noi-vu", "tay-ninh.so-noi-vu"),
    ],
)
def test_known_successors(directory, old: str, new: str) -> None:
    assert directory.current(old).id == new


def test_current_on_a_past_date_is_the_body_itself(directory) -> None:
    assert directory.current("binh-dinh.tx-hoai-nhon.phong-noi-vu", date(2021, 6, 1)).id == \
        "binh-dinh.tx-hoai-nhon.phong-noi-vu"
    assert directory.current("binh-dinh.so-ke-hoach-dau-tu", date(2025, 4, 1)).id == "binh-dinh.so-tai-chinh"
    assert directory.current("no.such-office") is None


def test_present_day_departments_exist_for_each_successor_province(directory) -> None:
    for prov in ("tay-ninh", "gia-lai", "can-tho"):
        for body in PRESENT_DAY_BODIES:
            office = directory.get(f"{prov}.{body}")
            assert office is not None and office.valid_to is None, f"{prov}.{body}"


def test_district_bodies_all_ceased_with_the_district_level(directory) -> None:
    district = [o for o in directory.all() if o.level == "huyen"]
    assert len(district) >= 25
    assert all(o.valid_to == date(2025, 6, 30) and o.successor for o in district)


# --------------------------------------------------------------------------- file errors

def _write(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "offices.yaml"
    path.write_text(textwrap.dedent(body).lstrip(), encoding="utf-8")
    return path


_GOOD = """
offices:
  - id: tay-ninh.so-noi-vu
    name: Sở Nội vụ tỉnh Tây Ninh
    kind: office
    level: tinh
    province: Tây Ninh
    locality: Tỉnh Tây Ninh
    aliases: ["Sở Nội vụ"]
"""


def test_a_valid_small_file_loads(tmp_path: Path) -> None:
    d = load_offices(_write(tmp_path, _GOOD))
    assert [o.id for o in d.all()] == ["tay-ninh.so-noi-vu"]
    assert d.get("tay-ninh.so-noi-vu").contact == {}


def test_bad_field_names_file_and_line(tmp_path: Path) -> None:
    path = _write(tmp_path, _GOOD + """
  - id: tay-ninh.so-moi
    name: Sở Mới
    kind: bureau
    level: tinh
    province: Tây Ninh
    locality: Tỉnh Tây Ninh
""")
    with pytest.raises(OfficeDirectoryError) as err:
        load_offices(path)
    assert f"{path}:12:" in str(err.value)  # the line of "kind: bureau"
    assert "tay-ninh.so-moi" in str(err.value) and "kind" in str(err.value)
    assert err.value.line == 12


def test_missing_field_names_the_entry_line(tmp_path: Path) -> None:
    path = _write(tmp_path, _GOOD + """
  - id: tay-ninh.so-moi
    kind: office
    level: tinh
    province: Tây Ninh
    locality: Tỉnh Tây Ninh
""")
    with pytest.raises(OfficeDirectoryError, match=rf"{path}:10: .*name"):
        load_offices(path)


def test_unknown_successor_and_duplicate_id(tmp_path: Path) -> None:
    path = _write(tmp_path, _GOOD.replace('aliases: ["Sở Nội vụ"]', 'aliases: ["Sở Nội vụ"]\n'
                                          '    valid_to: 2025-06-30\n    successor: gia-lai.so-noi-vu'))
    with pytest.raises(OfficeDirectoryError, match=rf"{path}:2: .*gia-lai.so-noi-vu"):
        load_offices(path)
    dup = _write(tmp_path, _GOOD + _GOOD.split("offices:\n", 1)[1])
    with pytest.raises(OfficeDirectoryError, match=rf"{dup}:9: duplicate id"):
        load_offices(dup)


def test_ceased_body_without_successor_is_refused(tmp_path: Path) -> None:
    path = _write(tmp_path, _GOOD.replace('aliases: ["Sở Nội vụ"]', 'aliases: ["Sở Nội vụ"]\n    valid_to: 2025-06-30'))
    with pytest.raises(OfficeDirectoryError, match="successor"):
        load_offices(path)


def test_yaml_syntax_error_names_the_line(tmp_path: Path) -> None:
    path = _write(tmp_path, _GOOD + '  - id: x.y\n    aliases: ["unclosed\n')
    with pytest.raises(OfficeDirectoryError, match=rf"{path}:\d+: not valid YAML"):
        load_offices(path)


def test_cli_style_loose_locality(directory) -> None:
    """The CLI passes what the user typed ("Hoài Nhơn", "Tây Ninh"), not the plan's full locality."""
    got = directory.find_offices_in_text("Phòng Nội vụ", province=None, locality="Hoài Nhơn")
    assert [m.office_id for m in got] == ["binh-dinh.tx-hoai-nhon.phong-noi-vu"]
    got = directory.find_offices_in_text("Sở Tư pháp", province=None, locality="Tây Ninh")
    assert [m.office_id for m in got] == ["tay-ninh.so-tu-phap"] and not got[0].ambiguous


def test_ward_offices_that_routing_sends_petitions_to_are_known() -> None:
    """Routing sends ward-level petitions to '<province>.xa.<ward>': their UBND must resolve, so
    that its staff can have a console account and petitions can be transferred to it."""
    from knowledge.offices import load_offices, ward_offices
    from pakn.localities import recognise
    from pakn.routing import route

    loc = recognise("khu phố 3, phường Tân Ninh, tỉnh Tây Ninh", whole=True)
    r = route("moi_truong", loc)
    directory = load_offices()
    assert r.office_id == "tay-ninh.xa.phuong-tan-ninh" and r.office_id in directory
    office = directory.get(r.office_id)
    assert office.name == "UBND Phường Tân Ninh, Tây Ninh" and office.level == "xa" and office.province == "Tây Ninh"
    assert directory.get("tay-ninh.xa.phuong-khong-co") is None
    wards = ward_offices("tay-ninh")
    assert len(wards) > 90 and all(w.id.startswith("tay-ninh.xa.") for w in wards)


def test_a_console_account_for_a_ward(default_store) -> None:
    import uuid

    from console.auth import create_user
    from db import session_scope

    with session_scope(default_store) as session:
        user = create_user(session, email=f"tanninh-{uuid.uuid4().hex[:6]}@example.gov.vn", password="mat-khau-du-dai-123",
                           office_id="tay-ninh.xa.phuong-tan-ninh", role="staff")
        assert user.office_id == "tay-ninh.xa.phuong-tan-ninh"
