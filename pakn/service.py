"""PAKN intake and lifecycle: submit (validate → triage → store + outbox), look up, reply, transition.

Why this shape:

* **Transactional outbox.** `submit` writes the petition, its 'received' event and the
  `deliver_office` job in the caller's transaction; the worker delivers later. Either all three
  exist or none does, whatever crashes.
* **Idempotent intake.** Channels redeliver (Zalo and Telegram retry webhooks, mobile clients
  retry POSTs). The same `(channel, external_id)` or `idempotency_key` returns the stored
  petition; two racing inserts are settled by the unique constraints — the loser's
  `INSERT … ON CONFLICT DO NOTHING` inserts nothing and it re-reads the winner's row.
* **Explicit lifecycle.** `TRANSITIONS` is the whole state machine; anything else raises
  `PaknTransitionError` with a Vietnamese message, so staff tools can show it as is.

Nothing here logs content or contact data: only tracking codes, ids and categories.
"""
from __future__ import annotations

import hashlib
import json
import logging
import re
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session, make_transient_to_detached

from db import table_of
from pakn import clusters
from pakn.errors import (
    PaknConflictError,
    PaknNotFoundError,
    PaknPermissionError,
    PaknTransitionError,
    PaknValidationError,
)
from pakn.models import (
    ANSWERED,
    CITIZEN_REPLY,
    CLASSIFY,
    CLOSED,
    DELIVER_OFFICE,
    FORWARDED,
    IN_PROGRESS,
    RECEIVED,
    REJECTED,
    TRANSFERRED,
    OutboxJob,
    PaknEvent,
    PaknRecord,
    utcnow,
)
from pakn.privacy import redact

log = logging.getLogger(__name__)

MAX_CONTENT_CHARS = 5000
MAX_CONTACT_CHARS = 300
MAX_LOCATION_CHARS = 500
MAX_MEDIA_ITEMS = 20

STATUS_VI: dict[str, str] = {
    RECEIVED: "Đã tiếp nhận",
    FORWARDED: "Đã chuyển đến cơ quan xử lý",
    IN_PROGRESS: "Đang xử lý",
    ANSWERED: "Đã có trả lời",
    CLOSED: "Đã đóng",
    TRANSFERRED: "Đã chuyển cơ quan khác",
    REJECTED: "Không thụ lý",
}

# The whole lifecycle. 'answered' is reached only through add_reply (a reply needs its text);
# 'answered' → 'in_progress' reopens a petition the citizen is not satisfied with.
TRANSITIONS: dict[str, frozenset[str]] = {
    RECEIVED: frozenset({FORWARDED, IN_PROGRESS, TRANSFERRED, REJECTED}),
    FORWARDED: frozenset({IN_PROGRESS, TRANSFERRED, REJECTED}),
    IN_PROGRESS: frozenset({TRANSFERRED, REJECTED}),
    ANSWERED: frozenset({CLOSED, IN_PROGRESS}),
    TRANSFERRED: frozenset({FORWARDED, IN_PROGRESS, TRANSFERRED, REJECTED}),
    REJECTED: frozenset(),
    CLOSED: frozenset(),
}
REPLYABLE = frozenset({RECEIVED, FORWARDED, IN_PROGRESS, ANSWERED, TRANSFERRED})
NEEDS_REASON = frozenset({TRANSFERRED, REJECTED})

# Crockford base32 without I, L, O, U: readable over the phone, no 0/O or 1/I confusion.
CODE_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
# New codes: PA-<yymm>-XXXXX-XXXXX (50 random bits); codes issued before 12/2026 have one group of 5.
CODE_RE = re.compile(r"^PA[-\s]?(\d{4})[-\s]?([0-9A-Z]{5})(?:[-\s]?([0-9A-Z]{5}))?$|^PA-?(\d{4})-?([0-9A-Z]{4,6})$")
CODE_GROUPS = 2
CHANNEL_RE = re.compile(r"^[a-z0-9_-]{1,32}$")
EMAIL_RE = re.compile(r"^[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}$")
EMAIL_CANDIDATE = re.compile(r"[^\s,;<>()]+@[^\s,;<>()]*")
PHONE_CANDIDATE = re.compile(r"\+?\d[\d .\-()]{6,}\d")
# A CCCD (12 digits) or CMND (9 digits) number, with or without its label: an identity number,
# never a phone number, and not something a contact needs (it is dropped from the contact).
ID_NUMBER = re.compile(r"(\b(cccd|cmnd|căn cước|can cuoc|cmt|số định danh|so dinh danh)\s*:?\s*)?\b(\d{12}|\d{9})\b",
                       re.IGNORECASE)
# Labels people type in front of what they give ("sdt", "đt", "email", "tên").
CONTACT_LABELS = re.compile(r"\b(so dien thoai|dien thoai|sdt|sđt|dt|đt|email|e-mail|mail|ten|tên|ho ten|họ tên|"
                            r"lien he|liên hệ|zalo)\b\s*:?", re.IGNORECASE)
MIN_CONTENT_LETTERS = 10  # "😡😡😡" or "123" is not a description of anything
# Vietnamese mobile (03/05/07/08/09 + 8 digits) and landline (02x + 8 digits) numbers.
PHONE_RE = re.compile(r"^(0[35789]\d{8}|02\d{9})$")
COORDS_RE = re.compile(r"^\s*(-?\d{1,2}(?:\.\d+)?)\s*,\s*(-?\d{1,3}(?:\.\d+)?)\s*$")


@dataclass(frozen=True)
class SubmitResult:
    """A stored petition and whether this call created it (False: an idempotent repeat)."""

    record: PaknRecord
    created: bool


def run_triage(content: str, location: str | None, *, semantic: bool = True) -> Any:
    """Triage through `pakn.triage` (imported lazily: it loads the classifier on first use).

    The default of intake's `triage=` parameter; the running process passes its own
    (`runtime.services.Services.triage`), and tests of pipeline mechanics a deterministic fake.
    """
    from pakn.triage import triage

    return triage(content, location, semantic=semantic)


# ---------------------------------------------------------------- validation helpers


def normalise_code(code: str) -> str | None:
    """'pa2612 7kq3m 4xw2p' / 'PA-2612-7KQ3M-4XW2P' → 'PA-2612-7KQ3M-4XW2P' (and old one-group codes
    'pa24117kq3m' → 'PA-2411-7KQ3M'); None when it cannot be a tracking code."""
    m = CODE_RE.match(re.sub(r"[\u2010-\u2015]", "-", (code or "").strip().upper()))
    if not m:
        return None
    if m[1]:
        return f"PA-{m[1]}-{m[2]}" + (f"-{m[3]}" if m[3] else "")
    return f"PA-{m[4]}-{m[5]}"


def new_code(now: datetime | None = None) -> str:
    """A fresh tracking code: PA-<yymm>-XXXXX-XXXXX, ten random base32 characters (50 bits).

    Why this long: a code lets anyone look up a petition's status, so it must not be guessable.
    With 2^50 codes a month and lookups limited per address (`LOOKUP_RATE_LIMIT_PER_MINUTE`),
    finding one petition by guessing would take millions of years; the public view shows no
    content anyway (`api.routes.pakn.public_view`). Two groups of five read well over the phone.
    """
    now = now or utcnow()
    groups = ("".join(secrets.choice(CODE_ALPHABET) for _ in range(5)) for _ in range(CODE_GROUPS))
    return f"PA-{now:%y%m}-" + "-".join(groups)


def normalise_phone(raw: str) -> str | None:
    """Digits of a Vietnamese phone number in national form (+84… → 0…), or None if invalid."""
    digits = re.sub(r"\D", "", raw)
    if raw.strip().startswith("+84") or (digits.startswith("84") and len(digits) in (11, 12)):
        digits = "0" + digits[2:]
    return digits if PHONE_RE.match(digits) else None


def parse_contact(contact: str | dict | None) -> dict | None:
    """Normalise a contact (free text or {phone,email,name}) into {"phone","email","name"}.

    Free text is what chat users type ("0912 345 678", "an@gmail.com, 0912345678", "Chị Lan
    0903…"). Anything that looks like an e-mail or a phone number must be valid, and at least one
    of them must be present: a contact the office cannot use is worse than none.
    """
    if contact is None:
        return None
    if isinstance(contact, dict):
        phone = str(contact.get("phone") or "").strip()
        email = str(contact.get("email") or "").strip()
        name = str(contact.get("name") or "").strip()
        if not (phone or email or name):
            return None
        text = " ".join(x for x in (name, phone, email) if x)
    else:
        text = str(contact).strip()
        if not text:
            return None
        phone = email = name = ""
    if len(text) > MAX_CONTACT_CHARS:
        raise PaknValidationError("Thông tin liên hệ quá dài (tối đa 300 ký tự).", field="contact")
    out: dict[str, str] = {}
    emails = [email] if email else EMAIL_CANDIDATE.findall(text)
    for e in emails:
        if not EMAIL_RE.match(e.strip(".")):
            raise PaknValidationError("Địa chỉ email không hợp lệ. Vui lòng kiểm tra lại (ví dụ: ten@gmail.com).",
                                      field="contact")
    if emails:
        out["email"] = emails[0].strip(".").lower()
    rest = text
    for e in emails:
        rest = rest.replace(e, " ")
    rest = ID_NUMBER.sub(" ", rest)
    phones = [phone] if phone else PHONE_CANDIDATE.findall(rest)
    if not phones and re.search(r"\d{3,}", rest):
        phones = re.findall(r"\+?\d+", rest)
    for p in phones:
        normalised = normalise_phone(p)
        if normalised is None:
            raise PaknValidationError("Số điện thoại không hợp lệ. Vui lòng nhập số điện thoại Việt Nam gồm 10 chữ số "
                                      "(ví dụ: 0912345678).", field="contact")
        out.setdefault("phone", normalised)
    for p in phones:
        rest = rest.replace(p, " ")
    leftover = re.sub(r"[\s,;:]+", " ", CONTACT_LABELS.sub(" ", name or rest)).strip(" -/")
    if leftover and len(leftover) <= 100:
        out["name"] = leftover
    if "phone" not in out and "email" not in out:
        raise PaknValidationError("Thông tin liên hệ cần có số điện thoại hoặc email hợp lệ để cơ quan phản hồi.",
                                  field="contact")
    return out


def parse_coordinates(location: str | None) -> tuple[float, float] | None:
    """'10.77,106.70' → (lat, lon) when the location is a map pin inside Việt Nam's bounding box."""
    m = COORDS_RE.match(location or "")
    if not m:
        return None
    lat, lon = float(m[1]), float(m[2])
    if not (8.0 <= lat <= 24.0 and 102.0 <= lon <= 118.0):
        raise PaknValidationError("Vị trí bản đồ nằm ngoài lãnh thổ Việt Nam. Vui lòng kiểm tra lại.", field="location")
    return lat, lon


def check_location(location: str) -> None:
    """Refuse a typed location that names no ward or province we know (a map pin always passes),
    so that chat can ask again at that step instead of failing at the end."""
    if len(location) > MAX_LOCATION_CHARS:
        raise PaknValidationError("Địa điểm quá dài (tối đa 500 ký tự).", field="location")
    if parse_coordinates(location) is None and not _locality_known(location):
        raise PaknValidationError(
            "Không xác định được địa bàn trong địa điểm đã nhập. Vui lòng ghi rõ xã/phường và tỉnh/thành phố "
            "(ví dụ: “phường Tân Ninh, tỉnh Tây Ninh”).", field="location")


def validate_content(content: str | None) -> str:
    """The petition text, stripped, or PaknValidationError (empty, too long, no words)."""
    return _validate_content(content)


def _locality_known(location: str) -> bool:
    """Whether the location field names a ward or province `pakn.localities` recognises."""
    from pakn.localities import recognise

    return recognise(location, whole=True) is not None


def _validate_content(content: str | None) -> str:
    text = (content or "").strip()
    if not text:
        raise PaknValidationError("Nội dung phản ánh không được để trống.", field="content")
    if len(text) > MAX_CONTENT_CHARS:
        raise PaknValidationError(f"Nội dung phản ánh quá dài ({len(text)} ký tự); tối đa {MAX_CONTENT_CHARS} ký tự.",
                                  field="content")
    if len(re.findall(r"[^\W\d_]", text)) < MIN_CONTENT_LETTERS:
        raise PaknValidationError("Nội dung phản ánh cần mô tả sự việc bằng chữ (sự việc gì, ở đâu, từ khi nào).",
                                  field="content")
    return text


def _fingerprint(content: str, location: str | None, channel: str) -> str:
    blob = json.dumps([content, location or "", channel], ensure_ascii=False)
    return hashlib.sha256(blob.encode()).hexdigest()


def _find_existing(session: Session, channel: str, external_id: str | None,
                   idempotency_key: str | None) -> PaknRecord | None:
    """The petition already stored under this external id or idempotency key, if any (asked only
    after an insert met a conflict)."""
    conds: list[Any] = []
    if external_id:
        conds.append((PaknRecord.channel == channel) & (PaknRecord.external_id == external_id))
    if idempotency_key:
        conds.append(PaknRecord.idempotency_key == idempotency_key)
    if not conds:
        return None
    return session.scalars(select(PaknRecord).where(or_(*conds)).limit(1)).first()


def _check_repeat(existing: PaknRecord, fingerprint: str, idempotency_key: str | None) -> None:
    # Same key, different petition: a client bug; answering with the other petition would mislead.
    if idempotency_key and existing.idempotency_key == idempotency_key and existing.fingerprint != fingerprint:
        raise PaknConflictError("Khóa Idempotency-Key này đã được dùng cho một phản ánh khác.", field="idempotency_key")


# ---------------------------------------------------------------- intake


def submit(session: Session, *, content: str, location: str | None, contact: str | dict | None, channel: str,
           channel_user_id: str | None = None, external_id: str | None = None,
           idempotency_key: str | None = None, media: list | None = None,
           requested_category: str | None = None, coordinates: tuple[float, float] | None = None,
           defer_semantic: bool = False, triage: Callable[..., Any] | None = None) -> PaknRecord:
    """Validate, triage and store a petition with its delivery job; idempotent. See `submit_result`."""
    return submit_result(session, content=content, location=location, contact=contact, channel=channel,
                         channel_user_id=channel_user_id, external_id=external_id,
                         idempotency_key=idempotency_key, media=media,
                         requested_category=requested_category, coordinates=coordinates,
                         defer_semantic=defer_semantic, triage=triage).record


def submit_result(session: Session, *, content: str, location: str | None, contact: str | dict | None,
                  channel: str, channel_user_id: str | None = None, external_id: str | None = None,
                  idempotency_key: str | None = None, media: list | None = None,
                  requested_category: str | None = None,
                  coordinates: tuple[float, float] | None = None,
                  defer_semantic: bool = False, triage: Callable[..., Any] | None = None) -> SubmitResult:
    """Validate, triage and store a petition in the caller's transaction (`prepare_submission` then
    `store_submission`); the caller commits (e.g. `session_scope`)."""
    prepared = prepare_submission(content=content, location=location, contact=contact, channel=channel,
                                  channel_user_id=channel_user_id, external_id=external_id,
                                  idempotency_key=idempotency_key, media=media,
                                  requested_category=requested_category, coordinates=coordinates,
                                  defer_semantic=defer_semantic, triage=triage)
    return store_submission(session, prepared)


@dataclass(frozen=True)
class PreparedSubmission:
    """A validated, triaged petition ready to be stored: the row's values and how to find a repeat."""

    values: dict[str, Any]
    pending: bool  # stored provisionally; a classify job instead of the delivery job


def prepare_submission(*, content: str, location: str | None, contact: str | dict | None, channel: str,
                       channel_user_id: str | None = None, external_id: str | None = None,
                       idempotency_key: str | None = None, media: list | None = None,
                       requested_category: str | None = None,
                       coordinates: tuple[float, float] | None = None,
                       defer_semantic: bool = False,
                       triage: Callable[..., Any] | None = None) -> PreparedSubmission:
    """Validate and triage a petition; no database work, so intake can do it before taking the
    SQLite write gate (see `db.engine.WriteGate`).

    `coordinates` is a map pin sent apart from the address (Open311 lat/long).
    `defer_semantic=True` (the high-volume API paths) never waits for the embedding model: a
    petition the lexical classifier is unsure of is stored provisionally (`triage_pending`, triage
    desk) with a `classify` job instead of the delivery job; the worker classifies it, re-routes it
    and then enqueues the delivery. Interactive chat keeps the default and tells the citizen the
    office at once. `triage` is the running process's (`runtime.services`); default `run_triage`.
    """
    content = _validate_content(content)
    channel = (channel or "").strip().lower()
    if not CHANNEL_RE.match(channel):
        raise PaknValidationError("Kênh gửi không hợp lệ.", field="channel")
    location = (location or "").strip() or None
    if location and len(location) > MAX_LOCATION_CHARS:
        raise PaknValidationError("Địa điểm quá dài (tối đa 500 ký tự).", field="location")
    external_id = (external_id or "").strip()[:200] or None
    idempotency_key = (idempotency_key or "").strip() or None
    if idempotency_key and len(idempotency_key) > 200:
        raise PaknValidationError("Idempotency-Key quá dài (tối đa 200 ký tự).", field="idempotency_key")
    if media is not None and (not isinstance(media, list) or len(media) > MAX_MEDIA_ITEMS):
        raise PaknValidationError("Tệp đính kèm không hợp lệ (tối đa 20 tệp).", field="media")
    contact_data = parse_contact(contact)
    coords = parse_coordinates(location)
    if coordinates is not None:
        coords = parse_coordinates(f"{coordinates[0]},{coordinates[1]}")
    if location:
        check_location(location)
    t = (triage or run_triage)(content, location, semantic=not defer_semantic)
    pending = bool(getattr(t, "deferred", False))
    now = utcnow()
    values = dict(  # noqa: C408 - keyword form reads as the record's columns
        content=content, location=location, locality=t.locality, ward_code=(t.locality or {}).get("ward_code"),
        latitude=coords[0] if coords else None, longitude=coords[1] if coords else None,
        contact=contact_data, channel=channel, channel_user_id=channel_user_id, external_id=external_id,
        idempotency_key=idempotency_key, fingerprint=_fingerprint(content, location, channel),
        requested_category=requested_category,
        category=t.category, category_name=getattr(t, "category_name", None), confidence=float(t.confidence),
        needs_human=bool(t.needs_human), office_id=t.office_id, office_name=t.office_name, status=RECEIVED,
        due_at=t.due_at, explanation=t.explanation, is_complaint=bool(t.is_complaint_or_denunciation),
        notice=t.notice, media=media or None, triage_pending=pending, created_at=now, updated_at=now,
    )
    return PreparedSubmission(values=values, pending=pending)


def store_submission(session: Session, prepared: PreparedSubmission) -> SubmitResult:
    """Store a petition, its 'received' event and its delivery (or classify) job in the caller's
    transaction; the stored petition (created=False) when its `(channel, external_id)` or
    `idempotency_key` was seen before.

    INSERT … ON CONFLICT DO NOTHING decides what is new, with no read first: nearly every
    submission is, and the transaction stays usable on both backends (pysqlite's implicit
    transactions make SAVEPOINT-only transactions commit on RELEASE). PostgreSQL makes a racing
    insert of the same key wait for the other to commit, so the re-read sees the winner.
    """
    values = dict(prepared.values)
    channel, external_id = values["channel"], values["external_id"]
    idempotency_key, now = values["idempotency_key"], values["created_at"]
    # The same problem at the same place as an open case: this report joins it (pakn.clusters).
    primary = None
    if not prepared.pending and clusters.enabled():
        primary = clusters.find_open_case(session, clusters.report_of_values(values))
    values["primary_id"] = primary.id if primary is not None else None
    for _attempt in range(5):
        code = new_code(now)
        new_id = session.connection().execute(_insert_ignore(session), {"code": code, **values}).scalar()
        if new_id is None:
            existing = _find_existing(session, channel, external_id, idempotency_key)
            if existing is not None:  # a repeat, or lost a race against the same submission
                _check_repeat(existing, values["fingerprint"], idempotency_key)
                log.info("pakn repeat submission", extra={"pakn_code": existing.code, "channel": channel})
                return SubmitResult(existing, False)
            continue  # tracking-code collision: draw another code
        record = _attach_inserted(session, PaknRecord(id=new_id, code=code, **values))
        conn = session.connection()
        conn.execute(table_of(PaknEvent).insert(), {
            "record_id": new_id, "kind": "received", "from_status": None, "to_status": RECEIVED,
            "actor": f"channel:{channel}", "note": None, "at": now})
        if primary is not None:  # the office has the case already: no delivery of its own
            conn.execute(table_of(PaknEvent).insert(), clusters.linked_events(new_id, code, primary, now))
        else:
            job = _classify_job_values(record, now) if prepared.pending else _delivery_job_values(record, 1, now)
            conn.execute(table_of(OutboxJob).insert(), job)
        log.info("pakn received", extra={"pakn_code": record.code, "category": record.category,
                                         "office_id": record.office_id, "channel": channel,
                                         "primary_code": primary.code if primary is not None else None})
        return SubmitResult(record, True)
    raise RuntimeError("could not allocate a unique PAKN code")  # pragma: no cover - 5 collisions in a row


_INSERT_IGNORE: dict[str, Any] = {}


def _insert_ignore(session: Session) -> Any:
    """`INSERT INTO pakn_records … ON CONFLICT DO NOTHING RETURNING id` for the session's backend.

    A Core statement built once and executed with a parameter dict, so SQLAlchemy's compiled
    cache applies (an ORM insert with inline `.values()` recompiles on every call).
    """
    name = session.get_bind().dialect.name
    if name not in _INSERT_IGNORE:
        from sqlalchemy.dialects.postgresql import insert as pg_insert
        from sqlalchemy.dialects.sqlite import insert as sqlite_insert

        table = table_of(PaknRecord)
        stmt = pg_insert(table) if name == "postgresql" else sqlite_insert(table)
        _INSERT_IGNORE[name] = stmt.on_conflict_do_nothing().returning(table.c.id)
    return _INSERT_IGNORE[name]


def _attach_inserted(session: Session, record: PaknRecord) -> PaknRecord:
    """Put a row just inserted with Core into the session as if it had been loaded.

    Saves re-reading the row (and its history) that this transaction has just written; attributes
    not set — the history — load from the database on first access, as for any loaded object.
    """
    make_transient_to_detached(record)
    session.add(record)
    return record


def _job_values(kind: str, record: PaknRecord, payload: dict, dedupe_key: str, now: datetime) -> dict[str, Any]:
    return {"kind": kind, "record_id": record.id, "status": "pending", "attempts": 0, "next_attempt_at": now,
            "payload": payload, "dedupe_key": dedupe_key, "created_at": now, "updated_at": now}


def _delivery_job_values(record: PaknRecord, n: int, now: datetime) -> dict[str, Any]:
    return _job_values(DELIVER_OFFICE, record, {"code": record.code, "office_id": record.office_id},
                       f"{DELIVER_OFFICE}:{record.code}:{record.office_id or '-'}:{n}", now)


def _classify_job_values(record: PaknRecord, now: datetime) -> dict[str, Any]:
    return _job_values(CLASSIFY, record, {"code": record.code}, f"{CLASSIFY}:{record.code}", now)


def _delivery_job(record: PaknRecord, n: int, now: datetime) -> OutboxJob:
    return OutboxJob(**_delivery_job_values(record, n, now))


def apply_classification(session: Session, record: PaknRecord, t: Any, now: datetime) -> bool:
    """Finish a provisional triage (worker, `classify` job): category, office, then the delivery job.

    Returns False and changes nothing when the petition is no longer pending — already applied by
    an earlier run of the job, or a clerk took it in hand (status moved on) in the meantime.
    """
    if not record.triage_pending:
        return False
    record.triage_pending = False
    if record.status != RECEIVED:
        return False
    record.category, record.category_name = t.category, t.category_name
    record.confidence, record.needs_human = float(t.confidence), bool(t.needs_human)
    record.office_id, record.office_name = t.office_id, t.office_name
    record.explanation, record.updated_at = t.explanation, now
    record.events.append(PaknEvent(kind="classified", from_status=RECEIVED, to_status=RECEIVED,
                                   actor="system:classifier", at=now,
                                   note=f"Phân loại: {t.category_name}; chuyển đến {t.office_name}."))
    if clusters.link_after_classification(session, record, now) is None:
        session.add(_delivery_job(record, 1, now))
    log.info("pakn classified", extra={"pakn_code": record.code, "category": record.category,
                                       "office_id": record.office_id})
    return True


# ---------------------------------------------------------------- lookup and lifecycle


def get_by_code(session: Session, code: str) -> PaknRecord | None:
    """The petition with this tracking code (any spelling `normalise_code` accepts), or None."""
    norm = normalise_code(code)
    if norm is None:
        return None
    return session.scalars(select(PaknRecord).where(PaknRecord.code == norm)).first()


def _require(session: Session, code: str, *, lock: bool = True) -> PaknRecord:
    norm = normalise_code(code)
    record = None
    if norm is not None:
        stmt = select(PaknRecord).where(PaknRecord.code == norm)
        if lock:
            stmt = stmt.with_for_update()  # serialise staff actions on one petition (PostgreSQL)
        record = session.scalars(stmt).first()
    if record is None:
        raise PaknNotFoundError(f"Không tìm thấy phản ánh có mã {code}.")
    return record


def _change_status(record: PaknRecord, to_status: str, actor: str, note: str | None, now: datetime) -> None:
    record.events.append(PaknEvent(kind="transition", from_status=record.status, to_status=to_status,
                                   actor=actor, note=note, at=now))
    record.status = to_status
    record.updated_at = now


def transition(session: Session, code: str, to_status: str, actor: str, note: str | None = None, *,
               office_id: str | None = None) -> PaknRecord:
    """Move a petition along its lifecycle; 'transferred' needs the new `office_id` and a reason.

    A transfer re-routes the petition and enqueues a delivery to the new office in the same
    transaction; 'rejected' needs a reason the citizen will see.
    """
    actor = (actor or "").strip()[:120]
    if not actor:
        raise PaknValidationError("Thiếu người thực hiện (actor).", field="actor")
    note = (note or "").strip() or None
    if note and len(note) > MAX_CONTENT_CHARS:
        raise PaknValidationError("Ghi chú quá dài (tối đa 5000 ký tự).", field="note")
    if to_status == ANSWERED:
        raise PaknTransitionError("Trạng thái “Đã có trả lời” chỉ đạt được khi cơ quan gửi nội dung trả lời.")
    if to_status not in TRANSITIONS:
        raise PaknTransitionError(f"Trạng thái “{to_status}” không tồn tại.")
    if to_status in NEEDS_REASON and not note:
        raise PaknValidationError(f"Cần ghi rõ lý do khi chuyển sang “{STATUS_VI[to_status]}”.", field="note")
    record = _require(session, code)
    clusters.require_primary(record, "xử lý")
    if to_status not in TRANSITIONS[record.status]:
        raise PaknTransitionError(f"Không thể chuyển phản ánh {record.code} từ “{STATUS_VI[record.status]}” "
                                  f"sang “{STATUS_VI[to_status]}”.")
    now = utcnow()
    if to_status == TRANSFERRED:
        from pakn.delivery import find_office

        if not office_id:
            raise PaknValidationError("Cần chọn cơ quan tiếp nhận khi chuyển phản ánh.", field="office_id")
        if office_id == record.office_id:
            raise PaknValidationError("Cơ quan tiếp nhận mới trùng với cơ quan hiện tại.", field="office_id")
        office = find_office(session, office_id)
        if office is None:
            raise PaknValidationError(f"Không tìm thấy cơ quan “{office_id}”.", field="office_id")
        _change_status(record, TRANSFERRED, actor, note, now)
        record.office_id, record.office_name = office.id, office.name
        n = session.scalar(select(func.count()).select_from(OutboxJob).where(
            OutboxJob.record_id == record.id, OutboxJob.kind == DELIVER_OFFICE)) or 0
        session.add(_delivery_job(record, n + 1, now))
    else:
        _change_status(record, to_status, actor, note, now)
    clusters.follow_primary(session, record, now)
    session.flush()
    log.info("pakn transition", extra={"pakn_code": record.code, "to_status": to_status})
    return record


def add_reply(session: Session, code: str, office_id: str, text: str) -> PaknRecord:
    """Record an office's answer: a 'reply' event, status → answered, and a `citizen_reply` job."""
    text = (text or "").strip()
    if not text:
        raise PaknValidationError("Nội dung trả lời không được để trống.", field="text")
    if len(text) > MAX_CONTENT_CHARS:
        raise PaknValidationError("Nội dung trả lời quá dài (tối đa 5000 ký tự).", field="text")
    record = _require(session, code)
    clusters.require_primary(record, "trả lời")
    if record.office_id and office_id != record.office_id:
        raise PaknPermissionError(f"Cơ quan “{office_id}” không phụ trách phản ánh {record.code}.")
    if record.status not in REPLYABLE:
        raise PaknTransitionError(f"Phản ánh {record.code} đang ở trạng thái “{STATUS_VI[record.status]}”, "
                                  "không thể trả lời.")
    now = utcnow()
    reply = PaknEvent(kind="reply", from_status=record.status, to_status=ANSWERED, actor=office_id, note=text, at=now)
    record.events.append(reply)
    if record.status != ANSWERED:
        _change_status(record, ANSWERED, office_id, None, now)
    session.flush()  # assigns reply.id for the dedupe key
    message = f"Phản ánh {record.code} đã có trả lời của {record.office_name or office_id}:\n{text}"
    session.add(OutboxJob(kind=CITIZEN_REPLY, record_id=record.id, status="pending", attempts=0,
                          next_attempt_at=now, created_at=now, updated_at=now,
                          payload={"code": record.code, "channel": record.channel,
                                   "user_id": record.channel_user_id, "text": message, "reply": text,
                                   "office": record.office_name or office_id, "event_id": reply.id},
                          dedupe_key=f"{CITIZEN_REPLY}:{record.code}:{reply.id}"))
    # Answered once for the cluster: every linked citizen hears it on their own channel.
    linked = clusters.fan_out_reply(session, record, reply, text, record.office_name or office_id, now)
    clusters.follow_primary(session, record, now)
    session.flush()
    log.info("pakn reply", extra={"pakn_code": record.code, "office_id": office_id, "linked": linked})
    return record


def unlink(session: Session, code: str, actor: str) -> PaknRecord:
    """Staff undo a link ("Tách khỏi nhóm"): the report becomes a case of its own again, delivered
    to its own office (see `pakn.clusters.unlink`)."""
    actor = (actor or "").strip()[:120]
    if not actor:
        raise PaknValidationError("Thiếu người thực hiện (actor).", field="actor")
    record = _require(session, code)
    clusters.unlink(session, record, actor, utcnow())
    session.flush()
    return record


def replies(record: PaknRecord) -> list[PaknEvent]:
    """The office replies of a petition, oldest first."""
    return [e for e in record.events if e.kind == "reply"]


__all__ = [
    "MAX_CONTENT_CHARS",
    "STATUS_VI",
    "TRANSITIONS",
    "PreparedSubmission",
    "SubmitResult",
    "add_reply",
    "apply_classification",
    "get_by_code",
    "new_code",
    "normalise_code",
    "parse_contact",
    "parse_coordinates",
    "prepare_submission",
    "redact",
    "replies",
    "store_submission",
    "submit",
    "submit_result",
    "transition",
    "unlink",
]
