"""Channel-agnostic message types: what every channel hands to the bot and gets back."""
from __future__ import annotations

from pydantic import BaseModel, Field


class Attachment(BaseModel):
    """A photo, file or shared location sent with a message."""

    kind: str  # image | file | location
    url: str | None = None
    name: str | None = None
    latitude: float | None = None
    longitude: float | None = None


class InboundMessage(BaseModel):
    """One message from a person on some channel."""

    channel: str = "api"  # api | web | zalo | telegram | cli
    user_id: str
    text: str = ""
    attachments: list[Attachment] = Field(default_factory=list)
    message_id: str | None = None


class Citation(BaseModel):
    """Where a fact in a reply comes from: the document, its title and the section or field."""

    source: str
    title: str
    locator: str
    url: str | None = None


class Reply(BaseModel):
    """The bot's answer: text plus what a channel needs to render it."""

    reply: str
    intent: str
    answered: bool
    citations: list[Citation] = Field(default_factory=list)
    suggestions: list[str] = Field(default_factory=list)
