"""`python -m knowledge`: build the store, list plans, look up tasks, browse procedures."""
from __future__ import annotations

import json

import typer
from rich.console import Console
from rich.table import Table

app = typer.Typer(help="Kho tri thức: kế hoạch CCHC, nhiệm vụ, thủ tục hành chính.", no_args_is_help=True)
console = Console()

try:  # the procedure catalogue ships its own sub-commands
    from knowledge.tthc_cli import app as tthc_app

    app.add_typer(tthc_app, name="tthc", help="Thủ tục hành chính: show, search, audit, import.")
except ImportError:  # pragma: no cover - only while the catalogue module is absent
    pass


@app.command()
def build(no_index: bool = typer.Option(False, "--no-index", help="Chỉ dựng kho dữ liệu, không dựng chỉ mục.")) -> None:
    """Parse every source into the store and build the retrieval index."""
    from knowledge.build import build_store

    report = build_store(with_index=not no_index)
    console.print(f"[green]Xong[/green]: {report.plans} kế hoạch, {report.sections} mục, {report.tasks} nhiệm vụ, "
                  f"{report.offices} cơ quan, {report.units} đơn vị chỉ mục trong {report.seconds:.1f} giây.")


@app.command()
def plans(as_json: bool = typer.Option(False, "--json")) -> None:
    """List the plans with their metadata."""
    from knowledge.plans import load_plans

    metas = [p.meta for p in load_plans()]
    if as_json:
        typer.echo(json.dumps([m.model_dump(mode="json") for m in metas], ensure_ascii=False, indent=2))
        return
    table = Table("Mã", "Tên kế hoạch", "Địa phương", "Số, ngày", "Người ký", "Thời kỳ")
    for m in metas:
        date_text = m.decision_date.strftime("%d/%m/%Y") if m.decision_date else (m.decision_date_text or "")
        period = str(m.period_start) if m.period_start == m.period_end else f"{m.period_start}–{m.period_end}"
        table.add_row(m.id, m.title, f"{m.locality} ({m.province})", f"{m.decision_number or ''} {date_text}",
                      m.signer or "", period)
    console.print(table)


@app.command()
def tasks(
    office: str | None = typer.Option(None, help='Tên cơ quan, ví dụ "Sở Tư pháp"'),
    locality: str | None = typer.Option(None, help='Địa phương, ví dụ "Tây Ninh"'),
    due: str | None = typer.Option(None, help='Thời hạn: 2024-Q1, "quý I/2024", "tháng 3/2024", 2024'),
    plan: str | None = typer.Option(None, help="Mã kế hoạch (xem `plans`)"),
    section: str | None = typer.Option(None, help="Lọc theo tên phần, ví dụ 'CẢI CÁCH THỂ CHẾ'"),
    role: str | None = typer.Option(None, help="lead (chủ trì) | support (phối hợp)"),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """List tasks matching the filters: number, text, offices, deadline."""
    from db import session_scope
    from knowledge.deadlines import parse_period
    from knowledge.duties import find_tasks
    from knowledge.offices import load_offices

    office_ids = None
    if office:
        matches = load_offices().find_offices_in_text(office, province=None, locality=locality)
        office_ids = [getattr(m, "office_id", None) or m.id for m in matches]
        if not office_ids:
            console.print(f"[red]Không tìm thấy cơ quan “{office}”.[/red]")
            raise typer.Exit(1)
    period = parse_period(due, None) if due else None
    if due and not period:
        console.print(f"[red]Không hiểu thời hạn “{due}”. Ví dụ: 2024-Q1, quý I/2024, tháng 3/2024.[/red]")
        raise typer.Exit(2)
    with session_scope() as session:
        found = find_tasks(session, office_ids=office_ids, role=role, plan_ids=[plan] if plan else None,
                           locality=locality, period=period, section=section)
    if as_json:
        typer.echo(json.dumps([t.model_dump(mode="json") for t in found], ensure_ascii=False, indent=2))
        return
    table = Table("Kế hoạch", "Số", "Nhiệm vụ", "Chủ trì", "Phối hợp", "Thời hạn")
    for t in found:
        table.add_row(t.locality, t.number or "", t.text[:160], "; ".join(t.lead), "; ".join(t.support),
                      t.deadline_raw or "")
    console.print(table)
    console.print(f"{len(found)} nhiệm vụ.")
