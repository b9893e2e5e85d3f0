"""Open311 GeoReport v2 over the PAKN pipeline, in XML (the spec's required format) and JSON.

Why: Open311 is the common interface of civic-issue apps (SeeClickFix, FixMyStreet clients,
municipal dashboards, the `georeport` Python client). Exposing it lets such apps file and follow
petitions without a custom integration; every request goes through the same `pakn.service`
intake as the chat and REST (same validation, triage, outbox, idempotency).

Endpoints (`{fmt}` = `xml` or `json`; the same content in both, JSON being the spec's "Spark"
mapping of the XML): `discovery`, `services`, `services/{service_code}` (service definition; no
service has extra attributes, so `attributes` is empty and `metadata` false), `requests` (GET
list, POST create) and `requests/{id}`. XML uses the spec's element names: `<services><service>`,
`<service_definition>`, `<service_requests><request>`, `<discovery>`, and errors as
`<errors><error><code/><description/></error></errors>` (JSON `[{"code", "description"}]`), with
Vietnamese descriptions.

`jurisdiction_id`: this endpoint serves one jurisdiction (`settings.open311_jurisdiction_id`), so
the parameter is optional as the spec allows; naming another one is a 404 ("jurisdiction_id
provided was not found").

`api_key` (POST only, as in the spec): an API client key of scope `chat` from `api.clients`
(`python -m bot admin create-api-client --scope chat`), the same credential a REST integration
uses, sent as the form's `api_key` (or `X-API-Key`). Why not a separate Open311 key table: one
place to issue, name and revoke an integration's access. A key is required when
`OPEN311_API_KEY_REQUIRED` says so (default: in production only); a wrong, revoked or office key is
always a 403. A keyed caller's `account_id`/`device_id` and `Idempotency-Key` live in its own
namespace (like REST), and its submissions count against its per-user limit.

Mapping: a service is a PAKN category (`service_code` = category slug); `service_request_id` is
the tracking code, returned at once (service type `realtime`); Open311 status is `open` until the
office has answered, closed or rejected it. What a GET shows is `pakn.published`'s rule, shared
with the REST lookup and the page of answered petitions (see `request_view`).
"""
from __future__ import annotations

import json
import logging
import math
import re
import xml.etree.ElementTree as ET
from datetime import UTC, datetime, timedelta, timezone
from functools import lru_cache
from typing import Any
from urllib.parse import parse_qsl

from fastapi import APIRouter, Header, HTTPException, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response

from api.clients import SCOPE_CHAT, ApiClient
from api.dbcall import db_call
from api.deps import ServicesDep
from api.limits import charge_lookups, enforce_user_limit
from api.routes.pakn import iso, read_body
from pakn.errors import PaknError
from pakn.privacy import redact_public
from pakn.published import answer_is_public, is_private, is_published, last_reply, public_address
from runtime.services import Triage
from settings import get_settings

log = logging.getLogger(__name__)
router = APIRouter(prefix="/open311/v2", tags=["open311"])
CLOSED_STATUSES = ("answered", "closed", "rejected")
MAX_LIST = 1000
SPEC_URL = "http://wiki.open311.org/GeoReport_v2"
MEDIA_TYPES = {"xml": "text/xml; charset=utf-8", "json": "application/json; charset=utf-8"}
# XML element of one member of a JSON list, by the list's element name (the Spark convention).
LIST_ITEMS = {"services": "service", "service_requests": "request", "errors": "error", "attributes": "attribute",
              "values": "value", "endpoints": "endpoint", "formats": "format"}
# Characters XML 1.0 cannot carry at all (a petition typed with a stray control character must not
# make the whole list unparseable).
_XML_INVALID = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")
FORMAT_DOC = {"responses": {"200": {"content": {"text/xml": {"schema": {"type": "string"}}}}}}


class Open311Error(Exception):
    """An error answered in the spec's shape: 404 for what does not exist, 403 for the api_key,
    400 otherwise; `description` is Vietnamese."""

    def __init__(self, status: int, description: str) -> None:
        super().__init__(description)
        self.status, self.description = status, description


# ---------------------------------------------------------------- formats


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return _XML_INVALID.sub("", str(value))


def _element(tag: str, value: Any) -> ET.Element:
    el = ET.Element(tag)
    if isinstance(value, dict):
        for k, v in value.items():
            el.append(_element(k, v))
    elif isinstance(value, list):
        child = LIST_ITEMS.get(tag, "item")
        for v in value:
            el.append(_element(child, v))
    else:
        el.text = _text(value)
    return el


def to_xml(root: str, data: Any) -> bytes:
    """The XML of `data` under `root`: a list becomes repeated `LIST_ITEMS[root]` children."""
    body = ET.tostring(_element(root, data), encoding="unicode")
    return ('<?xml version="1.0" encoding="utf-8"?>\n' + body).encode("utf-8")


def render(fmt: str, data: Any, root: str, status: int = 200) -> Response:
    """One response in the requested format; JSON is the same tree (Spark convention)."""
    if fmt == "xml":
        return Response(to_xml(root, data), status_code=status, media_type=MEDIA_TYPES["xml"])
    return Response(json.dumps(data, ensure_ascii=False).encode("utf-8"), status_code=status,
                    media_type=MEDIA_TYPES["json"])


def o311_error(status: int, description: str, fmt: str = "json") -> Response:
    """The GeoReport v2 error shape: `[{"code", "description"}]` / `<errors><error>…`."""
    return render(fmt if fmt in MEDIA_TYPES else "xml", [{"code": status, "description": description}],
                  "errors", status)


def check_format(fmt: str) -> None:
    if fmt not in MEDIA_TYPES:
        raise Open311Error(404, f"Định dạng “{fmt[:20]}” không được hỗ trợ; dùng .xml hoặc .json.")


def check_jurisdiction(value: str | None) -> None:
    """This endpoint serves one jurisdiction: the parameter may be left out, but not name another."""
    value = (value or "").strip()
    if not value:
        return
    ours = get_settings().open311_jurisdiction_id

    def norm(x: str) -> str:
        return x.strip().lower().removeprefix("www.")

    if norm(value) != norm(ours):
        raise Open311Error(404, f"Không tìm thấy jurisdiction_id “{value[:80]}”; hệ thống này phục vụ “{ours}”.")


# ---------------------------------------------------------------- discovery and services


def _categories_path():
    from pakn.classifier import CATEGORIES_PATH

    return CATEGORIES_PATH


@lru_cache(maxsize=1)
def _services() -> list[dict]:
    from pakn.classifier import load_categories

    return [{"service_code": c.slug, "service_name": c.name, "description": c.description, "metadata": False,
             "type": "realtime", "keywords": ", ".join(c.keywords), "group": "Phản ánh, kiến nghị"}
            for c in load_categories().values()]


def _changeset() -> str:
    """When the service list last changed: the categories file's time (clients refresh caches on it)."""
    try:
        ts = _categories_path().stat().st_mtime
    except OSError:
        return "2026-12-01T00:00:00Z"
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@router.get("/discovery.{fmt}", openapi_extra=FORMAT_DOC)
async def discovery(request: Request, fmt: str) -> Response:
    """Service discovery: where the GeoReport v2 endpoint is, its formats and how to get a key."""
    try:
        check_format(fmt)
    except Open311Error as exc:
        return o311_error(exc.status, exc.description, fmt)
    settings = get_settings()
    changeset = _changeset()
    return render(fmt, {
        "changeset": changeset, "contact": settings.open311_contact,
        "key_service": "Khóa API (api_key) do quản trị hệ thống cấp cho từng ứng dụng: "
                       "python -m bot admin create-api-client --scope chat.",
        "endpoints": [{"specification": SPEC_URL, "url": str(request.base_url).rstrip("/") + router.prefix,
                       "changeset": changeset, "type": "production" if settings.env == "production" else "test",
                       "formats": ["text/xml", "application/json"]}],
    }, "discovery")


@router.get("/services.{fmt}", openapi_extra=FORMAT_DOC)
async def services(fmt: str, jurisdiction_id: str | None = Query(None, max_length=200)) -> Response:
    """One service per PAKN category."""
    try:
        check_format(fmt)
        check_jurisdiction(jurisdiction_id)
    except Open311Error as exc:
        return o311_error(exc.status, exc.description, fmt)
    return render(fmt, _services(), "services")


@router.get("/services/{service_code}.{fmt}", openapi_extra=FORMAT_DOC)
async def service_definition(service_code: str, fmt: str,
                             jurisdiction_id: str | None = Query(None, max_length=200)) -> Response:
    """A service definition: no PAKN category asks for extra fields, so `attributes` is empty."""
    try:
        check_format(fmt)
        check_jurisdiction(jurisdiction_id)
        if service_code not in {s["service_code"] for s in _services()}:
            raise Open311Error(404, f"Không tìm thấy dịch vụ “{service_code[:40]}”; xem services.{fmt}.")
    except Open311Error as exc:
        return o311_error(exc.status, exc.description, fmt)
    return render(fmt, {"service_code": service_code, "attributes": []}, "service_definition")


def _status(record) -> str:
    return "closed" if record.status in CLOSED_STATUSES else "open"


def request_view(record, case=None) -> dict:
    """A service request as GeoReport v2 returns it: the same view for a lookup by code and for the
    public listing.

    A tracking code is not a secret one can rely on (people share them, type them into chats,
    and they can be guessed), so a lookup by code shows no more than the listing: for a petition
    sent by chat, Zalo, Telegram or the REST API — not written to be published — its category,
    status, office, dates and ward; the description (personal data masked) and the map point
    (rounded to about 100 m) only for a petition filed through Open311. The office's answer (or the
    reason of a refusal), masked, is public for any petition but a complaint or denunciation
    (`pakn.published`), as on the page of answered petitions. Never the house address, the
    contact, or anything of a complaint or denunciation but its status: the law protects the
    denouncer's identity (Luật Tố cáo 2018, Điều 47). Complaints and denunciations are also left
    out of the listing (`_list_sync`).

    `case` is the open case a duplicate report was linked to (`pakn.clusters.shared`): its status,
    answer, office and due date are the report's; the words, place and notice stay the report's own.
    """
    from pakn.service import STATUS_VI

    case = case if case is not None else record
    status_name = STATUS_VI.get(case.status, case.status)
    published = is_published(record)
    notes = status_name
    if answer_is_public(record) and answer_is_public(case):
        reply = last_reply(case)
        if reply is not None:
            notes = f"{notes}: {redact_public(reply.note)}"
        elif case.status == "rejected":
            last = next((e for e in reversed(case.events) if e.to_status == "rejected"), None)
            notes = f"{notes}: {redact_public(last.note)}" if last and last.note else notes
    media = record.media or []
    media_url = next((m.get("url") for m in media if isinstance(m, dict) and m.get("url")), None)
    return {
        "service_request_id": record.code, "status": _status(case), "status_notes": notes,
        "service_name": record.category_name, "service_code": record.category,
        "description": redact_public(record.content) if published else None, "agency_responsible": case.office_name,
        "service_notice": record.notice, "requested_datetime": iso(record.created_at),
        "updated_datetime": iso(case.updated_at), "expected_datetime": iso(case.due_at),
        "address": None if is_private(record) else public_address(record),
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


def _create_sync(params: dict, idempotency_key: str | None, user: str | None,
                 triage: Triage) -> tuple[dict, bool]:
    from db import session_scope
    from pakn.service import prepare_submission, store_submission

    code = (params.get("service_code") or "").strip()
    if not code:  # the spec: 400 when not provided, 404 when not found
        raise Open311Error(400, "Thiếu mã dịch vụ (service_code); xem /open311/v2/services.xml.")
    if code not in {s["service_code"] for s in _services()}:
        raise Open311Error(404, "Mã dịch vụ (service_code) không tồn tại; xem /open311/v2/services.xml.")
    lat, lon = _float(params, "lat", 90.0), _float(params, "long", 180.0)
    if (lat is None) != (lon is None):
        raise PaknError("Cần gửi đủ cả lat và long.")
    address = (params.get("address_string") or "").strip() or None
    if address is None and lat is None:
        raise PaknError("Cần địa điểm: lat/long hoặc address_string.")
    name = " ".join(x for x in (params.get("first_name", "").strip(), params.get("last_name", "").strip()) if x)
    contact = {"phone": params.get("phone", "").strip(), "email": params.get("email", "").strip(), "name": name}
    media_url = params.get("media_url", "").strip()
    if media_url and not re.match(r"(?i)^https?://[^\s/]+", media_url):  # republished: no javascript: links
        raise PaknError("media_url phải là địa chỉ http:// hoặc https://.")
    media = [{"kind": "image", "url": media_url}] if media_url else None
    prepared = prepare_submission(
        content=params.get("description", ""), location=address, contact=contact,
        channel="open311", channel_user_id=user,
        external_id=None, idempotency_key=idempotency_key, media=media, requested_category=code,
        coordinates=(lat, lon) if lat is not None and lon is not None else None, defer_semantic=True,
        triage=triage)
    with session_scope(write=True) as session:
        res = store_submission(session, prepared)
        r = res.record
        due = r.due_at.astimezone(timezone(timedelta(hours=7))).strftime("%d/%m/%Y") if r.due_at else "theo quy định"
        office = ("đang được xác định (hệ thống đang phân loại nội dung)" if r.triage_pending
                  else r.office_name)
        notice = f"Đã tiếp nhận. Cơ quan xử lý: {office}. Hạn xử lý dự kiến: {due}."
        if r.notice:
            notice += " " + r.notice
        from pakn.clusters import intake_notice

        if cluster := intake_notice(session, r):  # joined an open case (pakn.clusters)
            notice += " " + cluster
        return {"service_request_id": r.code, "service_notice": notice, "account_id": None}, res.created


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

    from db import session_scope
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
        if not ids:  # the listing leaves out what triage missed, too (pakn.published.is_private)
            records = [r for r in records if not is_private(r)]
        from pakn.clusters import shared

        return [request_view(r, shared(session, r)) for r in records]


def _api_key_required() -> bool:
    settings = get_settings()
    required = settings.open311_api_key_required
    return settings.env == "production" if required is None else required


def open311_client(request: Request, params: dict[str, str]) -> ApiClient | None:
    """The integration a POST speaks for, from its `api_key` (form field, as in the spec, or the
    X-API-Key / Bearer header); None for a keyless POST where keys are not required. 403 (the
    spec's code for the api_key) when the key is missing but required, wrong, revoked or not of
    scope `chat`."""
    from api.identity import _registry, presented_key

    key = (params.get("api_key") or "").strip() or presented_key(request)
    if not key:
        if _api_key_required():
            raise Open311Error(403, "Cần api_key hợp lệ để gửi yêu cầu; liên hệ quản trị hệ thống để được cấp.")
        return None
    client = _registry(request).verify(key)
    if client is None or client.scope != SCOPE_CHAT:
        raise Open311Error(403, "api_key không hợp lệ hoặc đã bị thu hồi.")
    return client


@router.post("/requests.{fmt}", openapi_extra=FORMAT_DOC)
async def create_request(request: Request, fmt: str, services: ServicesDep,
                         idempotency_key: str | None = Header(None)) -> Response:
    """Create a service request (form-encoded per the spec, or JSON)."""
    from api.identity import fold_label, namespaced_user

    try:
        check_format(fmt)
        params = await _params(request)
        check_jurisdiction(params.get("jurisdiction_id"))
        client = open311_client(request, params)
        label = (params.get("account_id") or params.get("device_id") or "").strip()
        # A keyed integration's users and repeat keys live in its own namespace, as on REST; a keyless
        # caller's repeat keys in a shared one that no key's can reach ('/' is in no client id).
        owner = client.id if client else "public"
        user = (namespaced_user(client, label) if client else fold_label(label)[:128]) if fold_label(label) else None
        if client is not None:
            await enforce_user_limit(request, "pakn", user or f"client:{client.id}")
        if idempotency_key and idempotency_key.strip():
            idempotency_key = f"o311/{owner}:{idempotency_key.strip()}"[:200]
        else:
            idempotency_key = None
        body, created = await db_call(_create_sync, params, idempotency_key, user, services.triage)
    except Open311Error as exc:
        return o311_error(exc.status, exc.description, fmt)
    except HTTPException as exc:
        return o311_error(exc.status_code, str(exc.detail), fmt)
    except PaknError as exc:
        return o311_error(400, str(exc), fmt)
    return render(fmt, [body], "service_requests", 201 if created else 200)


@router.get("/requests.{fmt}", openapi_extra=FORMAT_DOC)
async def list_requests(request: Request, fmt: str, service_request_id: str | None = Query(None, max_length=2000),
                        service_code: str | None = Query(None, max_length=500),
                        start_date: str | None = Query(None, max_length=40),
                        end_date: str | None = Query(None, max_length=40),
                        status: str | None = Query(None, max_length=20),
                        jurisdiction_id: str | None = Query(None, max_length=200)) -> Response:
    """Requests by id list (comma-separated) or by category, date window and open/closed status."""
    ids = [i.strip() for i in (service_request_id or "").split(",") if i.strip()]
    statuses = {s.strip() for s in (status or "").split(",") if s.strip()}
    try:
        check_format(fmt)
        check_jurisdiction(jurisdiction_id)
        if len(ids) > MAX_IDS:
            raise Open311Error(400, f"Tra cứu tối đa {MAX_IDS} mã mỗi lần.")
        if statuses - {"open", "closed"}:
            raise Open311Error(400, "Giá trị status chỉ nhận open hoặc closed.")
        start, end = _parse_dt(start_date, "start_date"), _parse_dt(end_date, "end_date")
        if start and end and start > end:
            raise PaknError("“start_date” phải trước “end_date”.")
        await charge_lookups(request, len(ids) - 1)
        rows = await run_in_threadpool(_list_sync, ids, service_code, start, end, statuses)
    except Open311Error as exc:
        return o311_error(exc.status, exc.description, fmt)
    except PaknError as exc:
        return o311_error(400, str(exc), fmt)
    except HTTPException as exc:  # 429 from the lookup limit, in the spec's error shape
        return o311_error(exc.status_code, str(exc.detail), fmt)
    return render(fmt, rows, "service_requests")


@router.get("/requests/{request_id}.{fmt}", openapi_extra=FORMAT_DOC)
async def get_request(request_id: str, fmt: str, jurisdiction_id: str | None = Query(None, max_length=200)
                      ) -> Response:
    """One request, as a one-element list (per the spec)."""
    try:
        check_format(fmt)
        check_jurisdiction(jurisdiction_id)
    except Open311Error as exc:
        return o311_error(exc.status, exc.description, fmt)
    rows = await run_in_threadpool(_list_sync, [request_id[:40]], None, None, None, set())
    if not rows:
        return o311_error(404, f"Không tìm thấy yêu cầu {request_id[:40]}.", fmt)
    return render(fmt, rows, "service_requests")
