"""`python -m retrieval search "…"` and `python -m retrieval build`: look at what retrieval finds.

`python -m retrieval seed` also writes the petition classifier's vectors, so it is added by
`runtime.cli` (retrieval imports nothing of `pakn` or `knowledge`).
"""
from __future__ import annotations

import json
import logging

import typer
from rich.console import Console
from rich.table import Table

app = typer.Typer(help="Tìm kiếm bằng chứng trong kế hoạch CCHC và thủ tục hành chính.", no_args_is_help=True)
console = Console()


def _engine(progress: bool = False):
    from retrieval.engine import RetrievalEngine
    from retrieval.sources import all_units

    units = all_units()
    if not units:
        console.print("[red]Không có đơn vị dữ liệu nào để lập chỉ mục.[/red]")
        raise typer.Exit(1)
    engine = RetrievalEngine(units)
    return engine, engine.warm_up(progress=progress)


@app.command()
def build() -> None:
    """Lập chỉ mục BM25 và vector (chỉ nhúng lại các đơn vị đã thay đổi)."""
    logging.basicConfig(level=logging.WARNING)
    _, report = _engine(progress=True)
    dense = report.dense
    console.print(f"Đơn vị: {report.units}")
    console.print(f"BM25: {'dùng bộ nhớ đệm' if report.sparse_cached else 'lập mới'} ({report.sparse_s:.2f} s)")
    if dense is not None:
        console.print(f"Vector: nhúng {dense.embedded}, lấy từ bộ vector có sẵn {dense.seeded}, "
                      f"giữ nguyên {dense.unchanged}, xóa {dense.deleted} ({report.dense_s:.2f} s)")
    for note in report.notes:
        console.print(f"[yellow]{note}[/yellow]")
    console.print(f"Tổng thời gian: {report.total_s:.2f} s")


@app.command()
def search(
    query: str = typer.Argument(..., help="Câu hỏi hoặc từ khóa"),
    k: int = typer.Option(5, "--k", "-k", help="Số kết quả"),
    mode: str = typer.Option("hybrid", "--mode", help="hybrid | bm25 | dense"),
    plan: str | None = typer.Option(None, "--plan", help="Lọc theo mã kế hoạch (plan_id)"),
    locality: str | None = typer.Option(None, "--locality", help="Lọc theo địa phương"),
    kind: str | None = typer.Option(None, "--kind", help="plan_section | plan_task | tthc_field"),
    year: int | None = typer.Option(None, "--year", help="Lọc theo năm"),
    as_json: bool = typer.Option(False, "--json", help="In kết quả dạng JSON"),
) -> None:
    """Tìm các đoạn bằng chứng phù hợp nhất với câu hỏi."""
    logging.basicConfig(level=logging.WARNING)
    if mode not in ("hybrid", "bm25", "dense"):
        raise typer.BadParameter("mode phải là hybrid, bm25 hoặc dense", param_hint="--mode")
    filters = {key: v for key, v in {"plan_id": plan, "locality": locality, "kind": kind, "year": year}.items()
               if v is not None}
    engine, _ = _engine()
    hits = engine.search(query, k=k, filters=filters or None, mode=mode)
    if as_json:
        typer.echo(json.dumps([{"rank": h.rank, "score": round(h.score, 6), "id": h.unit.id,
                                "kind": h.unit.kind, "source": h.unit.source, "title": h.unit.title,
                                "locator": h.unit.locator, "text": h.unit.text} for h in hits],
                              ensure_ascii=False, indent=2))
        return
    if not hits:
        console.print("Không tìm thấy kết quả phù hợp.")
        return
    table = Table(title=f"Kết quả cho: {query}", show_lines=True)
    table.add_column("#", justify="right")
    table.add_column("Điểm", justify="right")
    table.add_column("Nguồn / vị trí")
    table.add_column("Nội dung")
    for h in hits:
        text = " ".join(h.unit.text.split())
        table.add_row(str(h.rank), f"{h.score:.4f}", f"{h.unit.source}\n{h.unit.locator}",
                      text[:300] + ("…" if len(text) > 300 else ""))
    console.print(table)
