"""Property tests of personal-data masking (`pakn.privacy.redact`) over generated formats.

The probe found phone and ID numbers passing the per-format patterns once written another way
("0912  345678", "(+84) 912 345 678", "079-123-456-789", "an(at)gmail.com"); here hypothesis
writes them in every combination of prefix, grouping and separator people use, inside text.
"""
from __future__ import annotations

import re

from hypothesis import given, settings
from hypothesis import strategies as st

from pakn.privacy import MASK, redact

SEPARATORS = st.sampled_from(["", " ", "  ", ".", "-", " - ", ". "])
WORDS = st.sampled_from(["Chị Lan", "gọi", "liên hệ", "số", "sdt:", "zalo", "CCCD", "CMND số", "email", "nhé",
                         "rác ở chợ", "đèn hỏng", "(", ")", ",", "—"])


def grouped(digits: str, sizes: list[int], sep: str) -> str:
    parts, i = [], 0
    for size in sizes:
        parts.append(digits[i:i + size])
        i += size
    parts.append(digits[i:])
    return sep.join(p for p in parts if p)


@st.composite
def phone(draw) -> str:
    body = draw(st.sampled_from("35789")) + draw(st.text("0123456789", min_size=8, max_size=8))
    sep = draw(SEPARATORS)
    sizes = draw(st.sampled_from([[3, 3, 3], [2, 3, 4], [3, 6], [4, 5], [2, 2, 2, 3], [9]]))
    prefix = draw(st.sampled_from(["0", "+84", "+84 ", "(+84) ", "(+84)", "84", "+84-", "(0)"]))
    return prefix + grouped(body, sizes, sep)


@st.composite
def id_number(draw) -> str:
    length = draw(st.sampled_from([9, 12]))
    digits = draw(st.text("0123456789", min_size=length, max_size=length))
    if length == 12:  # a CCCD opens with its province code, 001–096 (so it never reads as an IP address)
        digits = "0" + digits[1:]
    sizes = draw(st.sampled_from([[3, 3, 3, 3], [4, 4, 4], [3, 9], [length]]))
    return grouped(digits, sizes, draw(SEPARATORS))


@st.composite
def email(draw) -> str:
    local = draw(st.from_regex(r"[a-z][a-z0-9._]{1,12}[a-z0-9]", fullmatch=True))
    domain = draw(st.sampled_from(["gmail", "yahoo", "tayninh.gov", "outlook"]))
    at = draw(st.sampled_from(["@", " @ ", "(at)", " (at) ", "[at]", " [at] ", "{at}"]))
    dot = draw(st.sampled_from([".", " . ", "(dot)", "[dot]", " [dot] "]))
    tld = draw(st.sampled_from(["com", "vn", "com.vn"]))
    return local + at + domain + dot + tld.replace(".", dot)


@given(before=WORDS, after=WORDS, number=st.one_of(phone(), id_number()))
@settings(max_examples=400, deadline=None, derandomize=True)
def test_no_phone_or_id_digits_survive(before: str, after: str, number: str) -> None:
    masked = redact(f"{before} {number} {after}")
    assert not re.search(r"\d", masked), (number, masked)
    assert MASK in masked


@given(before=WORDS, after=WORDS, address=email())
@settings(max_examples=300, deadline=None, derandomize=True)
def test_no_email_survives(before: str, after: str, address: str) -> None:
    masked = redact(f"{before} {address} {after}")
    assert masked == f"{before} {MASK} {after}", (address, masked)


@given(amount=st.integers(1, 999), groups=st.integers(2, 3))
def test_money_amounts_and_dates_are_not_personal(amount: int, groups: int) -> None:
    money = str(amount) + ".000" * groups + " đồng"
    text = f"Lệ phí {money}, nộp trước ngày 15/03/2026, Quyết định 140/QĐ-UBND, năm 2024"
    assert redact(text) == text


def test_the_probes_examples() -> None:
    for raw in ("0912  345678", "(+84) 912 345 678", "079 123 456 789", "079-123-456-789", "an(at)gmail.com",
                "0903.111.222", "+84-912-345-678", "chi.lan@gmail.com"):
        assert redact(f"gọi {raw} nhé") == f"gọi {MASK} nhé", raw


def test_the_second_probes_spellings() -> None:
    from pakn.privacy import redact_public

    for raw in ("0912/345/678", "0912_345_678", "0912,345,678", "0912 ... 345 ... 678", "0912—345—678",
                "0912~345~678", "0912|345|678", "0912\u200b345678", "0912    345678",
                "079/123/456/789", "an at gmail dot com", "an＠gmail.com", "an(a)gmail.com", "an @ gmail (.) com",
                "nguyễn.văn.an@gmail.com"):
        masked = redact(f"gọi {raw} nhé")
        assert masked == f"gọi {MASK} nhé", (raw, masked)
    assert redact_public("trước nhà số 45 hẻm 3 đường Trần Hưng Đạo") == f"trước {MASK} {MASK} đường Trần Hưng Đạo"
    kept = "Quyết định số 140/QĐ-UBND ngày 19/01/2024; hạn 12/05/2024, 13/05/2024; Phường 3, tổ 2"
    assert redact_public(kept) == kept


def test_access_log_lines_drop_the_query_and_mask_the_decoded_path() -> None:
    """Open311 takes a petition's fields in the query string; a phone typed as a code is %-encoded."""
    import logging

    from api.logging import mask_record

    record = logging.LogRecord("uvicorn.access", logging.INFO, __file__, 1, '%s - "%s %s HTTP/%s" %d',
                               ("127.0.0.1:5000", "POST", ("/open311/v2/requests.json?phone=0912%20345%20678"
                                                           "&address_string=so%2088%20hem%204"), "1.1", 201), None)
    line = mask_record(record).getMessage()
    assert "0912" not in line and "hem" not in line and "/open311/v2/requests.json?" in line
    assert line.startswith("127.0.0.1:5000")  # an address is not a phone number
    record = logging.LogRecord("uvicorn.access", logging.INFO, __file__, 1, '%s - "%s %s HTTP/%s" %d',
                               ("127.0.0.1:5000", "GET", "/api/v1/pakn/0912%20345%20678", "1.1", 404), None)
    assert "0912" not in mask_record(record).getMessage()


def test_log_lines_keep_their_times_and_addresses() -> None:
    """Masking runs over every finished log line: a time or host:port is not personal data."""
    line = '{"ts": "2026-12-02T08:03:06.123+00:00", "message": "listening on http://127.0.0.1:8010"}'
    assert redact(line) == line
