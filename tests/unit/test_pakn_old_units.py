"""PAKN old addresses: pre-1/7/2025 wards and districts route to today's ward/commune UBND."""
from __future__ import annotations

import re

import pytest

from knowledge.errors import KnowledgeError
from pakn.localities import LocalityData, LocalityIndex, recognise
from pakn.old_units import OldUnits
from pakn.routing import route
from pakn.triage import locate, triage

RUBBISH = "Rác thải ùn ứ bốc mùi hôi thối cả tuần nay, không ai thu gom"


@pytest.mark.parametrize(
    ("location", "office"),
    [
        ("Phường 3, Thành phố Tây Ninh, Tây Ninh", "tay-ninh.xa.phuong-tan-ninh"),
        ("Xã Hiệp Tân, Huyện Hòa Thành, Tỉnh Tây Ninh", "tay-ninh.xa.phuong-thanh-dien"),
        ("Xã Đức Hòa Hạ, Huyện Đức Hòa, Tỉnh Long An", "tay-ninh.xa.xa-duc-hoa"),
        ("xã Cát Hanh, huyện Phù Cát, Bình Định", "gia-lai.xa.xa-hoa-hoi"),
        ("Phường 1, thị xã Ngã Năm, Sóc Trăng", "can-tho.xa.phuong-nga-nam"),
    ],
)
def test_old_address_routes_to_the_successor_ward(location: str, office: str) -> None:
    loc, unrecognised = locate(RUBBISH, location)
    assert not unrecognised
    assert route("moi_truong", loc).office_id == office


@pytest.mark.parametrize(
    "typed",
    ["phuong 3 tp tay ninh", "p3 tp tay ninh", "F3 TP Tây Ninh", "P.3, TP. Tây Ninh", "phường 3, tây ninh",
     "rác ở phường 3 thành phố tây ninh bốc mùi"],
)
def test_folded_and_abbreviated_old_address(typed: str) -> None:
    loc = recognise(typed, whole=True)
    assert loc is not None and loc.ward_slug == "phuong-tan-ninh" and loc.province_slug == "tay-ninh"


def test_old_address_inside_the_petition_text() -> None:
    loc, _ = locate("rac thai o x. duc hoa ha h. duc hoa long an khong ai thu gom")
    assert route("moi_truong", loc).office_id == "tay-ninh.xa.xa-duc-hoa"
    loc, _ = locate("Quán nhậu ở xã Hiệp Tân, huyện Hòa Thành mở nhạc lớn đến khuya")
    assert loc.ward_slug == "phuong-thanh-dien"


def test_the_citizen_is_told_the_successor() -> None:
    t = triage(RUBBISH, "Phường 3, TP Tây Ninh")
    assert t.office_id == "tay-ninh.xa.phuong-tan-ninh"
    note = "Phường 3, TP Tây Ninh (cũ) nay là Phường Tân Ninh, tỉnh Tây Ninh"
    assert note in t.notice and note in t.explanation
    assert t.locality["successor_note"] == note
    la = triage(RUBBISH, "xã Đức Hòa Hạ, huyện Đức Hòa, tỉnh Long An")
    assert "tỉnh Long An (cũ) nay là Xã Đức Hòa, tỉnh Tây Ninh" in la.notice


def test_no_address_and_bare_street_keep_todays_behaviour() -> None:
    t = triage(RUBBISH)
    assert t.office_id == "tay-ninh.so-nong-nghiep-moi-truong" and t.notice is None
    assert "mặc định" in t.explanation
    s = triage(RUBBISH, "123 Nguyễn Trãi")
    assert s.location_unrecognised and s.office_id == "tay-ninh.so-nong-nghiep-moi-truong" and s.notice is None
    p = triage(RUBBISH, "số 12 đường Cách Mạng Tháng Tám, Tây Ninh")
    assert p.office_id == "tay-ninh.so-nong-nghiep-moi-truong" and p.notice is None


def test_todays_ward_is_not_taken_for_an_old_one() -> None:
    assert recognise("phường Gò Dầu", whole=True).ward_slug == "phuong-go-dau"
    loc = recognise("Phường Tân Ninh, Tây Ninh", whole=True)
    assert loc.ward_slug == "phuong-tan-ninh" and loc.successor_note is None
    # The old province alone is the province, not today's Phường Sóc Trăng.
    sc = recognise("Sóc Trăng", whole=True)
    assert sc.province_slug == "can-tho" and sc.ward_slug is None


def test_an_ambiguous_old_ward_stays_at_province_level() -> None:
    # Phường 3 of TP Tây Ninh and of TP Tân An (Long An) are both in today's Tây Ninh.
    assert recognise("Phường 3", whole=True) is None or recognise("Phường 3", whole=True).ward_slug is None
    loc = recognise("phường 3, thành phố Tân An, Long An", whole=True)
    assert loc.ward_slug == "phuong-long-an"
    # Without diacritics and without the province, "xa tan thanh h tan chau" is Tây Ninh's or An Giang's.
    assert recognise("rac o x. tan thanh h. tan chau") is None
    # With them, the accents decide.
    assert recognise("rác ở xã Tân Thành, huyện Tân Châu").province_slug == "tay-ninh"


@pytest.mark.parametrize(
    "text",
    ["Cần thêm tuyến xe buýt về các xã biên giới.", "nha ben canh dao ham, goi phuong 3 lan chua thay ai xuong",
     "đề nghị xã hỗ trợ", "Công ty không đóng bảo hiểm xã hội cho công nhân", "đã làm ở xã 15 năm"],
)
def test_old_ward_names_in_ordinary_words_are_not_places(text: str) -> None:
    """"xã Biên Giới", "Phường 3", "thị trấn Hồ" existed; in a sentence they are ordinary words."""
    assert recognise(text) is None


def test_an_old_ward_in_a_location_field_needs_its_district_or_province() -> None:
    # "xa lắm" (very far) folds to "xã Lâm" (thị trấn Lâm, Nam Định): alone it proves nothing.
    assert recognise("chỗ nào đó xa lắm", whole=True) is None
    assert recognise("Xã Đức Hòa Hạ, Tây Ninh", whole=True).ward_slug == "xa-duc-hoa"
    assert recognise("xa duc hoa ha, long an", whole=True).ward_slug == "xa-duc-hoa"


def test_diacritics_decide_between_provinces() -> None:
    # Phường Long Hoa (Tây Ninh) vs the Long Hòa of other provinces, same folded name.
    assert recognise("Dự án bỏ hoang ở phường Long Hoa, cỏ mọc um tùm").province_slug == "tay-ninh"


def test_a_split_old_ward_says_so() -> None:
    loc = recognise("xã Phan, huyện Dương Minh Châu", whole=True)
    assert loc.ward_slug is not None and "được chia cho nhiều xã, phường" in loc.successor_note


def test_the_converter_is_injected_and_its_silence_means_province_level() -> None:
    rows = [{"province": "Tỉnh Tây Ninh", "district": "Thành phố Tây Ninh", "ward": "Phường 3",
             "provinceShort": "Tây Ninh", "districtShort": "Tây Ninh"}]

    class Nothing:
        ward = province = None
        OldAdminUnit = None

    index = LocalityIndex(old_units=OldUnits(rows=rows, convert=lambda _: Nothing(), divided={}))
    loc = index.recognise("Phường 3, TP Tây Ninh", whole=True)
    assert loc.province_slug == "tay-ninh" and loc.ward_slug is None and loc.successor_note is None






def test_unit_abbreviations_are_validated_with_file_and_line(tmp_path) -> None:
    base = {"old_provinces": {}, "old_districts": {}}
    assert LocalityData.model_validate({**base, "unit_abbreviations": {"p": "phường"}})
    bad = tmp_path / "localities.yaml"
    bad.write_text("old_provinces: {}\nold_districts: {}\nunit_abbreviations:\n  p: phòng\n", encoding="utf-8")
    with pytest.raises(KnowledgeError, match=rf"{re.escape(str(bad))}:3: unit_abbreviations"):
        LocalityIndex(data_path=bad, old_units=OldUnits(rows=[], convert=lambda _: None, divided={}))


def test_labelled_set_accuracy() -> None:
    """tests/data/pakn_addresses.jsonl (see bench/pakn_addresses.py) is routed right ≥ 95%."""
    from bench.pakn_addresses import evaluate, load

    rows = load()
    assert len(rows) >= 100
    acc, misses, _, _ = evaluate(rows)
    assert acc >= 0.95, misses


def test_labelled_set_labels_match_the_converter() -> None:
    """Each old-address label is the converter's successor of the official old address (`means`),
    so a hand edit or a library upgrade that changes one shows up here, not as a silent miss."""
    from vietnamadminunits import convert_address

    from bench.pakn_addresses import load
    from vntext import slugify

    checked = 0
    for r in load():
        if r["kind"] == "old_ward" and ".xa." in r["expected_office"]:
            assert r["expected_office"].endswith(".xa." + slugify(convert_address(r["means"]).ward)), r
            checked += 1
    assert checked >= 70
