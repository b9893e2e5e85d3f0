"""Masking personal data in text that leaves the office: public views and every log line.

Why a scanner of digit runs rather than one regular expression per format: people write the same
number in many ways — "0912 345 678", "0912  345678", "(+84) 912 345 678", "+84-912-345-678",
"079 123 456 789", "079-123-456-789" — and a probe found each per-format pattern missing some.
A run of digits joined by spaces, dots, dashes, brackets or a plus is read as one number; a run of
9 digits or more is masked: a phone in national or +84 form, a 9-digit CMND, a 12-digit CCCD — or
several of them in a row ("0912345678 123456789"), or a bank account number. A
money amount written with thousand dots ("2.500.000.000 đồng") is the one run of that length that
is not personal, and is recognised by its shape (1–3 digits not starting with 0, then groups of exactly
3 after dots) followed by a currency word; "123.456.789" alone may be a CMND and is masked.

E-mail addresses are masked in their usual disguises too: "an@gmail.com", "an (at) gmail.com",
"an[at]gmail[dot]com", "an @ gmail . com".
"""
from __future__ import annotations

import re
import unicodedata

MASK = "[đã ẩn]"
# Digits joined by separator characters ("079 - 123", "0912/345/678", "0912 ... 345", "0912—345",
# "0912_345|678"); a leading "+" or "(". Dates are set aside first (`_DATE`), so "12/05/2024,
# 13/05/2024" stays two dates.
_SEP = r"[\s.\-()+/_,~|\u2010-\u2015…]"  # not ":" — log lines carry times and host:port
_NUMBER_RUN = re.compile(rf"[+(]*\d(?:{_SEP}{{0,5}}\d)*")
_DATE = re.compile(r"(?<!\d)\d{1,2}[/.\-]\d{1,2}[/.\-](?:19|20)\d{2}(?!\d)")
_HOLD = "\ue000"  # a private-use character stands in for a set-aside date
_AMOUNT = re.compile(r"^[1-9]\d{0,2}(?:\.\d{3})+$")
_CURRENCY = re.compile(r"\s*(đồng|đ\b|vnđ|vnd|dong\b)", re.IGNORECASE)
_AT = r"(?:\s*@\s*|\s*[(\[{]\s*(?:at|a)\s*[)\]}]\s*|\s+at\s+)"
_DOT = r"(?:\s*\.\s*|\s*[(\[{]\s*(?:dot|\.)\s*[)\]}]\s*|\s+dot\s+)"
_EMAIL = re.compile(rf"[\w.%+-]+{_AT}[\w-]+(?:{_DOT}[\w-]+)*{_DOT}[A-Za-z]{{2,}}\b", re.IGNORECASE)
# A house: its number before an alley or street word, or after "số"/"nhà số"; an alley's number.
_HOUSE = re.compile(r"(?i)\b(?:số\s*nhà|nhà\s*số|số|hẻm|hẽm|ngõ|ngách|kiệt|kiệt|hxh)\s*(?>\d+[a-z]?(?:/\d+[a-z]?)*)"
                    r"(?-i:(?![/\-]?[A-ZĐ]))"  # not a document number: "số 140/QĐ-UBND"
                    r"|\b\d+[a-z]?(?:/\d+[a-z]?)*(?=\s+(?:hẻm|hẽm|ngõ|ngách|kiệt|đường|phố|đ\.)\s)")
MIN_DIGITS, MAX_DIGITS = 9, 12


def _mask_number(match: re.Match[str]) -> str:
    run = match.group(0)
    digits = re.sub(r"\D", "", run)
    if len(digits) < MIN_DIGITS:
        return run
    core = run.strip("()+ ")
    if _AMOUNT.match(core) and _CURRENCY.match(match.string, match.end()):
        return run
    if len(digits) <= MAX_DIGITS:
        return MASK
    # Longer than one number: several written in a row ("0912345678 123456789"); one mask each,
    # splitting at spaces once a number is complete.
    masks, count = [], 0
    for piece in run.split():
        count += sum(ch.isdigit() for ch in piece)
        if count >= MIN_DIGITS:
            masks.append(MASK)
            count = 0
    return " ".join(masks or [MASK])


def redact(text: str | None) -> str | None:
    """Mask e-mails, phone numbers and CCCD/CMND numbers in `text` (None and "" pass through).

    The text is read in one form first (NFKC: full-width "＠" and digits become plain; invisible
    characters dropped), which is also the form returned."""
    if not text:
        return text
    text = unicodedata.normalize("NFKC", text)
    text = "".join(ch for ch in text if unicodedata.category(ch) != "Cf")
    text = _EMAIL.sub(MASK, text)
    dates: list[str] = []

    def hold(match: re.Match[str]) -> str:
        dates.append(match.group(0))
        return _HOLD

    text = _NUMBER_RUN.sub(_mask_number, _DATE.sub(hold, text))
    for date in dates:
        text = text.replace(_HOLD, date, 1)
    return text


def redact_public(text: str | None) -> str | None:
    """`redact`, and house numbers too: for what anyone may read (Open311, published answers,
    lookups by code). Logs keep house numbers: an office needs them to find the place."""
    masked = redact(text)
    return _HOUSE.sub(MASK, masked) if masked else masked
