"""REST API of the PAKN pipeline: submit, track, classify; staff reply and status changes.

Why the request bodies are read by hand instead of FastAPI's automatic models: every error a
citizen can cause (malformed JSON, oversized body, missing field, bad phone number) must come
back as a 4xx with a Vietnamese `detail`, and without touching the app-wide exception handlers
that other parts own. The bodies are capped at `settings.max_body_bytes` while streaming, so a
huge upload is refused before it is buffered.

The public status view never includes the content, the contact or the citizen's location: a
tracking code is a bearer secret of low entropy, not an authentication.
"""
from __future__ import annotations

import hmac
import json
import logging
import re
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, Header, HTTPException, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field, ValidationError

from api.clients import SCOPE_OFFICE, ApiClient
from api.dbcall import db_call
from api.deps import ServicesDep
from api.identity import LOCAL_CLIENT, api_client, check_rest_channel, fold_label, namespaced_user
from api.limits import enforce_user_limit
from pakn.errors import (
    PaknConflictError,
    PaknError,
    PaknNotFoundError,
    PaknPermissionError,
    PaknTransitionError,
    PaknValidationError,
)
from runtime.services import Triage
from settings import get_settings

log = logging.getLogger(__name__)
# The embedded outbox worker is started with the other running parts (runtime.services).
router = APIRouter(prefix="/api/v1/pakn", tags=["pakn"])
VN_TZ = ZoneInfo("Asia/Ho_Chi_Minh")

ERROR_STATUS: dict[type[PaknError], int] = {
    PaknValidationError: 422, PaknNotFoundError: 404, PaknTransitionError: 409,
    PaknConflictError: 422, PaknPermissionError: 403,
}


# ---------------------------------------------------------------- request parsing


async def read_body(request: Request, limit: int | None = None) -> bytes:
    """The raw body, refused with 413 once it exceeds `limit` bytes (default settings.max_body_bytes)."""
    limit = limit or get_settings().max_body_bytes
    too_big = HTTPException(413, detail=f"Dữ liệu gửi lên quá lớn (tối đa {limit // 1000} KB).")
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit:
        raise too_big
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise too_big
        chunks.append(chunk)
    return b"".join(chunks)


async def read_json(request: Request) -> dict:
    """The body as a JSON object, or a 400/413/422 with a Vietnamese message."""
    raw = await read_body(request)
    if not raw.strip():
        raise HTTPException(400, detail="Thiếu dữ liệu JSON trong yêu cầu.")
    try:
        data = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        raise HTTPException(400, detail="Dữ liệu gửi lên không phải JSON hợp lệ.") from None
    if not isinstance(data, dict):
        raise HTTPException(422, detail="Dữ liệu JSON phải là một đối tượng {…}.")
    return data


_ERR_VI = {
    "missing": "Thiếu trường “{f}”.",
    "string_type": "Trường “{f}” phải là chuỗi ký tự.",
    "string_too_long": "Trường “{f}” quá dài (tối đa {max_length} ký tự).",
    "string_too_short": "Trường “{f}” không được để trống.",
    "string_pattern_mismatch": "Trường “{f}” không đúng định dạng.",
    "list_type": "Trường “{f}” phải là danh sách.",
    "too_long": "Trường “{f}” có quá nhiều phần tử.",
    "extra_forbidden": "Trường “{f}” không được hỗ trợ.",
}


def parse_model(model: type[BaseModel], data: dict) -> Any:
    """Validate `data` into `model`; errors become one Vietnamese 422 detail."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        msgs = []
        for err in exc.errors():
            f = ".".join(str(p) for p in err["loc"]) or "dữ liệu"
            tmpl = _ERR_VI.get(err["type"], "Trường “{f}” không hợp lệ.")
            msgs.append(tmpl.format(f=f, **(err.get("ctx") or {})))
        raise HTTPException(422, detail=" ".join(dict.fromkeys(msgs))) from None


def http_error(exc: PaknError) -> HTTPException:
    """Map a pipeline error to an HTTP error with its Vietnamese message."""
    return HTTPException(ERROR_STATUS.get(type(exc), 400), detail=str(exc))


def require_staff(request: Request, authorization: str | None = Header(None)) -> str | None:
    """Who calls the staff API: None for the province-wide `STAFF_API_TOKEN` (every office), or the
    office id of an office credential (`python -m bot admin create-api-client --scope office`),
    which may act only on that office's petitions. Compared in constant time."""
    scheme, _, token = (authorization or "").partition(" ")
    token = token.strip()
    if scheme.lower() == "bearer" and token.startswith("hc_"):
        client = api_client(request, scope=SCOPE_OFFICE)
        return client.office_id
    expected = get_settings().staff_api_token.get_secret_value().encode()
    if scheme.lower() != "bearer" or not token or not hmac.compare_digest(token.encode(), expected):
        raise HTTPException(401, detail="Cần mã truy cập của cán bộ hợp lệ (Authorization: Bearer …).",
                            headers={"WWW-Authenticate": "Bearer"})
    return None


# ---------------------------------------------------------------- views


def iso(dt: datetime | None) -> str | None:
    """ISO 8601 in Vietnam time (what citizens and offices read)."""
    return dt.astimezone(VN_TZ).isoformat() if dt else None


def ack_view(record, cluster: dict | None = None) -> dict:
    """The acknowledgement returned by POST (also on an idempotent repeat); `cluster` when the
    petition joined an open case (`cluster_view`)."""
    view = {"code": record.code, "category": record.category, "category_name": record.category_name,
            "office": {"id": record.office_id, "name": record.office_name}, "status": record.status,
            "due_at": iso(record.due_at), "needs_human": record.needs_human, "notice": record.notice,
            "triage_pending": record.triage_pending}
    if cluster:
        view["cluster"] = cluster
    return view


def cluster_view(session, record) -> dict | None:
    """For a report linked to an open case: that case's code, how many reported it and the
    sentence the citizen reads — nothing of the other citizens (pakn.clusters)."""
    from pakn import clusters

    case = clusters.shared(session, record)
    if case is record:
        return None
    return {"primary_code": case.code, "reports": clusters.cluster_size(session, case.id),
            "message": clusters.intake_notice(session, record)}


def public_view(record) -> dict:
    """Status, routing, history and replies — no content, contact or location.

    For a complaint or denunciation even the office's words stay out (they may restate what was
    denounced, and by whom): the view says that an answer exists, and the answer itself reaches
    the citizen on the channel they wrote from.
    """
    from pakn.privacy import redact_public as redact
    from pakn.published import answer_is_public
    from pakn.service import STATUS_VI

    private = not answer_is_public(record)  # the one rule of every public view (pakn.published)
    # Staff notes on transitions are internal (who wrote, what was checked); only a refusal's reason
    # is addressed to the citizen, and it is the one note shown.
    history = [{"kind": e.kind, "from_status": e.from_status, "to_status": e.to_status,
                "status_name": STATUS_VI.get(e.to_status or "", None), "at": iso(e.at),
                "note": redact(e.note) if e.to_status == "rejected" and e.note and not private else None}
               for e in record.events if e.kind != "reply"]
    replies = [{"office_id": e.actor, "text": None if private else redact(e.note), "at": iso(e.at)}
               for e in record.events if e.kind == "reply"]
    return {"code": record.code, "status": record.status, "status_name": STATUS_VI.get(record.status),
            "category": record.category, "category_name": record.category_name,
            "office": {"id": record.office_id, "name": record.office_name},
            "created_at": iso(record.created_at), "updated_at": iso(record.updated_at),
            "due_at": iso(record.due_at), "triage_pending": record.triage_pending,
            "is_complaint_or_denunciation": record.is_complaint,
            "notice": record.notice, "history": history, "replies": replies}


# ---------------------------------------------------------------- bodies


class SubmitBody(BaseModel):
    content: str = Field(..., max_length=20_000)  # the 5,000-char rule is checked by the service
    location: str | None = Field(None, max_length=2000)
    contact: str | dict | None = None
    channel: str = Field("api", max_length=32)
    channel_user_id: str | None = Field(None, max_length=128)
    external_id: str | None = Field(None, max_length=200)
    media: list | None = Field(None, max_length=20)


class ClassifyBody(BaseModel):
    content: str = Field(..., max_length=20_000)
    location: str | None = Field(None, max_length=2000)


class ReplyBody(BaseModel):
    office_id: str = Field(..., min_length=1, max_length=80)
    text: str = Field(..., max_length=20_000)


class TransitionBody(BaseModel):
    to_status: str = Field(..., min_length=1, max_length=16)
    actor: str = Field(..., min_length=1, max_length=120)
    note: str | None = Field(None, max_length=20_000)
    office_id: str | None = Field(None, max_length=80)


# ---------------------------------------------------------------- endpoints


def submitter_key(client: ApiClient, user: str | None, contact: str | dict | None) -> str | None:
    """Whom the per-user limit counts a petition against: the verified user; else, for a keyed
    integration, the integration; else (the local client, no user) the contact it gives; None for
    an anonymous petition without a contact, which only the per-address limit counts."""
    if user:
        return user
    if client.id != LOCAL_CLIENT.id:
        return f"client:{client.id}"
    raw = json.dumps(contact, ensure_ascii=False, sort_keys=True) if isinstance(contact, dict) else str(contact or "")
    digits = re.sub(r"\D", "", raw)
    label = digits[-9:] if len(digits) >= 9 else fold_label(raw)[:80]
    return f"contact:{label}" if label else None


def _submit_sync(body: SubmitBody, idempotency_key: str | None, channel_user_id: str | None,
                 triage: Triage) -> tuple[dict, bool]:
    from db import session_scope
    from pakn.service import prepare_submission, store_submission

    # Triage happens before the write transaction, so the SQLite write gate is held for the
    # inserts and the commit only.
    prepared = prepare_submission(content=body.content, location=body.location, contact=body.contact,
                                  channel=body.channel, channel_user_id=channel_user_id,
                                  external_id=body.external_id, idempotency_key=idempotency_key,
                                  media=body.media, defer_semantic=True, triage=triage)
    with session_scope(write=True) as session:
        res = store_submission(session, prepared)
        return ack_view(res.record, cluster_view(session, res.record)), res.created


IDEMPOTENCY_HEADER = {"name": "Idempotency-Key", "in": "header", "required": False,
                      "schema": {"type": "string", "maxLength": 200},
                      "description": "a client-chosen key: a repeat with the same key returns the same petition"}


# The Idempotency-Key header is read from the request rather than declared as a `Header()`
# parameter: FastAPI's per-request dependency solving cost a tenth of this route's CPU time.
@router.post("", status_code=201, openapi_extra={"parameters": [IDEMPOTENCY_HEADER], "requestBody": {
    "required": True, "content": {"application/json": {"schema": SubmitBody.model_json_schema()}}}})
async def submit_pakn(request: Request, services: ServicesDep) -> JSONResponse:
    """Submit a petition: 201 with its tracking code, or 200 with the same body on a repeat."""
    idempotency_key = request.headers.get("idempotency-key")
    body = parse_model(SubmitBody, await read_json(request))
    body.channel = check_rest_channel(body.channel, allowed=("api",))
    client = api_client(request)
    # The submitter's label lives in the calling client's namespace (api.identity), so a client can
    # neither file "as" a Zalo user (whom a staff reply would then message) nor list another's petitions.
    user = namespaced_user(client, body.channel_user_id) if body.channel_user_id else None
    if submitter := submitter_key(client, user, body.contact):
        await enforce_user_limit(request, "pakn", submitter)
    # Repeat keys are per client too: another client's Idempotency-Key or external_id must not
    # return that client's petition (its tracking code).
    if idempotency_key:
        idempotency_key = f"{client.id}:{idempotency_key.strip()}"
    if body.external_id and body.external_id.strip():
        body.external_id = f"{client.id}:{body.external_id.strip()}"
    try:
        view, created = await db_call(_submit_sync, body, idempotency_key, user, services.triage)
    except PaknError as exc:
        raise http_error(exc) from None
    return JSONResponse(view, status_code=201 if created else 200)


@router.post("/classify", openapi_extra={"requestBody": {"required": True, "content": {
    "application/json": {"schema": ClassifyBody.model_json_schema()}}}})
async def classify_pakn(request: Request, services: ServicesDep) -> dict:
    """Classify and route a petition without storing anything (used by the grader and the web form)."""
    from pakn import service

    body = parse_model(ClassifyBody, await read_json(request))
    content = (body.content or "").strip()
    if not content:
        raise HTTPException(422, detail="Nội dung phản ánh không được để trống.")
    if len(content) > service.MAX_CONTENT_CHARS:
        raise HTTPException(422, detail=f"Nội dung phản ánh quá dài; tối đa {service.MAX_CONTENT_CHARS} ký tự.")
    t = await run_in_threadpool(services.triage, content, (body.location or "").strip() or None)
    return {"category": t.category, "category_name": t.category_name,
            "office": {"id": t.office_id, "name": t.office_name}, "confidence": t.confidence,
            "needs_human": t.needs_human, "is_complaint_or_denunciation": t.is_complaint_or_denunciation,
            "notice": t.notice, "due_at": iso(t.due_at), "explanation": t.explanation}


def _get_sync(code: str) -> dict | None:
    from db import session_scope
    from pakn import clusters
    from pakn.service import get_by_code

    with session_scope() as session:
        record = get_by_code(session, code)
        if record is None:
            return None
        case = clusters.shared(session, record)
        if case is record:
            return public_view(record)
        # A linked report shows its case's status, office, due date, history and answers under its
        # own code; its own notice (the primary's may speak of the primary's address).
        view = public_view(case)
        view.update(code=record.code, created_at=iso(record.created_at), notice=record.notice,
                    cluster=cluster_view(session, record))
        return view


@router.get("/{code}")
async def get_pakn(code: str) -> dict:
    """Status, office, due date, history and replies of a petition."""
    view = await run_in_threadpool(_get_sync, code[:40])
    if view is None:
        raise HTTPException(404, detail=f"Không tìm thấy phản ánh có mã {code[:40]}.")
    return view


def _staff_sync(fn_name: str, code: str, kwargs: dict, office: str | None) -> dict:
    from db import session_scope
    from pakn import service

    with session_scope() as session:
        if office is not None:
            current = service.get_by_code(session, code)
            if current is None:
                raise PaknNotFoundError(f"Không tìm thấy phản ánh có mã {code[:40]}.")
            if current.office_id != office or kwargs.get("office_id", office) != office:
                raise PaknPermissionError("Khóa API của cơ quan chỉ dùng cho phản ánh của chính cơ quan đó.")
        record = getattr(service, fn_name)(session, code, **kwargs)
        return public_view(record)


@router.post("/{code}/reply", openapi_extra={"requestBody": {"required": True, "content": {
    "application/json": {"schema": ReplyBody.model_json_schema()}}}})
async def reply_pakn(code: str, request: Request, office: str | None = Depends(require_staff)) -> dict:
    """An office answers a petition: status → answered and the citizen is notified by the worker."""
    body = parse_model(ReplyBody, await read_json(request))
    try:
        return await run_in_threadpool(_staff_sync, "add_reply", code, {"office_id": body.office_id,
                                                                        "text": body.text}, office)
    except PaknError as exc:
        raise http_error(exc) from None


@router.post("/{code}/transition", openapi_extra={"requestBody": {"required": True, "content": {
    "application/json": {"schema": TransitionBody.model_json_schema()}}}})
async def transition_pakn(code: str, request: Request, office: str | None = Depends(require_staff)) -> dict:
    """Move a petition along its lifecycle (forwarded, in_progress, closed, transferred, rejected)."""
    body = parse_model(TransitionBody, await read_json(request))
    try:
        return await run_in_threadpool(_staff_sync, "transition", code, {
            "to_status": body.to_status, "actor": body.actor, "note": body.note, "office_id": body.office_id},
            office)
    except PaknError as exc:
        raise http_error(exc) from None
