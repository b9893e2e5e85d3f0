"""The chatbot's commands: ask one question, chat in the terminal, classify a petition.

`python -m bot` runs them through `runtime.cli`, which adds the console's `admin` group.
"""
from __future__ import annotations

import json
import logging
import os
import sys

import typer

app = typer.Typer(help="Trợ lý hành chính công.", no_args_is_help=True)


def _quiet() -> None:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)


def _service():
    """The chat service of the same `Services` the API builds (runtime.services), for one process."""
    from bot.setup import ensure_ready, quick_engine
    from retrieval.readiness import dense_index_ready
    from runtime.services import build_services
    from settings import get_settings

    ensure_ready()
    settings = get_settings()
    # No dense index yet: a one-shot answer ranks lexically instead of embedding every unit first.
    engine = quick_engine() if settings.embedding_backend != "none" and not dense_index_ready() else None
    return build_services(settings, engine=engine).chat


@app.command()
def ask(
    text: str = typer.Argument(..., help="Câu hỏi"),
    as_json: bool = typer.Option(False, "--json", help="In kết quả dạng JSON"),
    user_id: str = typer.Option(None, "--user-id", help="Mã người dùng (giữ ngữ cảnh hội thoại giữa các lần gọi)"),
    channel: str = typer.Option("cli", "--channel"),
) -> None:
    """Answer one question."""
    _quiet()
    import uuid

    from bot.types import InboundMessage

    user_id = user_id or f"cli-{uuid.uuid4().hex[:12]}"  # no id given: a fresh conversation
    reply = _service().handle(InboundMessage(channel=channel, user_id=user_id, text=text))
    if as_json:
        typer.echo(json.dumps(reply.model_dump(), ensure_ascii=False))
        return
    typer.echo(reply.reply)
    for c in reply.citations:
        typer.echo(f"  [Nguồn] {c.title} — {c.locator}")


@app.command()
def chat(user_id: str = typer.Option("terminal", "--user-id")) -> None:
    """Interactive session in the terminal (Ctrl+D to quit)."""
    _quiet()
    from bot.types import InboundMessage

    service = _service()
    typer.echo("Trợ lý hành chính công — gõ câu hỏi, Ctrl+D để thoát.")
    while True:
        try:
            text = input("> ")
        except (EOFError, KeyboardInterrupt):
            typer.echo("")
            return
        if not text.strip():
            continue
        reply = service.handle(InboundMessage(channel="cli", user_id=user_id, text=text))
        typer.echo(reply.reply)
        for c in reply.citations[:5]:
            typer.echo(f"  [Nguồn] {c.title} — {c.locator}")
        if reply.suggestions:
            typer.echo("  Gợi ý: " + " | ".join(reply.suggestions))


@app.command("pakn-classify")
def pakn_classify(
    content: str = typer.Argument(..., help="Nội dung phản ánh"),
    location: str = typer.Option(None, "--location"),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """Classify a petition and show the office it would go to (nothing is stored)."""
    _quiet()
    from pakn.triage import triage

    t = triage(content, location)
    out = {"category": t.category, "office": {"id": t.office_id, "name": t.office_name},
           "confidence": t.confidence, "explanation": t.explanation}
    if as_json:
        typer.echo(json.dumps(out, ensure_ascii=False))
    else:
        typer.echo(f"{t.category_name} → {t.office_name} (độ tin cậy {t.confidence:.2f})\n{t.explanation}")

