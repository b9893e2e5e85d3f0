"""Push a message to a citizen on the channel they wrote from (Zalo, Telegram, …).

Why a registry: the channel adapters (webhooks/*) own their API clients and tokens; they call
`register_sender("zalo", fn)` at start-up, and the outbox worker calls `send()` without knowing
any channel. Channels without push ('api', 'web', 'open311', 'cli') are a normal case, not an
error: the citizen reads the reply with GET /api/v1/pakn/{code}, so `send` returns False.

A sender is `fn(user_id: str, text: str) -> None` (or a coroutine function); it raises on failure
so the outbox retries. A sender that declares a keyword `code` also gets the petition's tracking
code (Zalo puts it in a transaction message); one that returns a string names what it sent
("zalo:cs"), which the outbox keeps as the job's note. `DeliveryDeferred` from a sender means
"not now, not by retrying": the outbox parks the reply until the citizen writes again.
Telegram has a built-in sender (Bot API sendMessage) used when the channel adapter registered
none and TELEGRAM_TOKEN is set.
"""
from __future__ import annotations

import asyncio
import inspect
import logging
import threading
from collections.abc import Callable
from typing import Any

from pakn.errors import DeliveryError

log = logging.getLogger(__name__)

Sender = Callable[..., Any]  # (user_id, text) or (user_id, text, *, code)
NO_PUSH_CHANNELS = frozenset({"api", "web", "open311", "cli", "email"})

_senders: dict[str, Sender] = {}
_lock = threading.Lock()


def register_sender(channel: str, fn: Sender) -> None:
    """Register (or replace) the push function of `channel`."""
    with _lock:
        _senders[channel] = fn


def unregister_sender(channel: str) -> None:
    """Remove the push function of `channel` (tests, shutdown)."""
    with _lock:
        _senders.pop(channel, None)


def registered_channels() -> list[str]:
    """Channels that currently have a sender."""
    with _lock:
        return sorted(_senders)


def send(channel: str, user_id: str | None, text: str) -> bool:
    """Deliver `text` to `user_id` on `channel`; False when the channel has no push.

    Raises DeliveryError when a push channel has no sender or the sender fails, so the outbox
    retries and finally dead-letters instead of dropping the reply silently.
    """
    return push(channel, user_id, text) is not None


def push(channel: str, user_id: str | None, text: str, *, code: str | None = None) -> str | None:
    """Like `send`, returning what was sent ("pushed", or the sender's own note such as
    "zalo:transaction") and None when the channel has no push."""
    if channel in NO_PUSH_CHANNELS or not user_id:
        return None
    with _lock:
        fn = _senders.get(channel)
    if fn is None and channel == "telegram":
        fn = _builtin_telegram_sender()
    if fn is None:
        raise DeliveryError(f"no sender registered for channel {channel!r}")
    try:
        result = fn(user_id, text, code=code) if code is not None and _takes_code(fn) else fn(user_id, text)
        if inspect.isawaitable(result):
            result = asyncio.run(_await(result))
    except DeliveryError:
        raise
    except Exception as exc:  # the adapter's error text may quote the user; keep only its type
        raise DeliveryError(f"{channel} sender failed: {type(exc).__name__}") from exc
    note = result if isinstance(result, str) and result else "pushed"
    log.info("citizen notified", extra={"channel": channel, "via": note})
    return note


def _takes_code(fn: Sender) -> bool:
    try:
        params = inspect.signature(fn).parameters
    except (TypeError, ValueError):
        return False
    return "code" in params or any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values())


async def _await(awaitable: Any) -> Any:
    return await awaitable


def _builtin_telegram_sender() -> Sender | None:
    from settings import get_settings

    if not get_settings().telegram_token.get_secret_value():
        return None

    def _send(user_id: str, text: str) -> None:
        from pakn.delivery import telegram_send

        telegram_send(user_id, text)

    return _send


__all__ = ["NO_PUSH_CHANNELS", "Sender", "push", "register_sender", "registered_channels", "send",
           "unregister_sender"]
