"""Telegram channel: a python-telegram-bot `Application` in webhook mode inside our FastAPI app.

The application is built with `.updater(None)`: Telegram POSTs updates to `/webhooks/telegram`,
which checks `X-Telegram-Bot-Api-Secret-Token`, stores the update in the durable inbox and
answers 200. The inbox worker later feeds the stored update to `Application.process_update`,
so PTB's handlers (`/start`, `/tracuu <mã>`, text, shared location, suggestion buttons) run as
usual, with their exceptions reported back to the worker for a retry.

`base_url` points PTB at the Bot API (`settings.telegram_api_base`), or at the fake Bot API
server in tests and demos.
"""
from __future__ import annotations

import logging
from typing import Any

import httpx
from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Message, Update
from telegram.ext import (
    Application,
    CallbackQueryHandler,
    CommandHandler,
    ContextTypes,
    MessageHandler,
    filters,
)
from telegram.request import BaseRequest

from bot.types import Attachment, InboundMessage, Reply
from webhooks.base import (
    ChannelAdapter,
    ChannelEvent,
    ServiceProvider,
    greeting_reply,
    render_text,
    split_text,
)
from webhooks.errors import ChannelSendError
from webhooks.inbox import Inbox, InboxEvent

log = logging.getLogger(__name__)

SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
MAX_TEXT_CHARS = 4096
MAX_BUTTONS = 6
SUGGESTION_PREFIX = "s:"
TRACUU_HINT = "Bạn vui lòng gõ /tracuu kèm mã tra cứu phản ánh, ví dụ: /tracuu <mã tra cứu>."


class TelegramAdapter(ChannelAdapter):
    """Telegram updates in (through PTB handlers), Bot API messages out."""

    channel = "telegram"

    def __init__(self, inbox: Inbox, *, token: str, base_url: str = "https://api.telegram.org/bot",
                 service: ServiceProvider, request: BaseRequest | None = None,
                 transport: httpx.BaseTransport | None = None) -> None:
        super().__init__(inbox, service)
        self.token = token
        self.base_url = base_url
        builder = Application.builder().token(token).base_url(base_url).updater(None)
        if request is not None:
            builder = builder.request(request)
        self.application = builder.build()
        self._http = httpx.Client(transport=transport, timeout=10.0)
        self._errors: dict[int, BaseException] = {}
        self._rows: dict[int, int] = {}
        self._ready = False
        app = self.application
        app.add_handler(CommandHandler("start", self._on_start))
        app.add_handler(CommandHandler("tracuu", self._on_tracuu))
        app.add_handler(MessageHandler(filters.LOCATION, self._on_message))
        app.add_handler(MessageHandler(filters.TEXT & ~filters.COMMAND, self._on_message))
        app.add_handler(CallbackQueryHandler(self._on_suggestion, pattern=f"^{SUGGESTION_PREFIX}"))
        app.add_error_handler(self._on_error)

    # ------------------------------------------------------------------ lifecycle
    async def start(self, webhook_url: str | None = None, secret_token: str | None = None) -> None:
        """Initialise PTB (calls getMe) and, when a public URL is configured, register the webhook."""
        await self.ensure_initialized()
        if webhook_url:
            await self.application.bot.set_webhook(webhook_url, secret_token=secret_token or None,
                                                   allowed_updates=["message", "callback_query"])

    async def ensure_initialized(self) -> None:
        if not self._ready:
            await self.application.initialize()
            self._ready = True

    async def stop(self) -> None:
        if self._ready:
            await self.application.shutdown()
            self._ready = False
        self._http.close()

    # ------------------------------------------------------------------ ChannelAdapter
    def accepts(self, payload: dict[str, Any]) -> bool:
        return _chat_id(payload) is not None

    def event_key(self, payload: dict[str, Any]) -> tuple[str, str]:
        return str(payload["update_id"]), str(_chat_id(payload))

    def parse(self, payload: dict[str, Any]) -> ChannelEvent | None:
        update = Update.de_json(payload, self.application.bot)
        msg = self._inbound(update)
        return ChannelEvent("message", msg.user_id, msg) if msg else None

    async def process(self, event: InboxEvent) -> None:
        """Run a stored update through PTB; re-raise what a handler raised so the worker retries."""
        await self.ensure_initialized()
        update = Update.de_json(event.payload, self.application.bot)
        self._rows[update.update_id] = event.id
        try:
            await self.application.process_update(update)
        finally:
            self._rows.pop(update.update_id, None)
        error = self._errors.pop(update.update_id, None)
        if error is not None:
            raise error

    async def send(self, user_id: str, reply: Reply) -> None:
        pieces = split_text(render_text(reply), MAX_TEXT_CHARS)
        for i, piece in enumerate(pieces):
            markup = _keyboard(reply.suggestions) if i == len(pieces) - 1 else None
            await self.application.bot.send_message(chat_id=int(user_id), text=piece, reply_markup=markup)

    def send_text(self, user_id: str, text: str) -> None:
        """Plain Bot API call, independent of PTB's event loop, so any thread may notify."""
        for piece in split_text(text, MAX_TEXT_CHARS):
            try:
                resp = self._http.post(f"{self.base_url}{self.token}/sendMessage",
                                       json={"chat_id": int(user_id), "text": piece})
                data = resp.json()
            except (httpx.HTTPError, ValueError) as exc:
                raise ChannelSendError(f"Telegram API unreachable: {type(exc).__name__}") from exc
            if not data.get("ok"):
                raise ChannelSendError(f"Telegram API error {data.get('error_code')}")

    # ------------------------------------------------------------------ handlers
    async def _on_start(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        chat = update.effective_chat
        if chat is not None:
            await self.send(str(chat.id), greeting_reply())

    async def _on_tracuu(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        chat = update.effective_chat
        if chat is None:
            return
        code = " ".join(context.args or []).strip()
        if not code:
            await self.send(str(chat.id), Reply(reply=TRACUU_HINT, intent="pakn_status", answered=False))
            return
        await self._ask(update, InboundMessage(channel=self.channel, user_id=str(chat.id), text=f"tra cứu {code}",
                                               message_id=_message_id(update)))

    async def _on_message(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        msg = self._inbound(update)
        if msg is not None:
            await self._ask(update, msg)

    async def _on_suggestion(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        query = update.callback_query
        assert query is not None
        await query.answer()
        message = query.message if isinstance(query.message, Message) else None  # not an inaccessible one
        text = _button_text(message.reply_markup if message else None, query.data or "")
        chat = update.effective_chat
        if text and chat is not None:
            await self._ask(update, InboundMessage(channel=self.channel, user_id=str(chat.id), text=text,
                                                   message_id=f"cb{query.id}"))

    async def _on_error(self, update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
        if isinstance(update, Update) and context.error is not None:
            self._errors[update.update_id] = context.error
        else:  # pragma: no cover - errors outside an update
            log.warning("telegram error outside an update: %s", type(context.error).__name__)

    async def _ask(self, update: Update, msg: InboundMessage) -> None:
        reply = await self.answer(self._rows.get(update.update_id), msg)
        await self.send(msg.user_id, reply)

    def _inbound(self, update: Update) -> InboundMessage | None:
        message = update.message
        chat = update.effective_chat
        if message is None or chat is None:
            return None
        attachments: list[Attachment] = []
        if message.location is not None:
            attachments.append(Attachment(kind="location", latitude=message.location.latitude,
                                          longitude=message.location.longitude))
        text = message.text or message.caption or ""
        if not text and not attachments:
            return None
        return InboundMessage(channel=self.channel, user_id=str(chat.id), text=text, attachments=attachments,
                              message_id=str(message.message_id))


def _chat_id(payload: dict[str, Any]) -> int | None:
    if not isinstance(payload.get("update_id"), int):
        return None
    for key in ("message", "callback_query"):
        part = payload.get(key)
        if not isinstance(part, dict):
            continue
        if key == "callback_query":
            part = part.get("message") or {}
        chat = part.get("chat") if isinstance(part, dict) else None
        if isinstance(chat, dict) and isinstance(chat.get("id"), int):
            return chat["id"]
    return None


def _message_id(update: Update) -> str | None:
    return str(update.message.message_id) if update.message else None


def _keyboard(suggestions: list[str]) -> InlineKeyboardMarkup | None:
    """One suggestion per row; the callback data is only an index (Telegram allows 64 bytes)."""
    rows = [[InlineKeyboardButton(s, callback_data=f"{SUGGESTION_PREFIX}{i}")]
            for i, s in enumerate(suggestions[:MAX_BUTTONS]) if s.strip()]
    return InlineKeyboardMarkup(rows) if rows else None


def _button_text(markup: InlineKeyboardMarkup | None, data: str) -> str | None:
    """The label of the tapped button: the suggestion text itself."""
    if markup is None:
        return None
    for row in markup.inline_keyboard:
        for button in row:
            if button.callback_data == data:
                return button.text
    return None
