"""`python -m bot` and `python -m retrieval`: the command lines, composed from each package's Typer app.

Why here: `bot/` answers citizens and must not import the staff console, yet `python -m bot
admin …` has always been the way to create the first console account; `retrieval/` imports
nothing of `pakn`, yet `python -m retrieval seed` writes the petition classifier's vectors next
to the passage vectors. The composition root may import all of them, so the commands meet here.
"""
from __future__ import annotations

import logging

import typer

from bot.cli import app as bot_app
from console.cli import admin_app
from retrieval.cli import _engine, console
from retrieval.cli import app as retrieval_app


def build_app() -> typer.Typer:
    """The chatbot's commands plus the console's `admin` group."""
    bot_app.add_typer(admin_app, name="admin")
    return bot_app


def main() -> None:
    build_app()()


def seed(
    pakn_only: bool = typer.Option(False, "--pakn-only", help="Chỉ ghi vector các phản ánh mẫu (bộ phân loại PAKN)"),
) -> None:
    """Ghi bộ vector có sẵn (knowledge/index): đơn vị chỉ mục và phản ánh mẫu của bộ phân loại PAKN.

    Chạy lại sau khi kế hoạch, thủ tục hoặc knowledge/pakn/examples.yaml thay đổi.
    """
    from pakn.classifier import default_embedder, write_example_seed
    from retrieval.seed import write_seed

    logging.basicConfig(level=logging.WARNING)
    if not pakn_only:
        engine, _ = _engine(progress=True)
        if engine.store is None:
            console.print("[red]Chưa có mô hình nhúng (EMBEDDING_BACKEND=none): không có vector để ghi.[/red]")
            raise typer.Exit(1)
        vectors = engine.store.hashed_vectors(engine.units)
        path = write_seed(engine.store.embedder.name, vectors)
        console.print(f"Đã ghi {len(vectors)} vector vào {path}")

    embedder = default_embedder()
    if embedder is None:
        console.print("[red]Chưa có mô hình nhúng (EMBEDDING_BACKEND=none): không có vector để ghi.[/red]")
        raise typer.Exit(1)
    path = write_example_seed(embedder)
    console.print(f"Đã ghi vector các phản ánh mẫu vào {path}")


def build_retrieval_app() -> typer.Typer:
    """Retrieval's commands plus `seed` (passage vectors and the petition classifier's vectors)."""
    retrieval_app.command()(seed)
    return retrieval_app


def retrieval_main() -> None:
    build_retrieval_app()()
