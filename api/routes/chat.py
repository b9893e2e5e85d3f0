"""Chat endpoint for the web page, the REST API and the grader."""
from __future__ import annotations

from fastapi import APIRouter
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, Field

from bot.types import InboundMessage, Reply

router = APIRouter(prefix="/api/v1", tags=["chat"])


class ChatRequest(BaseModel):
    user_id: str = Field(..., min_length=1, max_length=128)
    text: str = Field("", max_length=4000)
    channel: str = Field("api", max_length=32, pattern=r"^[a-z0-9_-]+$")


@router.post("/chat", response_model=Reply)
async def chat(body: ChatRequest) -> Reply:
    """Answer one message; the conversation continues per (channel, user_id)."""
    from bot.service import get_chat_service

    msg = InboundMessage(channel=body.channel, user_id=body.user_id, text=body.text)
    return await run_in_threadpool(get_chat_service().handle, msg)
