"""Which Zalo message may carry an office reply that comes days after the citizen wrote.

Zalo's rules (looked up 2026-12-02; developers.zalo.me is a script-only page, so the official
mirror docs.zaloplatforms.com was read through a third-party verification report dated
2026-09-22 that quotes it, and cross-checked with other integrators' code and help pages):

* A consultation message (tin Tư vấn, `POST /v3.0/oa/message/cs`) is accepted only if the user
  interacted with the OA in the last **7 days**; it is free for the first **48 hours** after that
  interaction and paid after. Outside the 7 days Zalo answers `-230` "User has not interacted
  with the OA in the past 7 days" or `-232` "User has not interacted with the OA, or the last
  interaction has expired".
  https://docs.zaloplatforms.com/docs/OA/tin-nhan/tin-tu-van/dieu-kien-gui-tin-tu-van
  https://docs.zaloplatforms.com/docs/OA/tin-nhan/tong-quan
  https://docs.zaloplatforms.com/docs/OA/phu-luc/ma-loi
  (older API versions allowed cs only within 48 hours: `-305` "Official Account cannot response
  to user after 48 hours" in the SDK table of developers.zalo.me/docs/api/official-account-api/
  phu-luc/ma-loi-post-735.)
* The quota: until 2025 an OA had **8** free cs messages per user interaction (reset by each new
  user message; https://zalooa.freshdesk.com/support/solutions/articles/64000261136), refused with
  `-311` "Out of quota for responding to user message" in the old table. Zalo's own `quota.remain`
  field description says that **from 2026-01-01 cs messages within 48 hours are unlimited**
  ("gửi tin Tư vấn miễn phí không giới hạn trong khung 48h"), the field being always 8 and then
  dropped after 2026-03-01
  (https://docs.zaloplatforms.com/docs/OA/tin-nhan/quan-ly-tin-nhan/kiem-tra-han-muc-gui-tin-nhan).
  So the quota is a setting, `ZALO_CS_QUOTA`, 0 (no limit) by default; an OA on the old rule, or
  one that wants a cost cap, sets 8. `-211` "Out of quota" and `-218` "Out of quota receive" are
  the generic quota answers and are treated the same way.
* A transaction message (tin Giao dịch, `POST /v3.0/oa/message/transaction`, a `template` of a
  `template_type` such as `transaction_event`) may be sent to a user who interacted within
  **1 year** (https://docs.zaloplatforms.com/docs/OA/tin-nhan/tin-giao-dich/dieu-kien-gui-tin-giao-dich,
  as quoted by a third-party guide; not confirmed at the source: hence `ZALO_TRANSACTION_WINDOW_H`).
  The OA needs the transaction permission and the layout (`ZALO_TRANSACTION_TEMPLATE`); the
  limit on the text element is not documented where we could read it (`ZALO_TRANSACTION_TEXT_MAX`).
  ZNS (`business.openapi.zalo.me/message/template`, by phone number and a ZNS template id) is
  another product with its own contract and billing; it is not implemented here.

Why this shape:

* **Decide before sending, and believe Zalo's answer over our guess.** The last verified message
  of each person is stored (`channel_interactions`, written by the inbox worker), so a reply ten
  days late does not even try cs. Our record can be missing (someone who wrote before it existed)
  or a few seconds off, so the error codes above are mapped too: a refusal for window or quota
  falls through to the next allowed type instead of being retried until it dies.
* **Waiting is a state, not a failure.** When neither cs nor a transaction message is allowed,
  `RecipientUnreachable` tells the PAKN outbox to park the reply (`waiting`); the next message of
  that person releases it (`webhooks.base.ChannelAdapter.process` → `on_interaction`), and the
  reply then goes out as cs, prefixed "Cơ quan đã trả lời phản ánh … của bạn".
* **A split reply is sent whole or not at all.** With a quota, the pieces of a long reply are
  counted before sending, so a reply never stops half-way and is re-sent from the start later.

### Usage example
    store = InteractionStore(settings.database_url)
    notifier = ZaloReplyNotifier(client, store, WindowPolicy.from_settings(settings))
    notifier.deliver("2468458835296197922", "Phản ánh PA-… đã có trả lời …", code="PA-2612-…")
"""
from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal

from sqlalchemy import select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from db import session_scope
from webhooks.base import split_text
from webhooks.errors import RecipientUnreachable, ZaloApiError
from webhooks.models import ChannelInteractionRow, utcnow
from webhooks.zalo_client import MAX_TEXT_CHARS

log = logging.getLogger(__name__)

# Zalo answers that mean "not this message type, not now": wait for the person to write again.
WINDOW_CODES = frozenset({-230, -232, -305})
QUOTA_CODES = frozenset({-211, -218, -311})
# The person cannot get this type from the OA at the moment (unfollowed, restricted the type);
# their own next message reopens the conversation.
RECIPIENT_CODES = frozenset({-213, -244})
DEFER_CODES = WINDOW_CODES | QUOTA_CODES | RECIPIENT_CODES
# Retrying cannot help: a bad request, an OA without the feature, a user gone from Zalo.
PERMANENT_CODES = frozenset({-201, -204, -205, -209, -212, -221, -223, -224, -227, -233, -235, -248})

Kind = Literal["cs", "transaction", "wait"]


@dataclass(frozen=True)
class Interaction:
    last_at: datetime
    cs_sent: int


class InteractionStore:
    """Durable last interaction per (channel, user) — table `channel_interactions`."""

    def __init__(self, database_url: str | None = None, *, clock: Callable[[], datetime] = utcnow) -> None:
        self.url = database_url
        self.clock = clock

    def touch(self, channel: str, user_id: str, at: datetime | None = None) -> None:
        """Record a verified message of `user_id` at `at` (never later than now); a newer one resets
        the cs count. An older timestamp (a retried event) changes nothing."""
        now = self.clock()
        at = min(at or now, now)
        with session_scope(self.url) as session:
            dialect = session.get_bind().dialect.name
            insert = pg_insert if dialect == "postgresql" else sqlite_insert
            stmt = insert(ChannelInteractionRow).values(channel=channel, user_id=user_id, last_interaction_at=at,
                                                        cs_sent=0, updated_at=now)
            newer = ChannelInteractionRow.last_interaction_at < stmt.excluded.last_interaction_at
            session.execute(stmt.on_conflict_do_update(
                index_elements=["channel", "user_id"],
                set_={"last_interaction_at": stmt.excluded.last_interaction_at, "cs_sent": 0, "updated_at": now},
                where=newer))

    def get(self, channel: str, user_id: str) -> Interaction | None:
        with session_scope(self.url) as session:
            row = session.execute(select(ChannelInteractionRow.last_interaction_at, ChannelInteractionRow.cs_sent)
                                  .where(ChannelInteractionRow.channel == channel,
                                         ChannelInteractionRow.user_id == user_id)).first()
            return Interaction(row[0], row[1]) if row else None

    def count_cs(self, channel: str, user_id: str, n: int = 1) -> None:
        """Count `n` consultation messages sent since the last interaction."""
        with session_scope(self.url) as session:
            session.execute(update(ChannelInteractionRow)
                            .where(ChannelInteractionRow.channel == channel, ChannelInteractionRow.user_id == user_id)
                            .values(cs_sent=ChannelInteractionRow.cs_sent + n)
                            .execution_options(synchronize_session=False))


@dataclass(frozen=True)
class WindowPolicy:
    """The allowed message type for a person, from their last interaction (see the module docstring)."""

    cs_window: timedelta = timedelta(days=7)
    cs_quota: int = 0  # 0: no limit
    transaction_template: str = ""
    transaction_window: timedelta = timedelta(days=365)

    @classmethod
    def from_settings(cls, settings: Any) -> WindowPolicy:
        return cls(cs_window=timedelta(hours=settings.zalo_cs_window_h), cs_quota=settings.zalo_cs_quota,
                   transaction_template=settings.zalo_transaction_template.strip(),
                   transaction_window=timedelta(hours=settings.zalo_transaction_window_h))

    def cs_allowed(self, last: Interaction | None, now: datetime, pieces: int = 1) -> bool:
        """Unknown people are tried (Zalo's answer decides); known ones within the window and quota."""
        if last is None:
            return True
        if now - last.last_at > self.cs_window:
            return False
        return not self.cs_quota or last.cs_sent + pieces <= self.cs_quota

    def transaction_allowed(self, last: Interaction | None, now: datetime) -> bool:
        if not self.transaction_template:
            return False
        return last is None or now - last.last_at <= self.transaction_window

    def choose(self, last: Interaction | None, now: datetime, pieces: int = 1) -> Kind:
        if self.cs_allowed(last, now, pieces):
            return "cs"
        if self.transaction_allowed(last, now):
            return "transaction"
        return "wait"

    def why_not(self, last: Interaction | None, now: datetime) -> str:
        """Why cs is not allowed, for logs and the job's last_error (no personal data)."""
        if last is None:
            return "no recorded interaction"
        days = (now - last.last_at).total_seconds() / 86400
        if now - last.last_at > self.cs_window:
            return f"last message {days:.1f} days ago, outside the cs window"
        return f"cs quota used ({last.cs_sent}/{self.cs_quota})"


class ZaloReplyNotifier:
    """Delivers PAKN office replies to Zalo users with the message type Zalo allows now."""

    channel = "zalo"

    def __init__(self, client: Any, interactions: InteractionStore, policy: WindowPolicy, *,
                 text_max: int = 1000, clock: Callable[[], datetime] = utcnow) -> None:
        self.client = client
        self.interactions = interactions
        self.policy = policy
        self.text_max = text_max
        self.clock = clock

    def deliver(self, user_id: str, text: str, *, code: str | None = None) -> str:
        """Send `text`; returns "zalo:cs" or "zalo:transaction". Raises `RecipientUnreachable` when
        the reply has to wait for the person's next message, `ZaloApiError` otherwise."""
        now = self.clock()
        last = self.interactions.get(self.channel, user_id)
        pieces = max(1, len(split_text(text, MAX_TEXT_CHARS)))
        kind = self.policy.choose(last, now, pieces)
        reason = "" if kind == "cs" else self.policy.why_not(last, now)
        if kind == "cs":
            try:
                self.client.send_text(user_id, text)
                return "zalo:cs"
            except ZaloApiError as exc:
                if exc.code not in DEFER_CODES:
                    raise
                reason = f"Zalo refused cs (error {exc.code})"
                log.info("zalo refused a cs reply (error %s); trying the next allowed type", exc.code)
                kind = "transaction" if self.policy.transaction_allowed(last, now) else "wait"
        if kind == "transaction":
            try:
                self.client.send_transaction(user_id, self.policy.transaction_template,
                                             **transaction_content(text, code, self.text_max))
                return "zalo:transaction"
            except ZaloApiError as exc:
                if exc.code not in DEFER_CODES:
                    raise
                reason = f"{reason}; Zalo refused the transaction message (error {exc.code})"
        raise RecipientUnreachable(reason or "no message type allowed")

    def as_sender(self) -> Callable[..., str]:
        """The `pakn.notify` sender: Zalo outcomes as the outbox's delivery errors."""

        def send(user_id: str, text: str, *, code: str | None = None) -> str:
            from pakn.errors import DeliveryDeferred, DeliveryError

            try:
                return self.deliver(user_id, text, code=code)
            except RecipientUnreachable as exc:
                raise DeliveryDeferred(str(exc)) from exc
            except ZaloApiError as exc:
                raise DeliveryError(f"Zalo API error {exc.code}", permanent=exc.code in PERMANENT_CODES) from exc

        return send


def transaction_content(text: str, code: str | None, text_max: int) -> dict[str, Any]:
    """Header, body and table of the transaction message; a long reply is cut and points to the
    lookup ("tra cứu PA-…" is answered by the bot, and writing it reopens the cs window)."""
    header = f"Trả lời phản ánh {code}" if code else "Trả lời phản ánh của bạn"
    lookup = f"\n\nNhắn “tra cứu {code}” cho OA để xem chi tiết." if code else ""
    body = text.strip()
    if len(body) + len(lookup) > text_max:
        body = body[: max(0, text_max - len(lookup) - 1)].rstrip() + "…"
    return {"header": header, "body": body + lookup, "table": [("Mã phản ánh", code)] if code else None}


__all__ = ["DEFER_CODES", "PERMANENT_CODES", "Interaction", "InteractionStore", "WindowPolicy", "ZaloReplyNotifier",
           "transaction_content"]
