"""`python -m knowledge tthc …`: browse the procedure catalogue (show, search) and import portal exports."""
from __future__ import annotations

import json
from pathlib import Path

import typer
from rich.console import Console
from rich.panel import Panel
from rich.table import Table

from knowledge.procedures import FIELD_LABELS, FIELDS, Catalogue, Procedure, load_catalogue

app = typer.Typer(help="Thủ tục hành chính: xem, tìm kiếm, nhập dữ liệu.", no_args_is_help=True)
console = Console()


def _resolve(cat: Catalogue, code_or_name: str) -> Procedure | None:
    return cat.get(code_or_name) or next(iter(cat.find_by_name(code_or_name, limit=1)), None)


@app.command()
def show(code_or_name: str = typer.Argument(..., help='Mã thủ tục, mã định danh hoặc tên, ví dụ "1.001193"'),
         today: str | None = typer.Option(None, "--today", help="Ngày hỏi YYYY-MM-DD (mặc định hôm nay)"),
         as_json: bool = typer.Option(False, "--json")) -> None:
    """Print every field of one procedure as the bot answers it on a day, with sources and caveats."""
    from datetime import date

    from settings import get_settings

    day = date.fromisoformat(today) if today else date.today()
    cat = load_catalogue()
    p = _resolve(cat, code_or_name)
    if p is None:
        console.print(f"[red]Không tìm thấy thủ tục[/red] “{code_or_name}”.")
        raise typer.Exit(1)
    if as_json:
        typer.echo(json.dumps(p.model_dump(mode="json"), ensure_ascii=False, indent=2))
        return
    console.print(Panel(f"[bold]{p.name}[/bold]\nMã: {p.code or '(chưa có mã)'} · {p.id} · Lĩnh vực: {p.field}"
                        f"\nTên thường gọi: {', '.join(p.aliases) or '—'}\nRà soát: {p.last_reviewed:%d/%m/%Y}"
                        f" · Nguồn: {p.source}", expand=False))
    for f in FIELDS:
        if f == "overview":
            continue
        console.print(f"[bold cyan]{FIELD_LABELS[f]}[/bold cyan] [dim]({p.citation(f)['locator']})[/dim]")
        console.print(p.answer_text(f, day, get_settings().tthc_max_fact_age_days), highlight=False)
        console.print()


def rank_procedures(query: str, limit: int = 5) -> list[tuple[Procedure, float]]:
    """Procedures for a free-text query, best first: a full name/alias match ("lam so do") wins,
    then BM25 over the procedure units when retrieval is available, else partial name matches."""
    cat = load_catalogue()
    ranked: dict[str, float] = {p.key: 100.0 for p in cat.find_by_name(query, limit=limit, min_score=1.0)}
    try:
        from knowledge.procedures import procedure_units
        from retrieval.engine import RetrievalEngine

        engine = RetrievalEngine(procedure_units(cat), embedder=None)
        for hit in engine.search(query, k=limit * len(FIELDS)):
            ranked.setdefault(hit.unit.source, hit.score)
    except ImportError:  # retrieval not available: names and aliases only
        for p in cat.find_by_name(query, limit=limit):
            ranked.setdefault(p.key, 1.0)
    return [(proc, s) for k, s in list(ranked.items())[:limit] if (proc := cat.get(k)) is not None]


@app.command()
def search(query: str = typer.Argument(..., help='Câu hỏi hoặc tên thủ tục, ví dụ "lam so do o dau"'),
           limit: int = typer.Option(5, "--limit", "-n"), as_json: bool = typer.Option(False, "--json")) -> None:
    """Rank procedures for a query (accent-insensitive)."""
    results = rank_procedures(query, limit)
    if as_json:
        typer.echo(json.dumps([{"key": p.key, "name": p.name, "score": round(s, 4)} for p, s in results],
                              ensure_ascii=False, indent=2))
        return
    if not results:
        console.print("[yellow]Không tìm thấy thủ tục phù hợp.[/yellow]")
        raise typer.Exit(1)
    table = Table("#", "Mã", "Tên thủ tục", "Cơ quan thực hiện")
    for i, (p, _) in enumerate(results, 1):
        table.add_row(str(i), p.key, p.name, p.body)
    console.print(table)


STATE_LABELS = {"unsourced": "chưa có nguồn", "unverified": "chưa xác minh", "stale": "xác minh đã lâu",
                "verified": "đã xác minh"}


@app.command()
def audit(strict: bool = typer.Option(False, "--strict", help="Mã thoát khác 0 khi có thông tin chưa có nguồn"),
          today: str | None = typer.Option(None, "--today", help="Ngày kiểm tra YYYY-MM-DD (mặc định hôm nay)"),
          max_age: int | None = typer.Option(None, "--max-age", help="Số ngày tối đa kể từ lần xác minh"),
          directory: Path | None = typer.Option(None, "--dir", help="Thư mục YAML (mặc định knowledge/tthc)"),
          as_json: bool = typer.Option(False, "--json")) -> None:
    """List facts without a source or check date, stale facts and expired validity periods."""
    from datetime import date

    from knowledge.procedures import audit_catalogue
    from settings import get_settings

    day = date.fromisoformat(today) if today else date.today()
    report = audit_catalogue(load_catalogue(directory), day, max_age or get_settings().tthc_max_fact_age_days)
    counts = report.counts
    if as_json:
        typer.echo(json.dumps({"today": day.isoformat(), "max_age_days": report.max_age_days, "counts": counts,
                               "problems": [{"procedure": r.procedure, "field": r.field, "what": r.what,
                                             "state": r.state, "expired": r.expired,
                                             "verified": r.verified.isoformat() if r.verified else None}
                                            for r in report.problems]}, ensure_ascii=False, indent=2))
    else:
        for r in report.problems:
            flags = [STATE_LABELS[r.state]] if r.state != "verified" else []
            if r.state == "stale" and r.verified:
                flags[-1] += f" ({r.verified:%d/%m/%Y})"
            if r.expired:
                flags.append("hết hiệu lực")
            typer.echo(f"{r.procedure}\t{r.field}\t{r.what}\t{', '.join(flags)}")
        typer.echo(f"Ngày {day:%d/%m/%Y}, hạn xác minh {report.max_age_days} ngày: {counts['facts']} thông tin — "
                   f"{counts['verified']} đã xác minh, {counts['unverified']} chưa xác minh, {counts['stale']} xác "
                   f"minh đã lâu, {counts['unsourced']} chưa có nguồn, {counts['expired']} hết hiệu lực.")
    if strict and counts["unsourced"]:
        raise typer.Exit(1)


@app.command("import")
def import_cmd(export: Path = typer.Argument(..., exists=True, help="Tệp xuất từ Cổng DVC: .csv, .xlsx, .json"),
               out: Path | None = typer.Option(None, "--out", "--dir",
                                               help="Thư mục danh mục YAML (mặc định TTHC_DIR hoặc knowledge/tthc)"),
               dry_run: bool = typer.Option(False, "--dry-run", help="Chỉ in các thay đổi, không ghi gì"),
               yes: bool = typer.Option(False, "--yes", "-y", help="Ghi mà không hỏi lại (đã xem --dry-run)"),
               full: bool = typer.Option(False, "--full", help="Tệp là toàn bộ danh mục: đề xuất bãi bỏ mọi thủ tục "
                                                               "không có trong tệp (mặc định: chỉ các nhóm có trong tệp)"),
               remove_missing: bool = typer.Option(False, "--remove-missing",
                                                   help="Xóa các thủ tục đề xuất bãi bỏ (mặc định giữ lại)"),
               today: str | None = typer.Option(None, "--today", help="Ngày nhập YYYY-MM-DD (mặc định hôm nay)"),
               history: bool = typer.Option(True, "--history/--no-history",
                                            help="Ghi lần nhập vào lịch sử thay đổi (cơ sở dữ liệu)")) -> None:
    """Compare a portal export with the catalogue, print the diff in Vietnamese, and write it only after
    confirmation (`--yes`); procedures missing from the export are removed only with `--remove-missing`."""
    import getpass
    from datetime import date

    from knowledge.procedures import catalogue_dir
    from knowledge.tthc_diff import format_diff
    from knowledge.tthc_import import plan_import, write_changes

    target = out or catalogue_dir()
    plan = plan_import(export, target, day=date.fromisoformat(today) if today else None, full=full)
    typer.echo(format_diff(plan.diff, plan.skipped))
    if dry_run:
        typer.echo("\n(Chạy thử: chưa ghi gì. Bỏ --dry-run để ghi.)")
        return
    removals = [c.id for c in plan.diff.removed] if remove_missing else []
    if plan.diff.removed and not remove_missing:
        typer.echo(f"\n{len(plan.diff.removed)} thủ tục đề xuất bãi bỏ sẽ được giữ lại (thêm --remove-missing để xóa).")
    if not plan.texts and not removals:
        typer.echo("Không có thay đổi nào để ghi.")
        return
    if not yes and not typer.confirm(f"Ghi {len(plan.texts)} tệp và xóa {len(removals)} tệp trong {target}?"):
        typer.echo("Đã hủy, danh mục không thay đổi.")
        raise typer.Exit(1)
    write_changes(target, plan.texts, removals)
    console.print(f"[green]Đã ghi[/green] {len(plan.texts)} thủ tục, xóa {len(removals)} thủ tục.")
    if history:
        try:
            from console.catalogue import record_applied

            batch_id = record_applied(plan, f"cli:{getpass.getuser()}", removals)
            typer.echo(f"Đã lưu vào lịch sử thay đổi (lần nhập #{batch_id}).")
        except Exception as exc:  # noqa: BLE001 - the files are written; say the history is missing, do not fail
            console.print(f"[yellow]Không lưu được lịch sử thay đổi[/yellow]: {exc}")
    typer.echo("Chạy `python -m knowledge build` để tìm kiếm theo nội dung mới (xem README).")


@app.command()
def variants(path: Path | None = typer.Option(None, "--file", help="Tệp họ thủ tục (mặc định knowledge/lexicon/procedure_variants.yaml)")) -> None:
    """Check the procedure variant families against the catalogue and list them: the question, the default,
    each option's button and the words that choose it."""
    from knowledge.errors import KnowledgeError
    from knowledge.procedure_variants import load_variants

    try:
        families = load_variants(path).families
    except KnowledgeError as e:
        typer.echo(str(e), err=True)
        raise typer.Exit(1) from e
    for family in families:
        typer.echo(f"{family.id}: {family.question}  (nhận ra qua: {', '.join(family.triggers)})")
        for option in family.options:
            mark = "*" if option.procedure == family.default else " "
            typer.echo(f"  {mark} {option.label} → {option.procedure}  [{', '.join(option.words)}]")
    typer.echo(f"{len(families)} họ thủ tục hợp lệ; * là phương án trả lời mặc định khi câu hỏi chưa rõ.")
