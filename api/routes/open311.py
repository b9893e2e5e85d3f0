"""Open311 GeoReport v2 over the PAKN pipeline (JSON format).

Why: Open311 is the common interface of civic-issue apps (SeeClickFix, FixMyStreet clients,
municipal dashboards). Exposing it lets such apps file and follow petitions without a custom
integration; every request goes through the same `pakn.service.submit` as the chat and REST
intake (same validation, triage, outbox, idempotency).

Mapping: a service is a PAKN category (`service_code` = category slug); `service_request_id` is
the tracking code; Open311 status is `open` until the office has answered, closed or rejected it.
Descriptions returned by GET are public in Open311, so phone numbers, e-mails and CCCD/CMND
numbers are masked in them and contact data is never returned; the public listing shows the
description and address only of petitions filed through Open311 and never lists a complaint or
denunciation (see `request_view`). Errors follow the spec's
`[{"code", "description"}]` shape, with Vietnamese descriptions.
"""
from __future__ import annotations

import json
import logging
import math
import re
from datetime import UTC, datetime, timedelta, timezone
from functools import lru_cache
from urllib.parse import parse_qsl

from fastapi import APIRouter, Header, HTTPException, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse

from api.dbcall import db_call
from api.limits import charge_lookups
from api.routes.pakn import iso, read_body
from pakn.errors import PaknError
from pakn.privacy import redact

log = logging.getLogger(__name__)
router = APIRouter(prefix="/open311/v2", tags=["open311"])
CLOSED_STATUSES = ("answered", "closed", "rejected")
MAX_LIST = 1000


def o311_error(status: int, description: str) -> JSONResponse:
    """The GeoReport v2 error shape."""
    return JSONResponse([{"code": status, "description": description}], status_code=status)


@lru_cache(maxsize=1)
def _services() -> list[dict]:
    from pakn.classifier import load_categories

    return [{"service_code": c.slug, "service_name": c.name, "description": c.description, "metadata": False,
             "type": "batch", "keywords": ", ".join(c.keywords), "group": "Phản ánh, kiến nghị"}
            for c in load_categories().values()]


@router.get("/services.json")
async def services() -> list[dict]:
    """One service per PAKN category."""
    return _services()


def _status(record) -> str:
    return "closed" if record.status in CLOSED_STATUSES else "open"


UNIT_WORDS = re.compile(r"^\s*(phường|phuong|xã|xa|thị trấn|quận|quan|huyện|huyen|tp\.?|thành phố|thị xã|tỉnh|"
                        r"p\.|x\.|q\.|f\.?)\s*\d*\b", re.IGNORECASE)


def public_address(record) -> str | None:
    """Where a petition is, without the house: the ward and province we resolved, or else the parts
    of the typed address that name an area ("phường Bến Thành, TP. Hồ Chí Minh" of "12 hẻm 5,
    phường Bến Thành, TP. Hồ Chí Minh"). A house number and alley identify a household."""
    loc = record.locality or {}
    area = ", ".join(p for p in (loc.get("ward_name"), loc.get("province_name")) if p)
    if area:
        return area
    parts = [p.strip() for p in (record.location or "").split(",") if p.strip()]
    kept = [p for p in parts if not re.search(r"\d", p) or UNIT_WORDS.match(p)]
    return redact(", ".join(kept)) or None


def is_published(record) -> bool:
    """Whether a petition's own words may be shown publicly: only when it was filed through Open311
    itself (whose clients publish by design) and is not a complaint or denunciation."""
    return record.channel == "open311" and not record.is_complaint


def request_view(record) -> dict:
    """A service request as GeoReport v2 returns it: the same view for a lookup by code and for the
    public listing.

    A tracking code is not a secret one can rely on (people share them, type them into chats,
    and they can be guessed), so a lookup by code shows no more than the listing: for a petition
    sent by chat, Zalo, Telegram or the REST API — not written to be published — its category,
    status, office, dates and ward; the description (personal data masked) and the map point
    (rounded to about 100 m) only for a petition filed through Open311. Never the house address,
    the contact, or anything of a complaint or denunciation but its status: the law protects the
    denouncer's identity (Luật Tố cáo 2018, Điều 47). Complaints and denunciations are also left
    out of the listing (`_list_sync`).
    """
    from pakn.service import STATUS_VI

    status_name = STATUS_VI.get(record.status, record.status)
    published = is_published(record)
    notes = status_name
    if published:
        replies = [e for e in record.events if e.kind == "reply"]
        if replies:
            notes = f"{notes}: {redact(replies[-1].note)}"
        elif record.status == "rejected":
            last = next((e for e in reversed(record.events) if e.to_status == "rejected"), None)
            notes = f"{notes}: {redact(last.note)}" if last and last.note else notes
    media = record.media or []
    media_url = next((m.get("url") for m in media if isinstance(m, dict) and m.get("url")), None)
    return {
        "service_request_id": record.code, "status": _status(record), "status_notes": notes,
        "service_name": record.category_name, "service_code": record.category,
        "description": redact(record.content) if published else None, "agency_responsible": record.office_name,
        "service_notice": record.notice, "requested_datetime": iso(record.created_at),
        "updated_datetime": iso(record.updated_at), "expected_datetime": iso(record.due_at),
        "address": None if record.is_complaint else public_address(record),
        "address_id": None, "zipcode": None,
        "lat": round(record.latitude, 3) if published and record.latitude is not None else None,
        "long": round(record.longitude, 3) if published and record.longitude is not None else None,
        "media_url": media_url if published else None,
    }


async def _params(request: Request) -> dict[str, str]:
    """POST parameters from a form (the spec) or a JSON object (convenience); query string merged in."""
    raw = await read_body(request)
    ctype = request.headers.get("content-type", "").split(";")[0].strip().lower()
    params: dict[str, str] = {}
    if ctype == "application/json":
        try:
            data = json.loads(raw or b"{}")
        except ValueError:
            raise HTTPException(400, detail="Dữ liệu gửi lên không phải JSON hợp lệ.") from None
        if not isinstance(data, dict):
            raise HTTPException(400, detail="Dữ liệu JSON phải là một đối tượng {…}.")
        params = {k: str(v) for k, v in data.items() if v is not None and not isinstance(v, (dict, list))}
    elif ctype == "multipart/form-data":
        raise HTTPException(415, detail="Vui lòng gửi dạng application/x-www-form-urlencoded hoặc JSON; "
                                        "ảnh gửi qua media_url.")
    else:
        try:
            params = dict(parse_qsl(raw.decode("utf-8"), keep_blank_values=False))
        except UnicodeDecodeError:
            raise HTTPException(400, detail="Dữ liệu biểu mẫu phải mã hóa UTF-8.") from None
    for k, v in request.query_params.items():
        params.setdefault(k, v)
    return params


def _float(params: dict, key: str, bound: float) -> float | None:
    """A coordinate; "nan", "inf", "1e999" or one outside ±`bound` degrees is refused, not dropped."""
    v = (params.get(key) or "").strip()
    if not v:
        return None
    try:
        value = float(v)
    except ValueError:
        raise PaknError(f"Giá trị “{key}” phải là số.") from None
    if not math.isfinite(value) or abs(value) > bound:
        raise PaknError(f"Giá trị “{key}” không phải tọa độ hợp lệ.")
    return value


def _create_sync(params: dict, idempotency_key: str | None) -> tuple[dict, bool]:
    from knowledge.store import session_scope
    from pakn.service import prepare_submission, store_submission

    code = (params.get("service_code") or "").strip()
    if code not in {s["service_code"] for s in _services()}:
        raise PaknError("Mã dịch vụ (service_code) không tồn tại; xem /open311/v2/services.json.")
    lat, lon = _float(params, "lat", 90.0), _float(params, "long", 180.0)
    if (lat is None) != (lon is None):
        raise PaknError("Cần gửi đủ cả lat và long.")
    address = (params.get("address_string") or "").strip() or None
    if address is None and lat is None:
        raise PaknError("Cần địa điểm: lat/long hoặc address_string.")
    name = " ".join(x for x in (params.get("first_name", "").strip(), params.get("last_name", "").strip()) if x)
    contact = {"phone": params.get("phone", "").strip(), "email": params.get("email", "").strip(), "name": name}
    media = [{"kind": "image", "url": params["media_url"].strip()}] if params.get("media_url", "").strip() else None
    prepared = prepare_submission(
        content=params.get("description", ""), location=address, contact=contact,
        channel="open311", channel_user_id=(params.get("account_id") or params.get("device_id") or None),
        external_id=None, idempotency_key=idempotency_key, media=media, requested_category=code,
        coordinates=(lat, lon) if lat is not None and lon is not None else None, defer_semantic=True)
    with session_scope(write=True) as session:
        res = store_submission(session, prepared)
        r = res.record
        due = r.due_at.astimezone(timezone(timedelta(hours=7))).strftime("%d/%m/%Y") if r.due_at else "theo quy định"
        office = ("đang được xác định (hệ thống đang phân loại nội dung)" if r.triage_pending
                  else r.office_name)
        notice = f"Đã tiếp nhận. Cơ quan xử lý: {office}. Hạn xử lý dự kiến: {due}."
        if r.notice:
            notice += " " + r.notice
        return {"service_request_id": r.code, "service_notice": notice, "account_id": None}, res.created


@router.post("/requests.json")
async def create_request(request: Request, idempotency_key: str | None = Header(None)) -> JSONResponse:
    """Create a service request (form-encoded per the spec, or JSON)."""
    try:
        params = await _params(request)
        body, created = await db_call(_create_sync, params, idempotency_key)
    except HTTPException as exc:
        return o311_error(exc.status_code, str(exc.detail))
    except PaknError as exc:
        return o311_error(400, str(exc))
    return JSONResponse([body], status_code=201 if created else 200)


EARLIEST, LATEST = datetime(2000, 1, 1, tzinfo=UTC), datetime(2100, 1, 1, tzinfo=UTC)
MAX_IDS = 20  # codes per lookup; each one counts against the address's lookup limit


def _parse_dt(value: str | None, key: str) -> datetime | None:
    """An ISO 8601 date-time as UTC, refused (Vietnamese 400) outside 2000–2100, where the
    90-day window arithmetic and the database's date types would overflow."""
    if not value:
        return None
    try:
        dt = datetime.fromisoformat(value)  # Python 3.11 reads a trailing "Z"
        dt = (dt if dt.tzinfo else dt.replace(tzinfo=timezone(timedelta(hours=7)))).astimezone(UTC)
    except (ValueError, OverflowError):
        raise PaknError(f"“{key}” phải theo định dạng ISO 8601 (ví dụ 2025-01-31T00:00:00+07:00).") from None
    if not EARLIEST <= dt < LATEST:
        raise PaknError(f"“{key}” phải nằm trong khoảng năm 2000 đến 2099.")
    return dt


def _list_sync(ids: list[str], service_code: str | None, start: datetime | None, end: datetime | None,
               statuses: set[str]) -> list[dict]:
    from sqlalchemy import select

    from knowledge.store import session_scope
    from pakn.models import PaknRecord
    from pakn.service import normalise_code

    with session_scope() as session:
        stmt = select(PaknRecord)
        if ids:
            codes = [c for c in (normalise_code(i) for i in ids) if c]
            if not codes:
                return []
            stmt = stmt.where(PaknRecord.code.in_(codes))
        else:  # the spec's default window: the last 90 days
            end = end or datetime.now(UTC)
            start = start or end - timedelta(days=90)
            if service_code:
                stmt = stmt.where(PaknRecord.category.in_(service_code.split(",")))
            stmt = stmt.where(PaknRecord.created_at >= start, PaknRecord.created_at <= end)
            if statuses == {"open"}:
                stmt = stmt.where(PaknRecord.status.not_in(CLOSED_STATUSES))
            elif statuses == {"closed"}:
                stmt = stmt.where(PaknRecord.status.in_(CLOSED_STATUSES))
            stmt = stmt.where(PaknRecord.is_complaint.is_not(True))  # never list a complaint or denunciation
        records = session.scalars(stmt.order_by(PaknRecord.created_at.desc()).limit(MAX_LIST)).all()
        return [request_view(r) for r in records]


@router.get("/requests.json")
async def list_requests(request: Request, service_request_id: str | None = Query(None, max_length=2000),
                        service_code: str | None = Query(None, max_length=500),
                        start_date: str | None = Query(None, max_length=40),
                        end_date: str | None = Query(None, max_length=40),
                        status: str | None = Query(None, max_length=20)) -> JSONResponse:
    """Requests by id list (comma-separated) or by category, date window and open/closed status."""
    ids = [i.strip() for i in (service_request_id or "").split(",") if i.strip()]
    if len(ids) > MAX_IDS:
        return o311_error(400, f"Tra cứu tối đa {MAX_IDS} mã mỗi lần.")
    statuses = {s.strip() for s in (status or "").split(",") if s.strip()}
    if statuses - {"open", "closed"}:
        return o311_error(400, "Giá trị status chỉ nhận open hoặc closed.")
    try:
        start, end = _parse_dt(start_date, "start_date"), _parse_dt(end_date, "end_date")
        if start and end and start > end:
            raise PaknError("“start_date” phải trước “end_date”.")
        await charge_lookups(request, len(ids) - 1)
        rows = await run_in_threadpool(_list_sync, ids, service_code, start, end, statuses)
    except PaknError as exc:
        return o311_error(400, str(exc))
    except HTTPException as exc:  # 429 from the lookup limit, in the spec's error shape
        return o311_error(exc.status_code, str(exc.detail))
    return JSONResponse(rows)


@router.get("/requests/{request_id}.json")
async def get_request(request_id: str) -> JSONResponse:
    """One request, as a one-element list (per the spec)."""
    rows = await run_in_threadpool(_list_sync, [request_id[:40]], None, None, None, set())
    if not rows:
        return o311_error(404, f"Không tìm thấy yêu cầu {request_id[:40]}.")
    return JSONResponse(rows)
