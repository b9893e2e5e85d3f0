"""Channels: adapt Zalo OA, Telegram and the web page to the bot (`bot.service.ChatService`).

The layer knows nothing of ranking or Vietnamese text handling. Each webhook verifies, stores the
event in the durable inbox (`channel_inbox`, unique per channel and event id) and answers at once;
the inbox worker (`webhooks.queue`) asks the bot and sends the reply. `webhooks.routes` is the one
registration point (`register(app)`, `start_channels(app)`, `stop_channels(app)`).
"""
from webhooks.base import ChannelAdapter, ChannelEvent, citation_line, render_text, split_text
from webhooks.errors import (
    BadSignature,
    ChannelSendError,
    MalformedPayload,
    PayloadTooLarge,
    StaleEvent,
    TokenRefreshError,
    WebhookError,
    ZaloApiError,
)
from webhooks.inbox import Inbox, InboxEvent

__all__ = [
    "BadSignature", "ChannelAdapter", "ChannelEvent", "ChannelSendError", "Inbox", "InboxEvent",
    "MalformedPayload", "PayloadTooLarge", "StaleEvent", "TokenRefreshError", "WebhookError", "ZaloApiError",
    "citation_line", "render_text", "split_text",
]
