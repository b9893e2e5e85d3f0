"""Pure parts of the PAKN pipeline: contact parsing, tracking codes, PII masking, backoff,
webhook signatures, the lifecycle table and the citizen-notification registry."""
from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest

from pakn import notify
from pakn.delivery import sign, verify
from pakn.errors import DeliveryError, PaknValidationError
from pakn.outbox import backoff_seconds
from pakn.service import TRANSITIONS, new_code, normalise_code, parse_contact, parse_coordinates, redact
from settings import get_settings


@pytest.mark.parametrize("raw, expected", [
    ("0912 345 678", {"phone": "0912345678"}),
    ("+84 912.345.678", {"phone": "0912345678"}),
    ("Chị Lan - 0903123456, LAN@Gmail.com", {"phone": "0903123456", "email": "lan@gmail.com", "name": "Chị Lan"}),
    ({"phone": "028 3829 1234", "name": "Ông Bình"}, {"phone": "02838291234", "name": "Ông Bình"}),
    ("", None),
    (None, None),
])
def test_parse_contact(raw, expected) -> None:
    assert parse_contact(raw) == expected


@pytest.mark.parametrize("raw, message", [
    ("091234", "Số điện thoại không hợp lệ"),
    ("0012345678", "Số điện thoại không hợp lệ"),
    ("lan@", "email không hợp lệ"),
    ("chỉ có tên thôi", "cần có số điện thoại hoặc email"),
    ("0912345678" * 40, "quá dài"),
])
def test_parse_contact_rejects(raw, message) -> None:
    with pytest.raises(PaknValidationError, match=message):
        parse_contact(raw)


def test_codes() -> None:
    code = new_code(datetime(2024, 11, 5, tzinfo=UTC))
    assert re.fullmatch(r"PA-2411-[0-9A-HJKMNP-TV-Z]{5}-[0-9A-HJKMNP-TV-Z]{5}", code)  # 50 random bits
    assert normalise_code(code.lower().replace("-", "")) == code
    assert normalise_code(" pa-2411-7kq3m ") == "PA-2411-7KQ3M"  # codes issued before 12/2026
    assert normalise_code("pa 2612 7kq3m 4xw2p") == normalise_code("PA–2612–7KQ3M–4XW2P") == "PA-2612-7KQ3M-4XW2P"
    assert normalise_code("hello") is None and normalise_code("") is None
    assert len({new_code() for _ in range(2000)}) > 1990


def test_coordinates() -> None:
    assert parse_coordinates("10.7725, 106.698") == (10.7725, 106.698)
    assert parse_coordinates("phường Bến Thành") is None
    with pytest.raises(PaknValidationError, match="ngoài lãnh thổ"):
        parse_coordinates("48.85,2.35")


def test_redact_masks_phone_email_and_id_numbers() -> None:
    text = "Gọi 0912 345 678 / +84912345678, CCCD 079123456789, CMND 123456789, a.b@gmail.com; nhà số 12, 2024"
    out = redact(text)
    for secret in ("0912 345 678", "+84912345678", "079123456789", "123456789", "a.b@gmail.com"):
        assert secret not in out
    assert "nhà số 12, 2024" in out


def test_backoff_grows_exponentially_and_is_capped(monkeypatch) -> None:
    monkeypatch.setenv("DELIVERY_BASE_DELAY_S", "10")
    monkeypatch.setenv("DELIVERY_MAX_DELAY_S", "100")
    get_settings.cache_clear()
    try:
        waits = [backoff_seconds(n) for n in (1, 2, 3, 4, 10)]
        assert 10 <= waits[0] <= 15 and 20 <= waits[1] <= 25 and 40 <= waits[2] <= 45
        assert waits[4] <= 100
    finally:
        get_settings.cache_clear()


def test_signature_round_trip() -> None:
    body = b'{"code":"PA-2411-7KQ3M"}'
    header = sign(body, "s3cret")
    assert header.startswith("sha256=") and len(header) == 7 + 64
    assert verify(body, header, "s3cret")
    assert not verify(body + b" ", header, "s3cret") and not verify(body, header, "other") and not verify(body, None, "s")


def test_lifecycle_table() -> None:
    assert TRANSITIONS["closed"] == frozenset() and TRANSITIONS["rejected"] == frozenset()
    assert "answered" not in set().union(*TRANSITIONS.values())  # only a reply answers
    reachable, todo = {"received", "answered"}, ["received", "answered"]  # a reply leads to answered
    while todo:
        for nxt in TRANSITIONS[todo.pop()]:
            if nxt not in reachable:
                reachable.add(nxt)
                todo.append(nxt)
    assert reachable == set(TRANSITIONS)


def test_notify_registry() -> None:
    calls = []
    assert notify.send("api", "u", "x") is False and notify.send("web", "u", "x") is False
    with pytest.raises(DeliveryError, match="no sender"):
        notify.send("signal", "u", "x")
    notify.register_sender("signal", lambda u, t: calls.append((u, t)))

    async def async_sender(u: str, t: str) -> None:
        calls.append(("async", u, t))

    notify.register_sender("asyncchan", async_sender)

    def broken(u: str, t: str) -> None:
        raise RuntimeError("user 0912345678 not found")

    notify.register_sender("broken", broken)
    try:
        assert notify.send("signal", "u1", "xin chào") is True
        assert notify.send("asyncchan", "u2", "hi") is True
        assert calls == [("u1", "xin chào"), ("async", "u2", "hi")]
        with pytest.raises(DeliveryError) as exc:
            notify.send("broken", "u", "t")
        assert "0912345678" not in str(exc.value)  # it ends up in last_error and logs
        assert notify.send("signal", None, "x") is False
    finally:
        for ch in ("signal", "asyncchan", "broken"):
            notify.unregister_sender(ch)
