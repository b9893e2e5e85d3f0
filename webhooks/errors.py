"""Errors of the channel layer, one tree so callers catch at the level they care about.

    WebhookError                 an inbound request is refused (nothing is stored)
    ├── PayloadTooLarge          413: body over settings.max_body_bytes
    ├── MalformedPayload         400: not JSON, or not the shape the channel sends
    ├── BadSignature             401: missing/forged signature or secret token
    └── StaleEvent               403: signed, but older than the replay window
    ChannelSendError             an outbound message could not be delivered (the worker retries)
    ├── ZaloApiError             the Zalo OA API answered with error != 0 (code kept, e.g. -216)
    ├── TokenRefreshError        Zalo refused to refresh the access token
    └── RecipientUnreachable     no message type may reach the person until they write again
"""
from __future__ import annotations


class WebhookError(Exception):
    """An inbound webhook request that is refused; `status` is the HTTP status to answer."""

    status = 400

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


class PayloadTooLarge(WebhookError):
    status = 413


class MalformedPayload(WebhookError):
    status = 400


class BadSignature(WebhookError):
    status = 401


class StaleEvent(WebhookError):
    status = 403


class ChannelSendError(Exception):
    """Sending to a channel failed; the message says why, never what was sent."""


class ZaloApiError(ChannelSendError):
    def __init__(self, code: int, message: str) -> None:
        super().__init__(f"Zalo API error {code}: {message}")
        self.code = code


class TokenRefreshError(ChannelSendError):
    pass


class RecipientUnreachable(ChannelSendError):
    """The channel accepts no message to this person now (Zalo: outside the interaction window or
    over the quota, no transaction message allowed); retrying is useless until they write again."""
