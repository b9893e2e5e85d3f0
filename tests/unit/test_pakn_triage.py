"""PAKN triage: classification, complaint detection, localities, routing, due dates."""
from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

import pytest

from pakn.duedates import add_working_days, due_at, is_working_day
from pakn.localities import recognise
from pakn.routing import load_routing, route
from pakn.triage import detect_complaint, triage
from vntext import fold_words, slugify

VN = ZoneInfo("Asia/Ho_Chi_Minh")


def test_fold_and_slug() -> None:
    assert fold_words("Đăng ký KHAI SINH, xã Hoài Hảo!") == "dang ky khai sinh xa hoai hao"
    assert slugify("Tây Ninh") == "tay-ninh"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Bãi rác tự phát đầu hẻm 12 bốc mùi hôi thối cả tuần nay, không ai thu gom.", {"moi_truong"}),
        ("Tôi đăng ký khai sinh cho con đã 10 ngày mà xã vẫn chưa trả kết quả, đề nghị kiểm tra.",
         {"ho_tich_tu_phap", "thu_tuc_hanh_chinh"}),
        ("Trường tiểu học thu thêm nhiều khoản tiền ngoài quy định đầu năm học.", {"giao_duc"}),
        ("Quán karaoke mở nhạc lớn đến 1 giờ sáng, tụ tập đánh nhau, đề nghị công an xử lý.", {"an_ninh_trat_tu"}),
        ("Công ty nợ lương công nhân 3 tháng và không đóng bảo hiểm xã hội.", {"lao_dong_xa_hoi"}),
        ("cup dien hoai, dien chap chon lam hu tivi", {"dien"}),
    ],
)
def test_reference_petitions_are_classified(text: str, expected: set[str]) -> None:
    t = triage(text)
    assert t.category in expected
    assert not t.needs_human
    assert 0.0 <= t.confidence <= 1.0
    assert "giống các phản ánh mẫu về" in t.explanation


def test_nonsense_goes_to_human_queue_not_a_guess() -> None:
    t = triage("   ")
    assert t.category == "khac" and t.needs_human


def test_complaint_and_denunciation_are_flagged_with_the_law() -> None:
    t = triage("Tôi khiếu nại quyết định thu hồi đất số 12/QĐ-UBND vì bồi thường không đúng.")
    assert t.is_complaint_or_denunciation
    assert "Luật Khiếu nại năm 2011" in t.notice and "20/2008/NĐ-CP" in t.notice
    assert t.office_id.endswith(".thanh-tra-tinh")
    d = triage("Tố cáo cán bộ địa chính nhận hối lộ để làm sổ đỏ.")
    assert d.is_complaint_or_denunciation and "Luật Tố cáo năm 2018" in d.notice
    assert detect_complaint("toi to cao can bo xa") == (False, True)
    # "to cao" with diacritics is "to, cao" (big, tall), not a denunciation
    assert detect_complaint("Nhà bên xây tường to cao che hết nắng") == (False, False)
    assert triage("Đèn đường hẻm 5 hư cả tháng").notice is None


@pytest.mark.parametrize(
    ("text", "province", "old"),
    [
        ("phường 3 TP Tây Ninh", "tay-ninh", "Tây Ninh"),
        ("xa hoai hao, hoai nhon", "gia-lai", "Bình Định"),
        ("thị xã Ngã Năm", "can-tho", "Sóc Trăng"),
        ("tinh long an", "tay-ninh", "Long An"),
        ("Gò Dầu", "tay-ninh", "Tây Ninh"),
    ],
)
def test_old_localities_map_to_current_provinces(text: str, province: str, old: str) -> None:
    loc = recognise(text, whole=True)
    assert loc is not None and loc.province_slug == province
    assert loc.old_name and old in loc.old_name


def test_ward_recognised_and_unknown_is_none() -> None:
    loc = recognise("ấp 3 xã Phước Vinh, Tây Ninh")
    assert loc is not None and loc.ward_name == "Xã Phước Vinh" and loc.ward_slug == "xa-phuoc-vinh"
    assert recognise("Xyz abc", whole=True) is None
    assert recognise("Châu Thành", whole=True) is None  # exists in several provinces: refuse to guess
    assert recognise("an ninh trật tự kém") is None  # ward names that are ordinary words are not fished out


def test_routing_commune_level_vs_province_and_default() -> None:
    cfg = load_routing()
    ward = recognise("phường Gò Dầu", whole=True)
    assert route("moi_truong", ward).office_id == "tay-ninh.xa.phuong-go-dau"
    assert route("y_te", ward).office_id == "tay-ninh.so-y-te"
    r = route("moi_truong", None)
    assert r.office_id == f"{cfg.default_province}.so-nong-nghiep-moi-truong"
    assert r.used_default_province and "mặc định" in r.explanation
    gl = recognise("tỉnh Bình Định", whole=True)
    assert route("giao_duc", gl).office_id == "gia-lai.so-giao-duc-dao-tao"


def test_every_category_has_a_rule() -> None:
    from pakn.classifier import load_categories

    assert set(load_categories()) <= set(load_routing().categories)


def test_working_days_skip_weekends_and_tet() -> None:
    assert not is_working_day(date(2026, 2, 17))  # Tết
    assert not is_working_day(date(2026, 11, 21))  # Saturday
    # Friday 13/2/2026 + 1 working day skips the weekend and Tết (16–20/2) → Monday 23/2
    assert add_working_days(date(2026, 2, 13), 1) == date(2026, 2, 23)
    # 24/11/2026 (Ngày Văn hóa Việt Nam) is a holiday in the calendar: 10 working days end on 8/12
    d = due_at(datetime(2026, 11, 23, 9, 0), 10)
    assert d == datetime(2026, 12, 8, 17, 0, tzinfo=VN)


def test_triage_due_dates_use_configured_counts() -> None:
    now = datetime(2026, 11, 23, 9, 0, tzinfo=VN)
    t = triage("Đường liên ấp nhiều ổ gà", now=now)
    assert t.due_at == datetime(2026, 12, 8, 17, 0, tzinfo=VN)
    assert t.forward_due_at == datetime(2026, 12, 1, 17, 0, tzinfo=VN)


def test_location_field_recognised_and_unrecognised() -> None:
    t = triage("Bãi rác tự phát bốc mùi hôi thối cả tuần không ai thu gom", "phường Gò Dầu")
    assert t.office_id == "tay-ninh.xa.phuong-go-dau" and t.locality["province_slug"] == "tay-ninh"
    u = triage("Bãi rác bốc mùi", "Xyz abc")
    assert u.location_unrecognised and u.locality is None


def test_cascade_decides_clear_petitions_lexically_and_defers_unsure_ones(semantic_classifier) -> None:
    from dataclasses import replace

    from pakn.classifier import PaknClassifier

    clf = semantic_classifier
    clear = "Rác thải ùn ứ ở đầu hẻm bốc mùi hôi thối nhiều ngày chưa được thu gom"
    fast, full = clf.classify(clear, semantic=False), clf.classify(clear)
    assert not fast.deferred and fast == full and fast.category == "moi_truong"

    unsure = "Trụ sở phường sáng nay gần 9 giờ mới mở cửa, bà con đứng chờ ngoài cổng rất lâu"
    provisional = clf.classify(unsure, semantic=False)
    assert provisional.deferred and provisional.category == "khac" and provisional.needs_human
    assert "đang phân loại" in provisional.explanation
    decided = clf.classify(unsure)
    assert not decided.deferred and decided.category == "can_bo_cong_vu"

    examples = list(zip(clf.texts, [clf.slugs[i] for i in clf.labels], strict=True))
    lexical_only = PaknClassifier(examples, clf.categories, params=replace(clf.params, weight_semantic=0.0))
    assert not lexical_only.classify(unsure, semantic=False).deferred  # nothing to defer to


def test_triage_passes_deferral_through(semantic_classifier) -> None:
    t = triage("Trụ sở phường sáng nay gần 9 giờ mới mở cửa, bà con đứng chờ ngoài cổng rất lâu",
               "phường Bến Thành, TP. Hồ Chí Minh", semantic=False)
    assert t.deferred and t.category == "khac" and t.office_id


@pytest.mark.parametrize(("location", "ends"), [
    ("phường Bến Thành, TP. Hồ Chí Minh", "Văn phòng UBND thành phố Hồ Chí Minh"),  # not in the directory
    ("xã Hoài Hảo, tỉnh Gia Lai", "tỉnh Gia Lai"),
])
def test_province_body_names_read_naturally(location: str, ends: str) -> None:
    loc = recognise(location, whole=True)
    name = route("khac", loc, complaint_or_denunciation=False, on=date(2026, 1, 5)).office_name
    assert name.endswith(ends) and "tỉnh tỉnh" not in name and "tỉnh thành phố" not in name


@pytest.mark.parametrize("text", ["Mất điện cả khu phố từ tối qua tới giờ chưa có lại, ở phường Tân Ninh, Tây Ninh",
                                  "Điện chập chờn làm hư tivi nhà tôi ở phường Tân Ninh, tỉnh Tây Ninh"])
def test_power_cuts_go_to_the_department_of_industry_and_trade(text: str) -> None:
    t = triage(text)
    assert t.category == "dien" and t.office_id == "tay-ninh.so-cong-thuong"
