"""API client credentials: integrations that call the chat or PAKN routes, and offices that call the staff API.

Why a table and not one shared token in the environment: a credential names who is calling.
A chat integration's users live in that client's own namespace (`<client>:<user>`), so one client
can never read another's conversations or petitions; an office's credential can answer and move
only the petitions of that office, so a leaked key exposes one office, not the province; and a key
is revoked by one row, without redeploying.

A key is shown once, at creation: `hc_<client id>_<secret>`. The table keeps the SHA-256 of the
secret (a 256-bit random value needs no slow hash; a leaked table gives out no working key).
"""
from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import threading
import time
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import String, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from db import Base
from db.types import UTCDateTime, utcnow

SCOPE_CHAT = "chat"      # chat and petition intake on behalf of the integration's own users
SCOPE_OFFICE = "office"  # the staff API (reply, transition) for one office's petitions
SCOPES = (SCOPE_CHAT, SCOPE_OFFICE)
RESERVED_IDS = frozenset({"local", "web", "api", "zalo", "telegram", "open311", "cli", "admin", "system"})
CLIENT_ID_RE = re.compile(r"^[a-z0-9][a-z0-9-]{1,39}$")
KEY_RE = re.compile(r"^hc_([a-z0-9][a-z0-9-]{1,39})_([A-Za-z0-9_-]{20,100})$")


class ApiClientRow(Base):
    """One credential. Revoked rows are kept (who had access, until when)."""

    __tablename__ = "api_clients"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    scope: Mapped[str] = mapped_column(String(16))
    office_id: Mapped[str | None] = mapped_column(String(80))
    key_sha256: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


@dataclass(frozen=True)
class ApiClient:
    """A verified caller."""

    id: str
    scope: str
    office_id: str | None = None


class ClientError(ValueError):
    """A credential could not be created; `str(exc)` is Vietnamese."""


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def create_client(db: Session, *, client_id: str, name: str, scope: str = SCOPE_CHAT,
                  office_id: str | None = None) -> str:
    """Store a new credential and return its key (the only time it is visible)."""
    if not CLIENT_ID_RE.match(client_id or ""):
        raise ClientError("Mã ứng dụng chỉ gồm chữ thường, số và dấu gạch ngang (2–40 ký tự).")
    if client_id in RESERVED_IDS:  # "local" is the keyless development client's namespace
        raise ClientError(f"Mã ứng dụng “{client_id}” được dành riêng; hãy chọn mã khác.")
    if scope not in SCOPES:
        raise ClientError(f"Phạm vi phải là một trong: {', '.join(SCOPES)}.")
    if scope == SCOPE_OFFICE and not office_id:
        raise ClientError("Khóa của cơ quan cần mã cơ quan (--office).")
    if db.get(ApiClientRow, client_id) is not None:
        raise ClientError(f"Mã ứng dụng {client_id} đã tồn tại.")
    secret = secrets.token_urlsafe(32)
    db.add(ApiClientRow(id=client_id, name=name.strip()[:200] or client_id, scope=scope, office_id=office_id,
                        key_sha256=_digest(secret)))
    return f"hc_{client_id}_{secret}"


def revoke_client(db: Session, client_id: str) -> bool:
    row = db.get(ApiClientRow, client_id)
    if row is None or row.revoked_at is not None:
        return False
    row.revoked_at = utcnow()
    return True


class ClientRegistry:
    """Verifies keys against the table, remembering a verified key for a short while.

    The memory is per instance (the app keeps one on `app.state`), and a revoked key stops
    working within `ttl_s` seconds in every process.
    """

    def __init__(self, session_factory: Callable[[], AbstractContextManager[Session]], ttl_s: float = 30.0) -> None:
        self._session_factory = session_factory
        self._ttl_s = ttl_s
        self._seen: dict[str, tuple[float, ApiClient | None]] = {}
        self._lock = threading.Lock()

    def verify(self, key: str | None) -> ApiClient | None:
        """The client a well-formed, current key belongs to; None otherwise."""
        m = KEY_RE.match((key or "").strip())
        if not m:
            return None
        digest = _digest(m[2])
        now = time.monotonic()
        with self._lock:
            hit = self._seen.get(digest)
        if hit and now - hit[0] < self._ttl_s:
            return hit[1]
        with self._session_factory() as db:
            row = db.scalars(select(ApiClientRow).where(ApiClientRow.id == m[1])).first()
            ok = row is not None and row.revoked_at is None and hmac.compare_digest(row.key_sha256, digest)
            client = ApiClient(row.id, row.scope, row.office_id) if ok and row else None
        with self._lock:
            if len(self._seen) > 10_000:
                self._seen.clear()
            self._seen[digest] = (now, client)
        return client
