"""HTTP routes of the staff console (server-rendered Jinja2 pages under /console).

Every route sits behind `console.csrf.guard` (router dependency): logged-in users only, except the
login page, and a valid CSRF token on every POST. Handlers are plain `def` so FastAPI runs their
database work in its thread pool. Successful POSTs redirect (303, POST-redirect-GET) with a
message key; failed ones re-render the page with the Vietnamese error and a 4xx status, so a
test or a screen reader gets the outcome from the status as well as from the text.
"""
from __future__ import annotations

import re
import secrets
from collections.abc import Iterator
from datetime import date, datetime
from pathlib import Path
from typing import Annotated
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, File, Form, HTTPException, Request, UploadFile
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from jinja2 import Environment, FileSystemLoader, select_autoescape
from sqlalchemy import select
from sqlalchemy.orm import Session

from api.headers import CSP
from console import auth, dashboard, duties, inbox
from console import catalogue as cat_service
from console.auth import PRELOGIN_COOKIE, SESSION_COOKIE, AuthError, Principal
from console.csrf import CSRF_FIELD, current, guard
from console.models import DUTY_STATUS_VI, ROLE_VI, ROLES, ConsoleUser
from pakn.errors import (
    PaknError,
    PaknNotFoundError,
    PaknPermissionError,
    PaknTransitionError,
    PaknValidationError,
)
from pakn.models import utcnow
from settings import get_settings

HERE = Path(__file__).resolve().parent
VN_TZ = ZoneInfo("Asia/Ho_Chi_Minh")
STATIC_DIR = HERE / "static"

router = APIRouter(prefix="/console", dependencies=[Depends(guard)], include_in_schema=False)

_env = Environment(loader=FileSystemLoader(HERE / "templates"), autoescape=select_autoescape(default=True),
                   trim_blocks=True, lstrip_blocks=True)
templates = Jinja2Templates(env=_env)

SECURITY_HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}

DONE_VI = {
    "accept": "Đã tiếp nhận xử lý phản ánh.",
    "transfer": "Đã chuyển phản ánh sang cơ quan khác.",
    "reply": "Đã ghi nhận trả lời; hệ thống sẽ gửi đến người dân qua kênh họ đã dùng.",
    "close": "Đã đóng phản ánh.",
    "reject": "Đã ghi nhận không thụ lý phản ánh.",
    "unlink": "Đã tách phản ánh khỏi nhóm: phản ánh được xử lý riêng và chuyển đến cơ quan của nó.",
    "progress": "Đã cập nhật tiến độ nhiệm vụ.",
    "user_created": "Đã tạo tài khoản.",
    "user_disabled": "Đã khóa tài khoản.",
    "user_enabled": "Đã mở khóa tài khoản.",
    "password": "Đã đổi mật khẩu. Vui lòng đăng nhập lại.",
    "catalogue_uploaded": "Đã tải tệp lên và so sánh với danh mục. Thay đổi chờ một người khác duyệt.",
    "catalogue_published": "Đã công bố các thay đổi được chọn vào danh mục thủ tục.",
    "catalogue_rejected": "Đã từ chối lần nhập dữ liệu; danh mục không thay đổi.",
}
EVENT_VI = {"received": "Tiếp nhận", "transition": "Chuyển trạng thái", "reply": "Trả lời",
            "delivered": "Đã chuyển đến cơ quan", "delivery_failed": "Gửi không thành công",
            "delivery_waiting": "Chờ người dân nhắn lại", "linked": "Gộp vào nhóm cùng sự việc",
            "duplicate": "Thêm người phản ánh cùng sự việc", "unlinked": "Tách khỏi nhóm"}
ERROR_STATUS = {PaknValidationError: 422, PaknNotFoundError: 404, PaknTransitionError: 409,
                PaknPermissionError: 403}


def mount_static(app) -> None:
    """Serve console/static at /console/static (CSS, JS, the vendored Chart.js)."""
    app.mount("/console/static", StaticFiles(directory=STATIC_DIR), name="console-static")


# ---------------------------------------------------------------- template helpers


def _vn_dt(value: datetime | None) -> str:
    return value.astimezone(VN_TZ).strftime("%H:%M %d/%m/%Y") if value else "—"


def _vn_date(value: date | None) -> str:
    return value.strftime("%d/%m/%Y") if value else "—"


def _safe_url(value: object) -> str | None:
    """Only http(s) links are rendered as links (autoescape does not stop `javascript:` URLs)."""
    url = value.get("url") if isinstance(value, dict) else value
    if isinstance(url, str) and url.lower().startswith(("https://", "http://")):
        return url
    return None


def _status_vi(status: str | None) -> str:
    from pakn.service import STATUS_VI

    return STATUS_VI.get(status or "", status or "—")


def _diff_value(value: object, field: str) -> str:
    from knowledge.tthc_diff import show_value

    return show_value(field, value)


def _field_vi(field: str) -> str:
    from knowledge.tthc_diff import FIELD_LABELS_VI

    return FIELD_LABELS_VI.get(field, field)


_env.filters.update(vn_dt=_vn_dt, vn_date=_vn_date, safe_url=_safe_url, status_vi=_status_vi,
                    diff_value=_diff_value, field_vi=_field_vi)
_env.globals.update(EVENT_VI=EVENT_VI, DUTY_STATUS_VI=DUTY_STATUS_VI, CSRF_FIELD=CSRF_FIELD, ROLE_VI=ROLE_VI,
                    CAT_STATUS_VI=cat_service.STATUS_VI, CAT_KIND_VI=cat_service.KIND_VI)


def render(request: Request, name: str, context: dict, status_code: int = 200) -> HTMLResponse:
    """Render a page with the principal, its CSRF token and the security headers."""
    principal: Principal | None = getattr(request.state, "principal", None)
    ctx = {"principal": principal, "csrf_token": principal.csrf_token if principal else "",
           "office_name": inbox.office_name(principal.office_id) if principal and principal.office_id else None,
           "done": DONE_VI.get(request.query_params.get("done", "")), **context}
    return templates.TemplateResponse(request, name, ctx, status_code=status_code, headers=SECURITY_HEADERS)


def not_found(request: Request) -> HTMLResponse:
    """404 for a petition that does not exist *or* belongs to another office (no existence leak)."""
    return render(request, "error.html", {"message": "Không tìm thấy phản ánh (hoặc phản ánh không thuộc "
                                                     "cơ quan của bạn)."}, 404)


def redirect(url: str) -> RedirectResponse:
    return RedirectResponse(url, status_code=303)


def get_db() -> Iterator[Session]:
    """One transaction per request: commit on success, roll back on error."""
    from db import session_factory

    db = session_factory()()
    try:
        yield db
        db.commit()
    except BaseException:
        db.rollback()
        raise
    finally:
        db.close()


def require_admin(principal: Annotated[Principal, Depends(current)]) -> Principal:
    if not principal.is_admin:
        raise HTTPException(403, detail="Chỉ quản trị viên được dùng chức năng này.")
    return principal


CurrentUser = Annotated[Principal, Depends(current)]
DB = Annotated[Session, Depends(get_db)]
AdminUser = Annotated[Principal, Depends(require_admin)]


def _client_ip(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def _safe_next(target: str | None) -> str:
    if target and target.startswith("/console/") and not target.startswith("//") and "\\" not in target:
        return target
    return "/console/inbox"


# ---------------------------------------------------------------- login


def _login_page(request: Request, *, error: str | None = None, status_code: int = 200, email: str = "",
                nxt: str = "") -> HTMLResponse:
    token = secrets.token_urlsafe(24)
    resp = render(request, "login.html", {"login_token": token, "error": error, "email": email, "next": nxt},
                  status_code)
    resp.set_cookie(PRELOGIN_COOKIE, auth.sign(token, "prelogin"), max_age=3600, path="/console/login",
                    secure=get_settings().console_cookie_secure, httponly=True, samesite="lax")
    return resp


@router.get("", response_class=RedirectResponse)
def console_home() -> RedirectResponse:
    return redirect("/console/inbox")


@router.get("/login", response_class=HTMLResponse)
def login_form(*, request: Request, next: str = "", db: DB) -> Response:
    if auth.load_principal(db, request.cookies.get(SESSION_COOKIE)) is not None:
        return redirect(_safe_next(next))
    return _login_page(request, nxt=next)


@router.post("/login")
def login(*, request: Request, email: str = Form(""), password: str = Form(""), next: str = Form(""),
          db: DB) -> Response:
    try:
        user = auth.authenticate(db, email, password, _client_ip(request))
    except AuthError as exc:
        db.commit()  # keep the failed attempt for the rate limit
        return _login_page(request, error=str(exc), status_code=exc.status, email=email[:200], nxt=next)
    cookie = auth.create_session(db, user)
    resp = redirect(_safe_next(next))
    s = get_settings()
    resp.set_cookie(SESSION_COOKIE, cookie, max_age=int(s.console_session_hours * 3600), path="/console",
                    secure=s.console_cookie_secure, httponly=True, samesite="lax")
    resp.delete_cookie(PRELOGIN_COOKIE, path="/console/login")
    return resp


@router.post("/logout")
def logout(*, request: Request, db: DB) -> Response:
    auth.end_session(db, request.cookies.get(SESSION_COOKIE))
    resp = redirect("/console/login")
    resp.delete_cookie(SESSION_COOKIE, path="/console")
    return resp


# ---------------------------------------------------------------- inbox and petitions


_VN_DATE = re.compile(r"(\d{1,2})[/.-](\d{1,2})[/.-](\d{4})")


def _parse_date(value: str | None) -> date | None:
    """A filter date as Vietnamese write it, dd/mm/yyyy (also d/m/yyyy, dd-mm-yyyy, dd.mm.yyyy), or
    yyyy-mm-dd as older links carry it. The field is a text box, not `type="date"`: chromium shows
    a date box in the browser's own locale (mm/dd/yyyy on an English browser) whatever the page's
    `lang`. An unreadable date, or one outside 2000–2099 (9999-12-31 + 1 day overflows), is ignored
    like an empty filter."""
    value = (value or "").strip()[:40]
    parsed: date | None
    try:
        if m := _VN_DATE.fullmatch(value):
            parsed = date(int(m[3]), int(m[2]), int(m[1]))
        else:
            parsed = date.fromisoformat(value) if value else None
    except ValueError:
        return None
    return parsed if parsed and 2000 <= parsed.year <= 2099 else None


@router.get("/inbox", response_class=HTMLResponse)
def inbox_page(*, request: Request, status: str = "", category: str = "", due: str = "", due_before: str = "",
               q: str = "", office: str = "", page: int = 1, principal: CurrentUser,
               db: DB) -> HTMLResponse:
    from pakn.service import STATUS_VI

    f = inbox.InboxFilters(status=status if status in STATUS_VI else None, category=category or None,
                           due=due if due in inbox.DUE_FILTERS_VI else None, due_before=_parse_date(due_before),
                           q=q[:200] or None, office=office or None, page=max(1, min(page, 10_000)))
    now = utcnow()
    records, total = inbox.list_records(db, principal, f, now)
    from pakn.clusters import cluster_sizes

    sizes = cluster_sizes(db, [r.id for r in records])
    query = {k: v for k, v in {"status": status, "category": category, "due": due, "due_before": due_before,
                               "q": q, "office": office}.items() if v}
    pages = max(1, -(-total // inbox.PER_PAGE))
    return render(request, "inbox.html", {
        "records": [(r, inbox.due_badge(r, now)) for r in records], "total": total, "filters": f, "sizes": sizes,
        "statuses": STATUS_VI, "categories": inbox.categories(db, principal), "due_filters": inbox.DUE_FILTERS_VI,
        "page": f.page, "pages": pages, "query": urlencode(query),
        "raw": {"due_before": f"{f.due_before:%d/%m/%Y}" if f.due_before else due_before[:40], "q": q},
    })


def _detail(request: Request, db: Session, principal: Principal, code: str, *, error: str | None = None,
            status_code: int = 200, form: dict | None = None) -> HTMLResponse:
    from pakn import clusters
    from pakn.privacy import redact
    from pakn.service import NEEDS_REASON, REPLYABLE, TRANSITIONS

    record = inbox.get_visible(db, principal, code)
    if record is None:
        return not_found(request)
    # A linked report is handled through its primary: no actions of its own but "Tách khỏi nhóm".
    allowed = TRANSITIONS.get(record.status, frozenset()) if record.primary_id is None else frozenset()
    primary = clusters.shared(db, record) if record.primary_id is not None else None
    # The other citizens' reports, as other staff views show them: masked words, no contact.
    # With how the latest answer reached each of them (their own citizen_reply job).
    last = next((e.id for e in reversed(record.events) if e.kind == "reply"), None)
    linked = [{"code": x.code, "channel": x.channel, "created_at": x.created_at, "content": redact(x.content),
               "visible": principal.can_see_office(x.office_id),
               "delivery": inbox.reply_deliveries(db, x).get(last) if last is not None else None}
              for x in clusters.linked_reports(db, record)]
    return render(request, "detail.html", {
        "r": record, "badge": inbox.due_badge(record, utcnow()), "error": error, "form": form or {},
        "deliveries": inbox.reply_deliveries(db, record), "primary": primary, "linked": linked,
        "can": {"accept": "in_progress" in allowed, "transfer": "transferred" in allowed,
                "close": "closed" in allowed, "reject": "rejected" in allowed,
                "reply": record.primary_id is None and record.status in REPLYABLE,
                "unlink": record.primary_id is not None},
        "needs_reason": NEEDS_REASON,
        "choices": inbox.transfer_choices(record) if "transferred" in allowed else [],
    }, status_code)


@router.get("/pakn/{code}", response_class=HTMLResponse)
def pakn_detail(*, request: Request, code: str, principal: CurrentUser,
                db: DB) -> HTMLResponse:
    return _detail(request, db, principal, code[:40])


def _act(request: Request, db: Session, principal: Principal, code: str, action: str, form: dict) -> Response:
    """Run one staff action through pakn.service; each one leaves an event in the history."""
    from pakn import service

    code = code[:40]
    record = inbox.get_visible(db, principal, code)
    if record is None and action == "unlink":
        record = _linked_to_visible(db, principal, code)  # listed on the primary's page, unlinked from there
    if record is None:
        return not_found(request)
    back = record.code
    try:
        if action == "unlink":
            from pakn.clusters import shared

            case_code = shared(db, record).code
            back = case_code if form.get("back") == case_code else record.code
            service.unlink(db, record.code, principal.actor)
        elif action == "reply":
            office_id = record.office_id or principal.office_id
            if not office_id:
                raise PaknValidationError("Phản ánh chưa được giao cho cơ quan nào; hãy chuyển phản ánh trước.")
            service.add_reply(db, record.code, office_id, form.get("text", ""))
        elif action == "transfer":
            service.transition(db, record.code, "transferred", principal.actor, form.get("reason"),
                               office_id=form.get("office_id") or None)
        else:
            to_status = {"accept": "in_progress", "close": "closed", "reject": "rejected"}[action]
            service.transition(db, record.code, to_status, principal.actor, form.get("note") or form.get("reason"))
    except PaknError as exc:
        db.rollback()
        return _detail(request, db, principal, code, error=str(exc), status_code=ERROR_STATUS.get(type(exc), 400),
                       form=form)
    db.commit()
    if action == "transfer" and not principal.is_admin:
        return redirect(f"/console/inbox?done={action}")  # no longer ours to see
    return redirect(f"/console/pakn/{back}?done={action}")


def _linked_to_visible(db: Session, principal: Principal, code: str):
    """A report linked to a case the principal may see (its own office may be another's)."""
    from pakn.clusters import shared
    from pakn.service import get_by_code

    record = get_by_code(db, code)
    if record is None or record.primary_id is None:
        return None
    return record if principal.can_see_office(shared(db, record).office_id) else None


@router.post("/pakn/{code}/unlink")
def pakn_unlink(*, request: Request, code: str, back: str = Form(""), principal: CurrentUser,
                db: DB) -> Response:
    """"Tách khỏi nhóm": a falsely linked report becomes a case of its own again."""
    return _act(request, db, principal, code, "unlink", {"back": back[:40]})


@router.post("/pakn/{code}/accept")
def pakn_accept(*, request: Request, code: str, note: str = Form(""), principal: CurrentUser,
                db: DB) -> Response:
    return _act(request, db, principal, code, "accept", {"note": note})


@router.post("/pakn/{code}/transfer")
def pakn_transfer(*, request: Request, code: str, office_id: str = Form(""), reason: str = Form(""),
                  principal: CurrentUser, db: DB) -> Response:
    return _act(request, db, principal, code, "transfer", {"office_id": office_id[:80], "reason": reason})


@router.post("/pakn/{code}/reply")
def pakn_reply(*, request: Request, code: str, text: str = Form(""), principal: CurrentUser,
               db: DB) -> Response:
    return _act(request, db, principal, code, "reply", {"text": text})


@router.post("/pakn/{code}/close")
def pakn_close(*, request: Request, code: str, note: str = Form(""), principal: CurrentUser,
               db: DB) -> Response:
    return _act(request, db, principal, code, "close", {"note": note})


@router.post("/pakn/{code}/reject")
def pakn_reject(*, request: Request, code: str, reason: str = Form(""), principal: CurrentUser,
                db: DB) -> Response:
    return _act(request, db, principal, code, "reject", {"reason": reason})


# ---------------------------------------------------------------- duties


def _duty_office(principal: Principal, office: str | None) -> str | None:
    """Staff see their own office; an admin may look at any office (default: their own, if any)."""
    if principal.is_admin and office and auth.office_exists(office):
        return office
    return principal.office_id


def _admin_offices(principal: Principal) -> list:
    if not principal.is_admin:
        return []
    from knowledge.offices import load_offices, ward_offices
    from pakn.routing import load_routing

    wards = ward_offices(load_routing().default_province)  # the UBND of each ward/commune of the province
    return sorted((o for o in [*load_offices().all(), *wards] if o.kind == "office" and o.valid_to is None),
                  key=lambda o: (o.province, o.name))


@router.get("/duties", response_class=HTMLResponse)
def duties_page(*, request: Request, office: str = "", principal: CurrentUser,
                db: DB) -> HTMLResponse:
    office_id = _duty_office(principal, office)
    today = utcnow().astimezone(VN_TZ).date()
    groups = duties.grouped(duties.office_duties(db, office_id), today) if office_id else {}
    return render(request, "duties.html", {
        "groups": groups, "group_names": duties.GROUPS_VI, "duty_office": office_id,
        "duty_office_name": inbox.office_name(office_id), "offices": _admin_offices(principal),
        "covered": [inbox.office_name(o) for o in duties.covered_offices(office_id)[1:]] if office_id else [],
    })


@router.post("/duties/progress")
def duties_progress(*, request: Request, task_id: str = Form(""), status: str = Form(""), note: str = Form(""),
                    office: str = Form(""), principal: CurrentUser,
                    db: DB) -> Response:
    office_id = _duty_office(principal, office)
    if not office_id:
        raise HTTPException(422, detail="Chưa chọn cơ quan.")
    try:
        duties.record_progress(db, task_id=task_id[:120], office_id=office_id, status=status, note=note,
                               updated_by=principal.email)
    except LookupError as exc:
        raise HTTPException(404, detail=str(exc)) from None
    except ValueError as exc:
        raise HTTPException(422, detail=str(exc)) from None
    suffix = f"&office={office_id}" if principal.is_admin else ""
    return redirect(f"/console/duties?done=progress{suffix}")


@router.get("/duties.ics")
def duties_ics(*, office: str = "", principal: CurrentUser, db: DB) -> Response:
    office_id = _duty_office(principal, office)
    if not office_id:
        raise HTTPException(422, detail="Chưa chọn cơ quan.")
    body = duties.to_ics(duties.office_duties(db, office_id), inbox.office_name(office_id))
    return Response(body, media_type="text/calendar; charset=utf-8",
                    headers={"Content-Disposition": f'attachment; filename="nhiem-vu-{office_id}.ics"',
                             "Cache-Control": "no-store"})


# ---------------------------------------------------------------- dashboard


@router.get("/dashboard", response_class=HTMLResponse)
def dashboard_page(*, request: Request, principal: CurrentUser,
                   db: DB) -> HTMLResponse:
    return render(request, "dashboard.html", {"figures": dashboard.figures(db, principal, utcnow())})


# ---------------------------------------------------------------- procedure catalogue


def _today() -> date:
    return utcnow().astimezone(VN_TZ).date()


def _catalogue_page(request: Request, db: Session, principal: Principal, *, q: str = "", flagged: str = "",
                    error: str | None = None, status_code: int = 200) -> HTMLResponse:
    from knowledge.procedures import fold, load_catalogue

    s = get_settings()
    rows = cat_service.rows(load_catalogue(), _today(), s.tthc_max_fact_age_days)
    totals = {"procedures": len(rows), "flagged": sum(r.flagged for r in rows),
              "unverified": sum(r.unverified for r in rows), "stale": sum(r.stale for r in rows),
              "expired": sum(r.expired for r in rows)}
    needle = fold(q[:200])
    if needle:
        rows = [r for r in rows if needle in fold(f"{r.proc.name} {r.proc.code or ''} {r.proc.id} {r.proc.field}")]
    if flagged:
        rows = [r for r in rows if r.flagged]
    recent = cat_service.batches(db)
    return render(request, "catalogue.html", {
        "rows": rows, "totals": totals, "max_age": s.tthc_max_fact_age_days, "q": q[:200], "flagged": bool(flagged),
        "pending": [b for b in recent if b.status == "pending"], "recent": recent,
        "last": cat_service.last_published(db), "can_edit": principal.can_edit_catalogue,
        "upload_max_mb": max(1, s.catalogue_upload_max_bytes // 1_000_000), "four_eyes": s.catalogue_four_eyes,
        "error": error,
    }, status_code)


def _require_editor(principal: Principal) -> None:
    if not principal.can_edit_catalogue:
        raise HTTPException(403, detail="Chỉ cán bộ biên tập danh mục hoặc quản trị viên được dùng chức năng này.")


def _batch_id(code: str) -> int:
    if not code.isdigit() or len(code) > 12:
        raise HTTPException(404, detail="Không tìm thấy lần nhập dữ liệu.")
    return int(code)


@router.get("/catalogue", response_class=HTMLResponse)
def catalogue_page(*, request: Request, q: str = "", flagged: str = "", principal: CurrentUser,
                   db: DB) -> HTMLResponse:
    return _catalogue_page(request, db, principal, q=q, flagged=flagged)


@router.post("/catalogue/imports")
def catalogue_upload(*, request: Request, file: Annotated[UploadFile, File()], full: str = Form(""),
                     principal: CurrentUser, db: DB) -> Response:
    _require_editor(principal)
    limit = get_settings().catalogue_upload_max_bytes
    content = file.file.read(limit + 1)
    try:
        batch = cat_service.upload(db, principal, file.filename or "", content, full=bool(full), today=_today())
    except cat_service.CatalogueError as exc:
        db.rollback()
        return _catalogue_page(request, db, principal, error=str(exc), status_code=exc.status)
    return redirect(f"/console/catalogue/imports/{batch.id}?done=catalogue_uploaded")


def _import_page(request: Request, db: Session, principal: Principal, batch_id: int, *, error: str | None = None,
                 status_code: int = 200) -> HTMLResponse:
    batch = cat_service.get_batch(db, batch_id)
    if batch is None:
        return render(request, "error.html", {"message": "Không tìm thấy lần nhập dữ liệu."}, 404)
    return render(request, "catalogue_import.html", {
        "b": batch, "revisions": batch.revisions, "why_not": cat_service.may_decide(principal, batch),
        "can_edit": principal.can_edit_catalogue, "error": error}, status_code)


@router.get("/catalogue/imports/{code}", response_class=HTMLResponse)
def catalogue_import(*, request: Request, code: str, principal: CurrentUser, db: DB) -> HTMLResponse:
    return _import_page(request, db, principal, _batch_id(code))


@router.post("/catalogue/imports/{code}/publish")
def catalogue_publish(*, request: Request, code: str, rev: Annotated[list[str] | None, Form()] = None,
                      note: str = Form(""), principal: CurrentUser, db: DB) -> Response:
    _require_editor(principal)
    batch_id = _batch_id(code)
    selected = {int(r) for r in rev or [] if r.isdigit() and len(r) <= 12}
    try:
        cat_service.publish(db, principal, batch_id, selected, note)
    except cat_service.CatalogueError as exc:
        db.rollback()
        return _import_page(request, db, principal, batch_id, error=str(exc), status_code=exc.status)
    return redirect(f"/console/catalogue/imports/{batch_id}?done=catalogue_published")


@router.post("/catalogue/imports/{code}/reject")
def catalogue_reject(*, request: Request, code: str, note: str = Form(""), principal: CurrentUser,
                     db: DB) -> Response:
    _require_editor(principal)
    batch_id = _batch_id(code)
    try:
        cat_service.reject(db, principal, batch_id, note)
    except cat_service.CatalogueError as exc:
        db.rollback()
        return _import_page(request, db, principal, batch_id, error=str(exc), status_code=exc.status)
    return redirect(f"/console/catalogue/imports/{batch_id}?done=catalogue_rejected")


@router.get("/catalogue/{code}", response_class=HTMLResponse)
def catalogue_procedure(*, request: Request, code: str, principal: CurrentUser, db: DB) -> HTMLResponse:
    from knowledge.procedures import FIELD_LABELS, load_catalogue

    key = code[:120]
    proc = load_catalogue().get(key)
    revisions = cat_service.history(db, proc.id if proc else key, proc.code if proc else None)
    if proc is None and not revisions:
        return render(request, "error.html", {"message": "Không tìm thấy thủ tục trong danh mục."}, 404)
    s = get_settings()
    return render(request, "catalogue_procedure.html", {
        "p": proc, "key": key, "revisions": revisions, "field_labels": FIELD_LABELS, "max_age": s.tthc_max_fact_age_days,
        "facts": cat_service.fact_states(proc, _today(), s.tthc_max_fact_age_days) if proc else [],
        "name": proc.name if proc else revisions[0].name,
    })


# ---------------------------------------------------------------- accounts


def _users_page(request: Request, db: Session, *, error: str | None = None, status_code: int = 200,
                form: dict | None = None) -> HTMLResponse:
    users = db.scalars(select(ConsoleUser).order_by(ConsoleUser.office_id, ConsoleUser.email)).all()
    return render(request, "users.html", {"users": users, "roles": ROLES, "error": error, "form": form or {},
                                          "offices": _admin_offices(request.state.principal)}, status_code)


@router.get("/admin/users", response_class=HTMLResponse)
def users_page(*, request: Request, _admin: AdminUser,
               db: DB) -> HTMLResponse:
    return _users_page(request, db)


@router.post("/admin/users")
def users_create(*, request: Request, email: str = Form(""), password: str = Form(""), role: str = Form("staff"),
                 office_id: str = Form(""), display_name: str = Form(""),
                 _admin: AdminUser, db: DB) -> Response:
    try:
        auth.create_user(db, email=email, password=password, role=role, office_id=office_id,
                         display_name=display_name)
    except AuthError as exc:
        db.rollback()
        return _users_page(request, db, error=str(exc), status_code=exc.status,
                           form={"email": email[:200], "role": role, "office_id": office_id,
                                 "display_name": display_name[:120]})
    return redirect("/console/admin/users?done=user_created")


@router.post("/admin/users/{user_id}/disable")
def users_disable(*, user_id: int, admin: AdminUser, db: DB) -> Response:
    if user_id == admin.user_id:
        raise HTTPException(422, detail="Không thể tự khóa tài khoản của chính mình.")
    try:
        auth.set_active(db, user_id, False)
    except AuthError as exc:
        raise HTTPException(exc.status, detail=str(exc)) from None
    return redirect("/console/admin/users?done=user_disabled")


@router.post("/admin/users/{user_id}/enable")
def users_enable(*, user_id: int, _admin: AdminUser, db: DB) -> Response:
    try:
        auth.set_active(db, user_id, True)
    except AuthError as exc:
        raise HTTPException(exc.status, detail=str(exc)) from None
    return redirect("/console/admin/users?done=user_enabled")


@router.get("/account", response_class=HTMLResponse)
def account_page(*, request: Request, _p: CurrentUser) -> HTMLResponse:
    return render(request, "account.html", {"error": None})


@router.post("/account/password")
def account_password(*, request: Request, current_password: str = Form(""), new_password: str = Form(""),
                     principal: CurrentUser, db: DB) -> Response:
    user = db.get(ConsoleUser, principal.user_id)
    if user is None or not auth.verify_password(user.password_hash, current_password):
        return render(request, "account.html", {"error": "Mật khẩu hiện tại không đúng."}, 422)
    try:
        auth.set_password(db, principal.user_id, new_password)
    except AuthError as exc:
        return render(request, "account.html", {"error": str(exc)}, 422)
    resp = redirect("/console/login?done=password")
    resp.delete_cookie(SESSION_COOKIE, path="/console")
    return resp


__all__ = ["mount_static", "router", "templates"]
