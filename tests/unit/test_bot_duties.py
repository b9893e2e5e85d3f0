"""Staff duty answers: listing by office and period, clarification, follow-ups, honest refusals."""
from __future__ import annotations

import re
import uuid

import pytest

from bot.service import ChatService
from bot.types import InboundMessage


@pytest.fixture(scope="module")
def service(store_engine):
    return ChatService(engine=store_engine)


def ask(service, text, user=None):
    return service.handle(InboundMessage(channel="test", user_id=user or uuid.uuid4().hex, text=text))


def test_duties_of_an_office_in_a_quarter(service):
    r = ask(service, "phong noi vu hoai nhon phai lam gi trong quy IV/2021")
    assert r.intent == "duty" and r.answered
    assert "hài lòng" in r.reply and "Chỉ số CCHC của thị xã năm 2021" in r.reply
    assert "Quý I/2021" not in r.reply  # first-quarter tasks are filtered out
    assert all(c.source == "hoainhon-cchc-2021" for c in r.citations)


def test_duties_without_diacritics_match_accented(service):
    a = ask(service, "Sở Nội vụ tỉnh Tây Ninh chủ trì những nhiệm vụ nào năm 2024?")
    b = ask(service, "so noi vu tinh tay ninh chu tri nhung nhiem vu nao nam 2024")
    assert a.reply == b.reply
    assert "Nhiệm vụ 1: Ban hành Kế hoạch CCHC năm 2024" in a.reply and "Nhiệm vụ 31:" in a.reply


def test_ambiguous_office_asks_which_locality(service):
    user = uuid.uuid4().hex
    r = ask(service, "Văn phòng UBND có những nhiệm vụ gì?", user)
    assert r.intent == "clarify"
    assert {"Thị xã Hoài Nhơn", "Tỉnh Tây Ninh"} <= set(r.suggestions)
    follow = ask(service, "Hoài Nhơn", user)
    assert follow.intent == "duty" and "Phòng họp không giấy" in follow.reply


def test_follow_up_switches_office_keeps_plan(service):
    user = uuid.uuid4().hex
    ask(service, "Sở Nội vụ tỉnh Tây Ninh chủ trì những nhiệm vụ nào năm 2024?", user)
    r = ask(service, "còn Văn phòng UBND tỉnh thì sao?", user)
    assert r.intent == "duty" and "Bộ Chỉ số" in r.reply
    assert all(c.source == "tayninh-cchc-2024" for c in r.citations)


def test_follow_up_restricts_period(service):
    user = uuid.uuid4().hex
    ask(service, "Phòng Nội vụ Hoài Nhơn làm gì?", user)
    r = ask(service, "trong quý IV thôi", user)
    assert r.intent == "duty" and "Quý IV/2021" in r.reply and "Quý I/2021" not in r.reply


def test_state_survives_a_new_service_instance(service):
    user = uuid.uuid4().hex
    ask(service, "Sở Nội vụ tỉnh Tây Ninh chủ trì những nhiệm vụ nào năm 2024?", user)
    restarted = ChatService(engine=service.engine)
    r = ask(restarted, "còn Sở Tư pháp thì sao?", user)
    assert r.intent == "duty" and "Phổ biến giáo dục pháp luật" in r.reply


def test_other_province_plan_is_refused(service):
    r = ask(service, "Kế hoạch CCHC năm 2024 của tỉnh Bình Dương có bao nhiêu nhiệm vụ?")
    assert r.answered is False and "Bình Dương" in r.reply and "Cổng Dịch vụ công" in r.reply


def test_year_without_plan_is_refused(service):
    r = ask(service, "Phòng Nội vụ Hoài Nhơn phải làm gì năm 2019?")
    assert r.answered is False and "2019" in r.reply


def test_weather_is_out_of_scope(service):
    r = ask(service, "Thời tiết Tây Ninh ngày mai thế nào?")
    assert r.answered is False and r.intent == "out_of_scope"


def test_a_named_cadence_keeps_only_tasks_of_that_cadence(service):
    r = ask(service, "vp ubnd tinh tay ninh co viec gi phai lam hang thang")
    assert r.intent == "duty" and "Nhiệm vụ 21:" in r.reply and "Hàng tháng" in r.reply
    assert "Thường xuyên" not in r.reply  # recurring, but not monthly


def test_quarter_count_separates_tasks_due_from_tasks_running_through_it(service):
    r = ask(service, "Sở Tư pháp Tây Ninh chủ trì nhiệm vụ gì có hạn Quý I/2024?")
    assert "Chủ trì 5 nhiệm vụ (3 đến hạn trong Quý I/2024; 2 có thời hạn dài hơn" in r.reply
    due_first = r.reply.index("Nhiệm vụ 11:") < r.reply.index("Nhiệm vụ 3:")
    assert due_first


def test_a_year_inside_a_multi_year_plan_filters_its_duties(service):
    r = ask(service, "Văn phòng HĐND và UBND thành phố Tây Ninh phải hoàn thành những việc gì trong năm 2021")
    assert "trong năm 2021" in r.reply and "(3 đến hạn trong năm 2021;" in r.reply
    assert "Chính quyền số" in r.reply and "Zalo" in r.reply
    assert "Năm 2025" not in r.reply


def test_an_office_working_with_another_is_its_support(service):
    r = ask(service, "Bưu điện tỉnh Tây Ninh phối hợp nhiệm vụ nào trong kh cchc 2024")
    support = r.reply.split("Phối hợp ", 1)[1]
    assert "Mục V.11.b: Phối hợp Sở Nội vụ" in support  # listed as a supported task, led by Sở Nội vụ
    assert "Chủ trì: Sở Nội vụ" in support


def test_office_abbreviated_with_a_dot(service):
    r = ask(service, "P.NV tp Tay Ninh phai lam nhung gi trong kh cchc 2021-2025")
    assert r.intent == "duty" and r.reply.startswith("Phòng Nội vụ thành phố Tây Ninh")


def test_a_year_inside_a_plan_span_named_in_the_question_and_in_a_follow_up(service):
    user = uuid.uuid4().hex
    r = ask(service, "tp tay ninh 2021-2025 vp hdnd ubnd phai hoan thanh viec gi trong nam 2021", user)
    assert "trong năm 2021" in r.reply and "(3 đến hạn trong năm 2021;" in r.reply
    r = ask(service, "con nam 2023 thi sao", user)
    assert "trong năm 2023" in r.reply and "Văn phòng Hội đồng nhân dân" in r.reply


def test_nv_is_a_task_and_a_follow_up_office_keeps_the_quarter(service):
    user = uuid.uuid4().hex
    r = ask(service, "so noi vu tay ninh 2024 co nv nao han quy II", user)  # "nv" = nhiệm vụ here
    assert r.intent == "duty" and r.reply.startswith("Sở Nội vụ tỉnh Tây Ninh")
    r = ask(service, "con so tai chinh thi sao", user)
    assert r.intent == "duty" and r.reply.startswith("Sở Tài chính tỉnh Tây Ninh") and "trong quy II" in r.reply
    assert "không nhiệm vụ nào đến hạn riêng trong quy II" in r.reply  # its tasks all run through 2024


def _counts(reply: str) -> tuple[int, int]:
    lead = re.search(r"Chủ trì (\d+) nhiệm vụ", reply)
    support = re.search(r"Phối hợp (\d+) nhiệm vụ", reply)
    return int(lead[1]) if lead else 0, int(support[1]) if support else 0


@pytest.mark.parametrize(("text", "listing"), [
    ("so noi vu tay ninh co bao nhieu nhiem vu phoi hop", "Sở Nội vụ tỉnh Tây Ninh có những nhiệm vụ gì"),
    ("Sở Tư pháp Tây Ninh có bao nhiêu việc phối hợp", "Sở Tư pháp tỉnh Tây Ninh có những nhiệm vụ gì"),
    ("phong noi vu hoai nhon co bao nhieu nhiem vu", "phòng nội vụ hoài nhơn làm những gì"),
    ("Văn phòng UBND tỉnh Tây Ninh có mấy nhiệm vụ", "Văn phòng UBND tỉnh Tây Ninh có những nhiệm vụ gì"),
    ("Sở Tài chính Tây Ninh phối hợp mấy việc", "Sở Tài chính Tây Ninh có những nhiệm vụ gì"),
])
def test_counting_duties_answers_the_count_and_the_list(service, text, listing):
    """"Bao nhiêu / mấy nhiệm vụ": the count of led and of supported tasks, each stated, then the list
    — the same tasks the listing question gets."""
    r = ask(service, text)
    want = ask(service, listing)
    assert r.intent == "duty" == want.intent
    lead, support = _counts(want.reply)
    assert lead + support > 0
    assert f"chủ trì {lead} nhiệm vụ" in r.reply.lower() and f"phối hợp {support} nhiệm vụ" in r.reply.lower()
    assert r.reply.splitlines()[1].startswith(("Tổng", "Có"))  # the count comes before the list
    assert all(c in r.citations for c in want.citations)


def test_a_role_counted_with_none_says_none(service):
    r = ask(service, "Sở Nội vụ Tây Ninh có bao nhiêu nhiệm vụ phối hợp trong quý I/2024")
    assert r.intent == "duty" and re.search(r"phối hợp \d+ nhiệm vụ", r.reply.lower())


@pytest.mark.parametrize("text", ["Sở Nội vụ tỉnh Tây Ninh chủ trì những nhiệm vụ nào năm 2024?",
                                  "Phòng Nội vụ Hoài Nhơn phải làm gì?",
                                  "so tu phap tay ninh phai xong nhung viec gi trong quy I/2024"])
def test_every_led_task_names_its_supporting_offices(service, text):
    """A duty list is a work plan: for each task the office leads, who it must work with."""
    from bot.answers.duty import tasks_for
    from bot.understand import understand

    r = ask(service, text)
    assert r.intent == "duty"
    u = understand(text)
    tasks = {t.number: t for t in tasks_for(u.office_ids, u.plan_ids, None) if t.role == "lead" and t.origin == "table"}
    blocks = re.split(r"\n(?=- )", r.reply.split("Phối hợp ", 1)[0])
    checked = 0
    for block in blocks:
        m = re.match(r"- Nhiệm vụ ([\w.]+):", block)
        if m and (t := tasks.get(m[1])) is not None and t.support:
            assert "Phối hợp: " in block and t.support[0] in block, block
            checked += 1
    assert checked > 0
