"""PAKN_DEFAULT_OFFICE_WEBHOOK_URL: petitions of offices without a contact go to one shared, signed
webhook instead of the clerk's e-mail; an office's own contact still wins."""
from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from pakn import delivery
from pakn.models import PaknRecord
from settings import get_settings
from tests.fakes.webhook_receiver import WebhookReceiver

pytestmark = pytest.mark.integration

SECRET = "default-webhook-secret"


def record(office_id: str | None) -> PaknRecord:
    """A transient petition: delivery reads its attributes only, no database is needed."""
    return PaknRecord(code="PA-2501-ABCDE", content="Đèn đường hỏng cả tháng nay", location=None, channel="api",
                      category="giao_thong_ha_tang", category_name="Giao thông, hạ tầng", office_id=office_id,
                      office_name="Sở Xây dựng tỉnh Tây Ninh", contact={"phone": "0912345678"}, needs_human=False,
                      is_complaint=False, created_at=datetime.now(UTC))


@pytest.fixture
def hook(monkeypatch: pytest.MonkeyPatch) -> Iterator[WebhookReceiver]:
    with WebhookReceiver(SECRET) as receiver:
        monkeypatch.setenv("WEBHOOK_HMAC_SECRET", SECRET)
        monkeypatch.setenv("PAKN_DEFAULT_OFFICE_WEBHOOK_URL", receiver.url)
        get_settings.cache_clear()
        yield receiver
    get_settings.cache_clear()


@pytest.mark.parametrize("office_id", ["tay-ninh.so-xay-dung", None])  # in the directory without contact; unrouted
def test_office_without_contact_goes_to_default_webhook(hook: WebhookReceiver, office_id: str | None) -> None:
    route = delivery.deliver_to_office(None, record(office_id), "deliver_office:PA-2501-ABCDE:x:1")
    assert "hệ thống tiếp nhận PAKN chung" in route
    assert [r["key"] for r in hook.requests] == ["deliver_office:PA-2501-ABCDE:x:1"]
    assert hook.requests[0]["valid"]
    assert hook.accepted["deliver_office:PA-2501-ABCDE:x:1"]["code"] == "PA-2501-ABCDE"


def test_office_contact_wins_over_default_webhook(hook: WebhookReceiver, monkeypatch: pytest.MonkeyPatch) -> None:
    sent: list[str] = []
    monkeypatch.setattr(delivery, "find_office", lambda _s, oid: delivery.OfficeInfo(oid, "Sở", {"email": "so@x.vn"}))
    monkeypatch.setattr(delivery, "send_email", lambda to, _rec, _key: sent.append(to))
    assert delivery.deliver_to_office(None, record("tay-ninh.so-xay-dung"), "k") == "qua email"
    assert sent == ["so@x.vn"] and hook.requests == []
