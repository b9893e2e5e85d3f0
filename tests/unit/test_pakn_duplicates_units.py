"""The duplicate-petition matcher (pakn.duplicates): every condition of a link, and the text test."""
from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from pakn.duplicates import (
    Params,
    Report,
    char_grams,
    distance_m,
    eligible,
    find_primary,
    lexical_similarity,
    same_category,
)

T0 = datetime(2026, 12, 1, 3, 0, tzinfo=UTC)
POTHOLE = "Ổ gà rất lớn trên đường Trưng Nữ Vương trước chợ, xe máy đi qua bị té"
POTHOLE_TYPED = "duong trung nu vuong truoc cho co o ga lon, xe may di qua bi te hoai, de nghi va duong"
LIGHT = "den giao thong nga tu trung nu vuong voi 30/4 bi hu, den do ko sang, xe chay lon xon"


def rep(rid: int, content: str = POTHOLE, **kw) -> Report:
    base = {"id": rid, "content": content, "category": "giao_thong_ha_tang", "ward_code": 25459,
            "latitude": None, "longitude": None, "created_at": T0}
    return Report(**{**base, **kw})


def always(score: float):
    return lambda _text, others: [score] * len(others)


def test_same_problem_same_ward_in_window_links() -> None:
    new = rep(2, POTHOLE_TYPED, created_at=T0 + timedelta(days=3))
    match = find_primary(new, [rep(1)], Params())
    assert match is not None and match.primary_id == 1 and match.score >= Params().threshold


@pytest.mark.parametrize("change, why", [
    ({"ward_code": 25630}, "another ward"),
    ({"ward_code": None}, "ward unknown (province only)"),
    ({"category": "moi_truong"}, "another category"),
    ({"open": False}, "the case is answered, closed or rejected"),
    ({"primary": False}, "the case is itself linked: links never chain"),
    ({"sensitive": True}, "a complaint or denunciation"),
    ({"created_at": T0 - timedelta(days=15)}, "older than the window"),
    ({"created_at": T0 + timedelta(days=5)}, "newer than the new report"),
])
def test_each_condition_is_required(change: dict, why: str) -> None:
    new = rep(2, POTHOLE_TYPED, created_at=T0 + timedelta(days=1))
    old = replace(rep(1), **change)
    assert not eligible(new, old, Params()), why
    assert find_primary(new, [old], Params(), similarity=always(1.0)) is None, why


def test_a_sensitive_new_report_is_never_linked() -> None:
    new = rep(2, POTHOLE, created_at=T0 + timedelta(hours=1), sensitive=True)
    assert find_primary(new, [rep(1)], Params(), similarity=always(1.0)) is None


def test_window_is_configurable() -> None:
    new = rep(2, created_at=T0 + timedelta(days=20))
    assert find_primary(new, [rep(1)], Params(), similarity=always(1.0)) is None
    assert find_primary(new, [rep(1)], Params(window_days=30), similarity=always(1.0)) is not None


def test_map_pins_within_the_radius_are_one_place_whatever_the_ward() -> None:
    old = rep(1, ward_code=None, latitude=11.3100, longitude=106.1000)
    near = rep(2, ward_code=None, latitude=11.3105, longitude=106.1005, created_at=T0 + timedelta(hours=2))
    far = replace(near, latitude=11.3200)  # ~1.1 km north
    assert distance_m(11.3100, 106.1000, 11.3105, 106.1005) < 100
    assert find_primary(near, [old], Params(radius_m=150), similarity=always(1.0)) is not None
    assert find_primary(far, [old], Params(radius_m=150), similarity=always(1.0)) is None
    assert find_primary(far, [old], Params(radius_m=2000), similarity=always(1.0)) is not None


def test_unsure_category_is_compatible_with_any_but_two_topics_are_not() -> None:
    assert same_category("khac", "giao_thong_ha_tang") and same_category("dien", "khac")
    assert not same_category("dien", "giao_thong_ha_tang")


def test_below_threshold_no_link_and_the_most_similar_case_wins() -> None:
    new = rep(9, POTHOLE_TYPED, created_at=T0 + timedelta(days=1))
    cases = [rep(1), rep(2), rep(3)]
    scores = {1: 0.40, 2: 0.90, 3: 0.10}

    def sim(_text: str, others: list[str]) -> list[float]:
        return [scores[c.id] for c in cases][: len(others)]

    match = find_primary(new, cases, Params(threshold=0.32), similarity=sim)
    assert match is not None and match.primary_id == 2
    assert find_primary(new, cases, Params(threshold=0.95), similarity=sim) is None


def test_lexical_similarity_reads_typed_text_as_the_accented_one() -> None:
    assert char_grams("Ổ gà") == char_grams("o  GA")
    same, other = lexical_similarity(POTHOLE, [POTHOLE_TYPED, LIGHT])
    assert same >= Params().threshold > other


def test_the_default_matcher_links_the_pothole_but_not_the_traffic_light() -> None:
    new_pothole = rep(2, POTHOLE_TYPED, created_at=T0 + timedelta(days=1))
    new_light = rep(3, LIGHT, created_at=T0 + timedelta(days=1))
    assert find_primary(new_pothole, [rep(1)], Params()) is not None
    assert find_primary(new_light, [rep(1)], Params()) is None
