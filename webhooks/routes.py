"""HTTP entry points of the channels and their start/stop: the one registration point for channels.

    POST /webhooks/zalo       Zalo OA events (X-ZEvent-Signature)
    POST /webhooks/telegram   Telegram updates (X-Telegram-Bot-Api-Secret-Token)
    GET  /                    the web chat page (see `webhooks.web`)

Every webhook does the same few steps and nothing slow: size limit → JSON → authenticity →
"do we handle this event?" → one INSERT into the inbox (the dedupe point) → 200. The answer is
produced later by the inbox worker, well inside Zalo's 2-second window. A refused request
(413/400/401/403) stores nothing and sends nothing.
"""
from __future__ import annotations

import asyncio
import hmac
import logging
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import httpx
from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import JSONResponse
from telegram.request import BaseRequest

from webhooks import zalo
from webhooks.base import ChannelAdapter, ServiceProvider
from webhooks.errors import BadSignature, MalformedPayload, PayloadTooLarge, WebhookError
from webhooks.inbox import Inbox, InboxWriter
from webhooks.queue import InboxWorker
from webhooks.telegram import SECRET_HEADER, TelegramAdapter
from webhooks.zalo import ZaloAdapter
from webhooks.zalo_client import TokenStore, ZaloClient
from webhooks.zalo_window import InteractionStore, WindowPolicy, ZaloReplyNotifier

log = logging.getLogger(__name__)

router = APIRouter(prefix="/webhooks", tags=["webhooks"])


class Channels:
    """Everything the channel layer runs: inbox, worker, one adapter per configured channel.

    Outside services are injectable (`zalo_transport`, `telegram_request`, `service`) so tests
    can point them at fakes without touching globals.
    """

    def __init__(self, settings: Any, *, service: ServiceProvider,
                 zalo_transport: httpx.BaseTransport | None = None, telegram_request: BaseRequest | None = None,
                 telegram_transport: httpx.BaseTransport | None = None) -> None:
        self.settings = settings
        self.inbox = Inbox(settings.database_url, lease_s=settings.inbox_lease_s,
                           max_attempts=settings.inbox_max_attempts, base_delay_s=settings.inbox_retry_base_s)
        self.writer = InboxWriter(self.inbox)
        self.interactions = InteractionStore(settings.database_url)
        count_cs = (lambda user_id: self.interactions.count_cs("zalo", user_id)) if settings.zalo_cs_quota else None
        client = ZaloClient(app_id=settings.zalo_app_id,
                            app_secret_key=settings.zalo_app_secret_key.get_secret_value(),
                            tokens=TokenStore(settings.zalo_app_id, settings.database_url),
                            api_base=settings.zalo_api_base, oauth_base=settings.zalo_oauth_base,
                            transport=zalo_transport, on_cs_sent=count_cs)
        self.zalo = ZaloAdapter(self.inbox, client, service, interactions=self.interactions,
                                on_interaction=self.release_waiting_replies)
        # Office replies (PAKN outbox) go through the window policy; bot answers do not need it,
        # they answer a message that just opened the window.
        self.zalo_replies = ZaloReplyNotifier(client, self.interactions, WindowPolicy.from_settings(settings),
                                              text_max=settings.zalo_transaction_text_max)
        self._registered: list[str] = []
        token = settings.telegram_token.get_secret_value()
        self.telegram: TelegramAdapter | None = None
        if token:
            self.telegram = TelegramAdapter(self.inbox, token=token, base_url=settings.telegram_api_base,
                                            service=service, request=telegram_request,
                                            transport=telegram_transport)
        adapters: list[ChannelAdapter] = [a for a in (self.zalo, self.telegram) if a is not None]
        self.worker = InboxWorker(self.inbox, {a.channel: a.process for a in adapters},
                                  poll_interval_s=settings.inbox_poll_interval_s,
                                  retention=timedelta(days=settings.inbox_retention_days))

    async def start(self) -> None:
        s = self.settings
        await asyncio.to_thread(self.zalo.client.tokens.seed, s.zalo_access_token.get_secret_value(),
                                s.zalo_refresh_token.get_secret_value())
        if self.telegram is not None:
            try:
                await self.telegram.start(s.telegram_webhook_url, s.telegram_secret_token.get_secret_value())
            except Exception as exc:  # noqa: BLE001 - the API may be down; process() retries initialisation
                log.warning("telegram initialisation failed (%s); will retry on the first update",
                            type(exc).__name__)
        self.register_senders()
        await self.worker.start()

    async def stop(self) -> None:
        self.unregister_senders()
        await self.worker.stop()
        await asyncio.to_thread(self.writer.stop)
        if self.telegram is not None:
            await self.telegram.stop()
        self.zalo.client.close()

    def register_senders(self) -> None:
        """Let the PAKN pipeline reach a citizen on the channel they wrote from."""
        try:
            from pakn.notify import register_sender
        except ImportError:
            log.info("pakn.notify is not available; office replies will not be pushed to channels")
            return
        register_sender("zalo", self.zalo_replies.as_sender())
        self._registered = ["zalo"]
        if self.telegram is not None:
            register_sender("telegram", self.telegram.send_text)
            self._registered.append("telegram")

    def unregister_senders(self) -> None:
        if not self._registered:
            return
        from pakn.notify import unregister_sender

        for channel in self._registered:
            unregister_sender(channel)
        self._registered = []

    def release_waiting_replies(self, channel: str, user_id: str) -> None:
        """The person wrote: office replies that waited for it go back to the PAKN outbox."""
        try:
            from pakn.outbox import release_waiting
        except ImportError:
            return
        from db import session_factory

        released = release_waiting(session_factory(self.settings.database_url), channel, user_id)
        if released:
            log.info("%s: %d waiting office replies released", channel, released)

    async def receive(self, adapter: ChannelAdapter, request: Request,
                      verify: Callable[[bytes, dict[str, Any]], None]) -> JSONResponse:
        """The shared webhook steps; see the module docstring."""
        try:
            raw = await read_limited(request, self.settings.max_body_bytes)
            data = zalo.parse_body(raw)
            verify(raw, data)
            if not adapter.accepts(data):
                name = str(data.get("event_name") or "update")[:40]
                log.info("%s event ignored: %s", adapter.channel, name)
                return JSONResponse({"status": "ignored"})
            event_id, user_key = adapter.event_key(data)
        except WebhookError as exc:
            return JSONResponse({"detail": exc.detail}, status_code=exc.status)
        kind = str(data.get("event_name") or next((k for k in data if k != "update_id"), "update"))[:64]
        stored = await self.writer.record(channel=adapter.channel, event_id=event_id, kind=kind,
                                          user_key=user_key, payload=data)
        if stored:
            self.worker.notify()
        return JSONResponse({"status": "accepted" if stored else "duplicate"})


async def read_limited(request: Request, limit: int) -> bytes:
    """The raw body, refusing more than `limit` bytes without reading it all into memory."""
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit:
        raise PayloadTooLarge("body too large")
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            raise PayloadTooLarge("body too large")
    return bytes(body)


def _channels(request: Request) -> Channels:
    channels = getattr(request.app.state, "channels", None)
    if channels is None:
        raise RuntimeError("channels are not started (runtime.services in the app lifespan)")
    return channels


@router.post("/zalo")
async def zalo_webhook(request: Request) -> JSONResponse:
    """Receive one Zalo Official Account event."""
    channels = _channels(request)
    s = channels.settings

    def verify(raw: bytes, data: dict[str, Any]) -> None:
        zalo.verify(raw, data, request.headers.get(zalo.SIGNATURE_HEADER), app_id=s.zalo_app_id,
                    oa_secret_key=s.zalo_oa_secret_key.get_secret_value(), max_age_s=s.zalo_max_event_age_s)

    return await channels.receive(channels.zalo, request, verify)


@router.post("/telegram")
async def telegram_webhook(request: Request) -> JSONResponse:
    """Receive one Telegram update."""
    channels = _channels(request)
    expected = channels.settings.telegram_secret_token.get_secret_value()

    def verify(raw: bytes, data: dict[str, Any]) -> None:
        given = request.headers.get(SECRET_HEADER) or ""
        if not expected or not hmac.compare_digest(given.encode(), expected.encode()):
            raise BadSignature("bad secret token")
        if not isinstance(data.get("update_id"), int):
            raise MalformedPayload("update without update_id")

    if channels.telegram is None:
        return JSONResponse({"detail": "Telegram is not configured"}, status_code=404)
    return await channels.receive(channels.telegram, request, verify)


def register(app: FastAPI) -> None:
    """Add the webhook routes and the web chat page to the app (called from `create_app`)."""
    from webhooks.web import register as register_web

    app.include_router(router)
    register_web(app)


async def start_channels(app: FastAPI, channels: Channels) -> Channels:
    """Start a channel layer on an app of its own (tests of the channels; the product's app gets
    its channels from runtime.services, which starts and stops them in the lifespan)."""
    await channels.start()
    app.state.channels = channels
    return channels


async def stop_channels(app: FastAPI) -> None:
    channels = getattr(app.state, "channels", None)
    if channels is not None:
        await channels.stop()
        app.state.channels = None
