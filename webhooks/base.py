"""What every channel adapter does, and the rendering helpers they share.

An adapter is thin on purpose: it turns a channel's payload into `InboundMessage`, asks the
`ChatService`, and renders the `Reply` the way that channel can show it. It never looks at the
meaning of the text; ranking, intents and Vietnamese text handling live in `bot/`.

### Usage example
    class MyChannel(ChannelAdapter):
        channel = "my"
        def event_key(self, payload): return payload["id"], payload["user"]
        def parse(self, payload): return ChannelEvent("message", payload["user"],
                                                      InboundMessage(channel="my", user_id=..., text=...))
        async def send(self, user_id, reply): ...
        def send_text(self, user_id, text): ...
"""
from __future__ import annotations

import asyncio
import logging
import re
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, ClassVar, Literal, Protocol

from bot.types import InboundMessage, Reply
from webhooks.inbox import Inbox, InboxEvent

log = logging.getLogger(__name__)

MAX_CITATIONS = 3


class ChatServiceLike(Protocol):
    """The part of `bot.service.ChatService` a channel uses."""

    def handle(self, msg: InboundMessage) -> Reply: ...

    def forget(self, channel: str, user_id: str) -> None: ...


ServiceProvider = Callable[[], ChatServiceLike]


class InteractionRecorder(Protocol):
    """Where a person's last verified message is kept (`webhooks.zalo_window.InteractionStore`)."""

    def touch(self, channel: str, user_id: str, at: datetime | None = None) -> None: ...


# Called after a person's message was recorded: (channel, user_id). The channel layer uses it to
# release PAKN replies that waited for this person to write again.
InteractionHook = Callable[[str, str], None]


def greeting_reply() -> Reply:
    """What a new follower or `/start` gets: the bot's own help text and suggestions."""
    from bot.answers.refusal import help_reply

    return help_reply("greeting")


@dataclass(frozen=True)
class ChannelEvent:
    """What an inbound event asks of the bot: answer a message, greet, or forget a person."""

    kind: Literal["message", "follow", "unfollow"]
    user_id: str
    message: InboundMessage | None = None


class ChannelAdapter(ABC):
    """One messaging channel: parse inbound events, send replies, deliver notifications."""

    channel: ClassVar[str]

    def __init__(self, inbox: Inbox, service: ServiceProvider, *,
                 interactions: InteractionRecorder | None = None, on_interaction: InteractionHook | None = None) -> None:
        self.inbox = inbox
        self._service = service
        self.interactions = interactions
        self.on_interaction = on_interaction

    @property
    def service(self) -> ChatServiceLike:
        return self._service()

    # ------------------------------------------------------------------ per channel
    def accepts(self, payload: dict[str, Any]) -> bool:
        """Whether the event is worth storing at all; others are acknowledged and dropped."""
        return True

    def interaction_at(self, payload: dict[str, Any]) -> datetime | None:
        """When the person acted, for events the platform counts as an interaction (opening a
        messaging window); None for the others. Channels without a window keep the default."""
        return None

    @abstractmethod
    def event_key(self, payload: dict[str, Any]) -> tuple[str, str]:
        """`(event_id, user_key)`: the dedupe key of the event and the person it comes from."""

    @abstractmethod
    def parse(self, payload: dict[str, Any]) -> ChannelEvent | None:
        """The bot action an event asks for; None for events the bot does not act on."""

    @abstractmethod
    async def send(self, user_id: str, reply: Reply) -> None:
        """Render and deliver a reply; raise `ChannelSendError` so the worker retries."""

    @abstractmethod
    def send_text(self, user_id: str, text: str) -> None:
        """Deliver plain text from any thread (PAKN notifications); blocking."""

    # ------------------------------------------------------------------ shared flow
    async def process(self, event: InboxEvent) -> None:
        """Run one stored event: note the interaction, act on it and deliver the answer."""
        at = self.interaction_at(event.payload)
        if at is not None:
            await asyncio.to_thread(self.interacted, event.user_key, at)
        action = self.parse(event.payload)
        if action is None:
            return
        if action.kind == "unfollow":
            await asyncio.to_thread(self.service.forget, self.channel, action.user_id)
            return
        if action.kind == "follow":
            reply = greeting_reply()
        else:
            assert action.message is not None
            reply = await self.answer(event.id, action.message)
        await self.send(action.user_id, reply)

    def interacted(self, user_id: str, at: datetime) -> None:
        """Record the person's message, then let waiting replies go (both idempotent, so a retried
        event repeats them harmlessly). Stored events are verified: the webhook checked them."""
        if self.interactions is not None:
            self.interactions.touch(self.channel, user_id, at)
        if self.on_interaction is not None:
            self.on_interaction(self.channel, user_id)

    async def answer(self, row_id: int | None, msg: InboundMessage) -> Reply:
        """Ask the bot once per event: a retry after a failed send reuses the stored answer."""
        if row_id is not None:
            cached = await asyncio.to_thread(self.inbox.cached_reply, row_id)
            if cached:
                return Reply.model_validate(cached)
        reply = await asyncio.to_thread(self.service.handle, msg)
        if row_id is not None:
            await asyncio.to_thread(self.inbox.save_reply, row_id, reply.model_dump(mode="json"))
        return reply


# ---------------------------------------------------------------------- rendering helpers
def citation_line(reply: Reply) -> str | None:
    """A short "Nguồn: …" line naming each distinct source once (at most three)."""
    seen: list[str] = []
    for c in reply.citations:
        label = f"{c.title} ({c.locator})" if c.locator else c.title
        if label not in seen:
            seen.append(label)
    if not seen:
        return None
    more = f" và {len(seen) - MAX_CITATIONS} nguồn khác" if len(seen) > MAX_CITATIONS else ""
    return "Nguồn: " + "; ".join(seen[:MAX_CITATIONS]) + more


def render_text(reply: Reply, *, numbered_suggestions: bool = False) -> str:
    """The reply as plain text: answer, sources, and (for channels without buttons) suggestions."""
    parts = [reply.reply.strip()]
    line = citation_line(reply)
    if line:
        parts.append(line)
    if numbered_suggestions and reply.suggestions:
        parts.append("Bạn có thể hỏi tiếp:\n" + "\n".join(f"{i}. {s}" for i, s in
                                                          enumerate(reply.suggestions, 1)))
    return "\n\n".join(p for p in parts if p)


# A sentence ends at a line break, or at . ! ? … (plus closing quotes) followed by a space or the end;
# "2.000 đồng" and a list number "1. " at the start of a line are not ends.
_BOUNDARY = re.compile(r"\n|[.!?…]+[\"”)\]]*(?:\s+|$)")
_LIST_NUMBER = re.compile(r"^\s*\d{1,3}$")


def _sentences(text: str) -> list[str]:
    out: list[str] = []
    start = 0
    for m in _BOUNDARY.finditer(text):
        if m.group().startswith(".") and _LIST_NUMBER.match(text[start:m.start()]):
            continue
        out.append(text[start:m.end()])
        start = m.end()
    if start < len(text):
        out.append(text[start:])
    return out


def split_text(text: str, limit: int) -> list[str]:
    """Split `text` into pieces of at most `limit` characters, at sentence ends where possible.

    Lines and sentences are packed greedily; a sentence longer than `limit` is cut at spaces,
    and a single word longer than `limit` is cut hard (the API would refuse it otherwise).
    """
    text = text.strip()
    if len(text) <= limit:
        return [text] if text else []
    units: list[str] = []
    for piece in _sentences(text):
        if len(piece) <= limit:
            units.append(piece)
            continue
        for word in re.findall(r"\S+\s*", piece):
            while len(word) > limit:
                units.append(word[:limit])
                word = word[limit:]
            units.append(word)
    chunks: list[str] = []
    current = ""
    for unit in units:
        if len(current) + len(unit) > limit and current.strip():
            chunks.append(current.strip())
            current = ""
        current += unit
    if current.strip():
        chunks.append(current.strip())
    return chunks
