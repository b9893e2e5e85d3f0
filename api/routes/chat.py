"""Chat endpoint for the web page, the REST API and the grader."""
from __future__ import annotations

import asyncio
import weakref

import anyio
from fastapi import APIRouter, Request, Response
from pydantic import BaseModel, Field

from api.deps import ServicesDep
from api.identity import chat_caller
from api.limits import enforce_user_limit
from bot.types import InboundMessage, Reply

router = APIRouter(prefix="/api/v1", tags=["chat"])


class ChatRequest(BaseModel):
    """One message. `user_id` is a label inside the calling client's own namespace (see `api.identity`);
    `channel` is `api` (an integration, or the local client in development) or `web` (the web page,
    identified by its session cookie; `user_id` is then ignored)."""

    user_id: str | None = Field(None, max_length=128)
    text: str = Field("", max_length=5000)  # as long as a petition may be (it can start one)
    channel: str = Field("api", max_length=32)


# One limiter per event loop: a limiter belongs to the loop it was first used on, and tests run
# several apps, each on its own loop, in one process.
_LIMITERS: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, anyio.CapacityLimiter] = weakref.WeakKeyDictionary()


def chat_limiter() -> anyio.CapacityLimiter:
    """How many answers one process computes at once (`settings.chat_threads`).

    An answer is CPU-bound Python, so extra threads only pass the GIL around: measured with
    bench/load.py (2 workers, 32 clients), 2 threads gave 207 answers/s, 4 gave 197 and anyio's
    default 40 gave 165, with a worse p95. With an LLM configured, answers wait on the network
    instead, and more of them may run at once.
    """
    loop = asyncio.get_running_loop()
    limiter = _LIMITERS.get(loop)
    if limiter is None:
        from settings import get_settings

        settings = get_settings()
        limiter = _LIMITERS[loop] = anyio.CapacityLimiter(settings.chat_threads or
                                                          (16 if settings.llm_base_url else 2))
    return limiter


def questions_waiting() -> bool:
    """Are questions queueing for an answer thread in this process? (read from any thread: a hint)

    The app's lifespan hands it to the retrieval engine as a pressure signal (retrieval/budget.py):
    retrieval sheds its dense path only under pressure."""
    return any(limiter.statistics().tasks_waiting > 0 for limiter in list(_LIMITERS.values()))


@router.post("/chat", response_model=Reply)
async def chat(body: ChatRequest, request: Request, response: Response,
               services: ServicesDep) -> Reply:
    """Answer one message; the conversation continues per verified identity (`api.identity`)."""
    caller = chat_caller(request, response, body.channel, body.user_id)
    await enforce_user_limit(request, "chat", caller.limit_key)
    msg = InboundMessage(channel=caller.channel, user_id=caller.user_id, text=body.text)
    return await anyio.to_thread.run_sync(services.chat.handle, msg, limiter=chat_limiter())
