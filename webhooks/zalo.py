"""Zalo Official Account webhook: verify, parse and answer OA events.

Signature: Zalo sends `X-ZEvent-Signature: mac=<hex sha256(app_id + raw_body + timestamp +
oa_secret_key)>`, where `app_id` and `timestamp` (milliseconds) are fields of the JSON body. The
comparison is constant-time; an event whose timestamp is older than `zalo_max_event_age_s`
(or too far in the future) is refused as a replay even when its signature is valid.

Events handled: `user_send_text`, `user_send_location`, `user_send_image`, `user_send_file`
(all carry `sender.id` and `message.msg_id`), `follow` / `unfollow` (`follower.id`). Stickers,
GIFs, audio, video, links and business cards are stored only to note that the person wrote (the
consultation window); they get no answer. Any other event is acknowledged and ignored.
"""
from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import time
from datetime import UTC, datetime
from typing import Any

from bot.types import Attachment, InboundMessage, Reply
from webhooks.base import (
    ChannelAdapter,
    ChannelEvent,
    InteractionHook,
    InteractionRecorder,
    ServiceProvider,
)
from webhooks.errors import BadSignature, MalformedPayload, StaleEvent
from webhooks.inbox import Inbox
from webhooks.zalo_client import ZaloClient

SIGNATURE_HEADER = "X-ZEvent-Signature"
MESSAGE_EVENTS = frozenset({"user_send_text", "user_send_location", "user_send_image", "user_send_file"})
FOLLOW_EVENTS = frozenset({"follow", "unfollow"})
# Messages the bot does not answer but that still count as the person writing to the OA: they
# reopen Zalo's consultation window (webhooks/zalo_window.py), so they are stored too.
SILENT_MESSAGE_EVENTS = frozenset({"user_send_sticker", "user_send_gif", "user_send_audio", "user_send_video",
                                   "user_send_link", "user_send_business_card"})
INTERACTION_EVENTS = MESSAGE_EVENTS | SILENT_MESSAGE_EVENTS
HANDLED_EVENTS = INTERACTION_EVENTS | FOLLOW_EVENTS
# Zalo's clock and ours may differ a little; a timestamp this far ahead is still accepted.
FUTURE_SKEW_S = 60


def signature(app_id: str, raw_body: bytes | str, timestamp: str, oa_secret_key: str) -> str:
    """The hex digest Zalo puts after `mac=`."""
    body = raw_body.decode("utf-8") if isinstance(raw_body, bytes) else raw_body
    return hashlib.sha256(f"{app_id}{body}{timestamp}{oa_secret_key}".encode()).hexdigest()


def parse_body(raw_body: bytes) -> dict[str, Any]:
    """The event as a dict; `MalformedPayload` if it is not a JSON object."""
    try:
        data = json.loads(raw_body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise MalformedPayload("body is not valid JSON") from exc
    if not isinstance(data, dict):
        raise MalformedPayload("body is not a JSON object")
    return data


def verify(raw_body: bytes, data: dict[str, Any], header: str | None, *, app_id: str, oa_secret_key: str,
           max_age_s: int, now_ms: int | None = None) -> None:
    """Refuse a forged, foreign or replayed event; returns quietly when the event is genuine."""
    if not oa_secret_key:
        raise BadSignature("Zalo OA secret key is not configured")
    if not header:
        raise BadSignature("missing signature")
    given = header.strip()
    if given.lower().startswith("mac="):
        given = given[4:]
    body_app_id = str(data.get("app_id", ""))
    timestamp = str(data.get("timestamp", ""))
    expected = signature(body_app_id, raw_body, timestamp, oa_secret_key)
    if not hmac.compare_digest(given.strip().lower().encode(), expected.encode()):
        raise BadSignature("bad signature")
    if app_id and not hmac.compare_digest(body_app_id.encode(), app_id.encode()):
        raise BadSignature("event for another app")
    try:
        ts_ms = int(timestamp)
    except ValueError as exc:
        raise StaleEvent("missing timestamp") from exc
    now_ms = int(time.time() * 1000) if now_ms is None else now_ms
    age_s = (now_ms - ts_ms) / 1000
    if age_s > max_age_s or age_s < -FUTURE_SKEW_S:
        raise StaleEvent("event timestamp outside the accepted window")


class ZaloAdapter(ChannelAdapter):
    """Zalo OA events in, CS messages out."""

    channel = "zalo"

    def __init__(self, inbox: Inbox, client: ZaloClient, service: ServiceProvider, *,
                 interactions: InteractionRecorder | None = None, on_interaction: InteractionHook | None = None) -> None:
        super().__init__(inbox, service, interactions=interactions, on_interaction=on_interaction)
        self.client = client

    def interaction_at(self, payload: dict[str, Any]) -> datetime | None:
        """The event's own time (Zalo's clock, milliseconds): a person's message is what Zalo counts
        the consultation window from. Follows are not counted: no source says Zalo counts them."""
        if payload.get("event_name") not in INTERACTION_EVENTS:
            return None
        try:
            return datetime.fromtimestamp(int(payload.get("timestamp") or "") / 1000, tz=UTC)
        except (TypeError, ValueError, OverflowError, OSError):
            return None

    def accepts(self, payload: dict[str, Any]) -> bool:
        return payload.get("event_name") in HANDLED_EVENTS

    def event_key(self, payload: dict[str, Any]) -> tuple[str, str]:
        name = str(payload.get("event_name", ""))
        user = self._user_id(payload)
        if name in INTERACTION_EVENTS:
            msg_id = (payload.get("message") or {}).get("msg_id")
            if msg_id:
                return str(msg_id), user
            if name in MESSAGE_EVENTS:
                raise MalformedPayload("message event without msg_id")
            # An unanswered message kind is only a timestamp to us; never refuse it (Zalo retries a
            # refused event and in the end switches the webhook off).
        return f"{name}:{user}:{payload.get('timestamp', '')}", user

    def parse(self, payload: dict[str, Any]) -> ChannelEvent | None:
        name = payload.get("event_name")
        user = self._user_id(payload)
        if name == "follow":
            return ChannelEvent("follow", user)
        if name == "unfollow":
            return ChannelEvent("unfollow", user)
        if name not in MESSAGE_EVENTS:
            return None
        message = payload.get("message") or {}
        attachments = [a for a in (_attachment(x) for x in message.get("attachments") or []) if a is not None]
        text = message.get("text") or ""
        msg = InboundMessage(channel=self.channel, user_id=user, text=str(text), attachments=attachments,
                             message_id=str(message.get("msg_id")) if message.get("msg_id") else None)
        return ChannelEvent("message", user, msg)

    @staticmethod
    def _user_id(payload: dict[str, Any]) -> str:
        name = payload.get("event_name")
        holder = payload.get("follower") if name in FOLLOW_EVENTS else payload.get("sender")
        user = (holder or {}).get("id") if isinstance(holder, dict) else None
        if not user:
            raise MalformedPayload("event without a user id")
        return str(user)

    async def send(self, user_id: str, reply: Reply) -> None:
        await asyncio.to_thread(self.client.send_reply, user_id, reply)

    def send_text(self, user_id: str, text: str) -> None:
        self.client.send_text(user_id, text)


def _attachment(raw: Any) -> Attachment | None:
    """One Zalo attachment as a bot attachment (image/file keep their URL, location its point)."""
    if not isinstance(raw, dict):
        return None
    kind = raw.get("type")
    payload = raw.get("payload") or {}
    if kind == "location":
        coords = payload.get("coordinates") or {}
        try:
            return Attachment(kind="location", latitude=float(coords["latitude"]),
                              longitude=float(coords["longitude"]))
        except (KeyError, TypeError, ValueError):
            return None
    if kind in ("image", "gif"):
        return Attachment(kind="image", url=payload.get("url") or payload.get("thumbnail"))
    if kind in ("file", "video", "audio"):
        return Attachment(kind="file", url=payload.get("url"), name=payload.get("name"))
    return None
