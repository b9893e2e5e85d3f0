"""`python -m bot admin …`: manage console accounts and run the daily duty reminder from the shell.

Why a CLI for account creation: the first admin has to come from somewhere that is not the
console itself; passwords are read from stdin (`--password-stdin`, for scripts) or prompted with
confirmation, never taken as an argument that would land in the shell history.
"""
from __future__ import annotations

import sys

import typer

admin_app = typer.Typer(help="Quản trị tài khoản trang cán bộ.", no_args_is_help=True)


@admin_app.command("create-user")
def create_user(
    email: str = typer.Option(..., "--email", help="Email đăng nhập"),
    office: str = typer.Option(None, "--office", help="Mã cơ quan trong danh bạ (vd. tay-ninh.so-noi-vu)"),
    role: str = typer.Option("staff", "--role", help="admin | staff | editor (cán bộ biên tập danh mục TTHC)"),
    name: str = typer.Option(None, "--name", help="Họ tên hiển thị"),
    password_stdin: bool = typer.Option(False, "--password-stdin", help="Đọc mật khẩu từ stdin"),
    database_url: str = typer.Option(None, "--database-url", help="Mặc định: DATABASE_URL"),
) -> None:
    """Create a console account."""
    from console.auth import AuthError
    from console.auth import create_user as _create
    from db import migrate, session_scope
    from settings import get_settings

    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = typer.prompt("Mật khẩu", hide_input=True, confirmation_prompt="Nhập lại mật khẩu")
    url = database_url or get_settings().database_url
    migrate(url)
    try:
        with session_scope(url) as db:
            user = _create(db, email=email, password=password, role=role, office_id=office, display_name=name)
            uid = user.id
    except AuthError as exc:
        typer.echo(f"Lỗi: {exc}", err=True)
        raise typer.Exit(1) from None
    typer.echo(f"Đã tạo tài khoản #{uid} {email.strip().lower()} ({role}{', ' + office if office else ''}).")


@admin_app.command("list-users")
def list_users(database_url: str = typer.Option(None, "--database-url")) -> None:
    """List console accounts."""
    from sqlalchemy import select

    from console.models import ConsoleUser
    from db import session_scope

    with session_scope(database_url) as db:
        for u in db.scalars(select(ConsoleUser).order_by(ConsoleUser.id)):
            state = "hoạt động" if u.is_active else "đã khóa"
            typer.echo(f"#{u.id}\t{u.email}\t{u.role}\t{u.office_id or '—'}\t{state}")


@admin_app.command("disable-user")
def disable_user(email: str = typer.Option(..., "--email"), database_url: str = typer.Option(None, "--database-url")
                 ) -> None:
    """Disable an account and end its sessions."""
    from sqlalchemy import select

    from console.auth import normalise_email, set_active
    from console.models import ConsoleUser
    from db import session_scope

    with session_scope(database_url) as db:
        uid = db.scalar(select(ConsoleUser.id).where(ConsoleUser.email == normalise_email(email)))
        if uid is None:
            typer.echo("Không tìm thấy tài khoản.", err=True)
            raise typer.Exit(1)
        set_active(db, uid, False)
    typer.echo("Đã khóa tài khoản.")


@admin_app.command("send-reminders")
def send_reminders(database_url: str = typer.Option(None, "--database-url")) -> None:
    """Send today's duty reminders (run daily from cron)."""
    from console.reminders import send_due_soon

    report = send_due_soon(database_url=database_url)
    typer.echo(f"Đã gửi: {len(report.sent)}, lỗi: {len(report.failed)}, bỏ qua: {len(report.skipped)}")
    if report.failed:
        raise typer.Exit(1)


__all__ = ["admin_app"]


@admin_app.command("create-api-client")
def create_api_client(
    client_id: str = typer.Option(..., "--id", help="Mã ứng dụng (chữ thường, số, gạch ngang), vd. cong-dvc"),
    name: str = typer.Option(..., "--name", help="Tên ứng dụng hoặc cơ quan"),
    scope: str = typer.Option("chat", "--scope", help="chat (trò chuyện, gửi PAKN) | office (API cán bộ)"),
    office: str = typer.Option(None, "--office", help="Mã cơ quan, bắt buộc với --scope office"),
    database_url: str = typer.Option(None, "--database-url", help="Mặc định: DATABASE_URL"),
) -> None:
    """Create an API key; it is printed once and cannot be shown again."""
    from api.clients import ClientError, create_client
    from console.auth import office_exists
    from db import migrate, session_scope
    from settings import get_settings

    if office and not office_exists(office):
        typer.echo(f"Lỗi: không tìm thấy cơ quan “{office}” trong danh bạ cơ quan.", err=True)
        raise typer.Exit(1)
    url = database_url or get_settings().database_url
    migrate(url)
    try:
        with session_scope(url) as db:
            key = create_client(db, client_id=client_id, name=name, scope=scope, office_id=office)
    except ClientError as exc:
        typer.echo(f"Lỗi: {exc}", err=True)
        raise typer.Exit(1) from None
    typer.echo("Khóa API (chỉ hiển thị một lần, hãy lưu lại an toàn):", err=True)
    typer.echo(key)


@admin_app.command("revoke-api-client")
def revoke_api_client(client_id: str = typer.Option(..., "--id"),
                      database_url: str = typer.Option(None, "--database-url")) -> None:
    """Revoke an API key at once (every process stops accepting it within 30 seconds)."""
    from api.clients import revoke_client
    from db import session_scope

    with session_scope(database_url) as db:
        done = revoke_client(db, client_id)
    typer.echo("Đã thu hồi khóa." if done else "Không có khóa đang hoạt động với mã này.")
    raise typer.Exit(0 if done else 1)
