"""Accounts, passwords, sessions and the login rate limit of the staff console.

Why these choices:

* **argon2id** (argon2-cffi's defaults) for passwords, re-hashed on login when the parameters
  change, and a dummy verification for unknown e-mails so response time does not reveal which
  accounts exist.
* **Server-side sessions.** The cookie carries `token.signature`; the signature (HMAC-SHA256 with
  a key derived from SECRET_KEY) rejects forged cookies without touching the database, the table
  stores only SHA-256(token), and deleting the row (logout, account disabled) ends the session.
* **Rate limit in the database**, not in process memory, so several API workers share it: too many
  failures for one e-mail or from one address within the window → 429, even with the right
  password, until the window passes.
"""
from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session
from zxcvbn import zxcvbn

from api import signing
from console.models import (
    CATALOGUE_ROLES,
    ROLE_ADMIN,
    ROLE_STAFF,
    ROLES,
    ConsoleSession,
    ConsoleUser,
    LoginAttempt,
)
from pakn.models import utcnow
from settings import get_settings

SESSION_COOKIE = "console_session"
PRELOGIN_COOKIE = "console_prelogin"
MIN_PASSWORD_CHARS = 10
MIN_PASSWORD_SCORE = 3  # zxcvbn: 3 = "safely unguessable: moderate protection from offline slow-hash attacks"
EMAIL_RE = re.compile(r"^[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)*$")

_hasher = PasswordHasher()
_DUMMY_HASH = _hasher.hash("not-a-real-password-just-for-timing")


class AuthError(Exception):
    """A login or account operation failed; `str(exc)` is Vietnamese and safe to show."""

    def __init__(self, message: str, *, status: int = 422) -> None:
        super().__init__(message)
        self.message, self.status = message, status

    def __str__(self) -> str:
        return self.message


@dataclass(frozen=True)
class Principal:
    """Who is making a console request (what the routes need; no ORM object crosses the request)."""

    user_id: int
    email: str
    display_name: str | None
    role: str
    office_id: str | None
    session_id: str
    csrf_token: str

    @property
    def is_admin(self) -> bool:
        return self.role == ROLE_ADMIN

    @property
    def can_edit_catalogue(self) -> bool:
        """May upload, approve, publish and reject imports of the procedure catalogue."""
        return self.role in CATALOGUE_ROLES

    @property
    def actor(self) -> str:
        """How this user appears in PAKN history (pakn_events.actor, max 120 chars)."""
        return f"console:{self.email}"[:120]

    def can_see_office(self, office_id: str | None) -> bool:
        """Admins see everything; staff only petitions routed to their own office."""
        return self.is_admin or (office_id is not None and office_id == self.office_id)


# ---------------------------------------------------------------- passwords


def hash_password(password: str) -> str:
    """An argon2id hash of `password`."""
    return _hasher.hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    """Whether `password` matches; never raises on a malformed hash."""
    try:
        return _hasher.verify(password_hash, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def check_password_policy(password: str, user_inputs: tuple[str, ...] = ()) -> None:
    """Refuse passwords that resist guessing poorly: too short, or — by zxcvbn's estimate, which
    knows repeats ("aaaaaaaaaa"), sequences, keyboard patterns and common passwords — weaker than
    "safely unguessable" (score 3 of 4). `user_inputs` (the e-mail, the name) count as known words."""
    if len(password or "") < MIN_PASSWORD_CHARS:
        raise AuthError(f"Mật khẩu phải có ít nhất {MIN_PASSWORD_CHARS} ký tự.")
    if zxcvbn(password[:100], user_inputs=[u for u in user_inputs if u])["score"] < MIN_PASSWORD_SCORE:
        raise AuthError("Mật khẩu quá dễ đoán (lặp ký tự, dãy số, từ thông dụng hoặc trùng email). "
                        "Hãy dùng một cụm nhiều từ hoặc trộn chữ hoa, chữ thường, số và ký hiệu.")


# ---------------------------------------------------------------- signed cookie values


def sign(token: str, purpose: str = "session") -> str:
    """`token.signature` for a console cookie (see `api.signing`)."""
    return signing.sign(token, purpose)


def unsign(value: str | None, purpose: str = "session") -> str | None:
    """The token of a console cookie value whose signature is valid, else None."""
    return signing.unsign(value, purpose)


def _session_id(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


# ---------------------------------------------------------------- accounts


def normalise_email(email: str) -> str:
    return (email or "").strip().lower()


def office_exists(office_id: str) -> bool:
    """Whether the office directory knows `office_id` (accounts must name a real office)."""
    from knowledge.offices import load_offices

    return load_offices().get(office_id) is not None


def create_user(db: Session, *, email: str, password: str, role: str = ROLE_STAFF, office_id: str | None = None,
                display_name: str | None = None) -> ConsoleUser:
    """Create an account; staff must belong to an office from the directory."""
    email = normalise_email(email)
    if not EMAIL_RE.match(email) or len(email) > 200:
        raise AuthError("Địa chỉ email không hợp lệ.")
    if role not in ROLES:
        raise AuthError("Vai trò phải là “admin”, “staff” hoặc “editor”.")
    office_id = (office_id or "").strip() or None
    if role != ROLE_ADMIN and not office_id:
        raise AuthError("Tài khoản cán bộ phải thuộc một cơ quan.")
    if office_id and not office_exists(office_id):
        raise AuthError(f"Không tìm thấy cơ quan “{office_id}” trong danh bạ cơ quan.")
    check_password_policy(password, (email, display_name or ""))
    if db.scalar(select(ConsoleUser.id).where(ConsoleUser.email == email)) is not None:
        raise AuthError("Email này đã có tài khoản.", status=409)
    now = utcnow()
    user = ConsoleUser(email=email, password_hash=hash_password(password), role=role, office_id=office_id,
                       display_name=(display_name or "").strip()[:120] or None, is_active=True,
                       created_at=now, updated_at=now)
    db.add(user)
    db.flush()
    return user


def set_active(db: Session, user_id: int, active: bool) -> ConsoleUser:
    """Enable or disable an account; disabling ends all its sessions at once."""
    user = db.get(ConsoleUser, user_id)
    if user is None:
        raise AuthError("Không tìm thấy tài khoản.", status=404)
    user.is_active = active
    user.updated_at = utcnow()
    if not active:
        db.execute(delete(ConsoleSession).where(ConsoleSession.user_id == user_id))
    db.flush()
    return user


def set_password(db: Session, user_id: int, password: str) -> None:
    """Replace a password and end the user's other sessions."""
    user = db.get(ConsoleUser, user_id)
    if user is None:
        raise AuthError("Không tìm thấy tài khoản.", status=404)
    check_password_policy(password, (user.email, user.display_name or ""))
    user.password_hash = hash_password(password)
    db.execute(delete(ConsoleSession).where(ConsoleSession.user_id == user_id))
    db.flush()


# ---------------------------------------------------------------- login and sessions


def _failures(db: Session, since: datetime, **match: str) -> int:
    conds = [getattr(LoginAttempt, column) == value for column, value in match.items()]
    return db.scalar(select(func.count()).select_from(LoginAttempt).where(
        *conds, LoginAttempt.success.is_(False), LoginAttempt.at >= since)) or 0


def authenticate(db: Session, email: str, password: str, ip: str, now: datetime | None = None) -> ConsoleUser:
    """The active user with these credentials, or AuthError (401 wrong, 429 rate-limited).

    Every attempt is recorded; the limit is checked before the password so a locked-out attacker
    learns nothing, and a correct password during a lockout is refused too.

    The lockout is a deliberate trade-off between guessing and denial of service. Counting failures
    per e-mail alone let anyone lock any officer out for the window with five wrong passwords. So:
    five failures lock that e-mail *from that address* only (the officer at the office's own
    address is locked out only by guesses made from there); `console_login_max_failures_ip` caps
    one address across accounts; and `console_login_max_failures_account` caps one account across
    all addresses, which stops a distributed guess at a rate no password policy worries about
    (with zxcvbn score ≥ 3 a password needs ~10^8 guesses), while an attacker needs that many
    addresses' worth of attempts to lock an officer out.
    """
    s = get_settings()
    now = now or utcnow()
    email = normalise_email(email)[:200]
    ip = (ip or "unknown")[:64]
    since = now - timedelta(seconds=s.console_login_window_s)
    if (_failures(db, since, email=email, ip=ip) >= s.console_login_max_failures
            or _failures(db, since, ip=ip) >= s.console_login_max_failures_ip
            or _failures(db, since, email=email) >= s.console_login_max_failures_account):
        db.add(LoginAttempt(email=email, ip=ip, success=False, at=now))
        raise AuthError("Đăng nhập sai quá nhiều lần. Vui lòng thử lại sau "
                        f"{max(1, s.console_login_window_s // 60)} phút.", status=429)
    user = db.scalars(select(ConsoleUser).where(ConsoleUser.email == email)).first()
    ok = verify_password(user.password_hash if user else _DUMMY_HASH, password or "")
    if not ok or user is None or not user.is_active:
        db.add(LoginAttempt(email=email, ip=ip, success=False, at=now))
        raise AuthError("Email hoặc mật khẩu không đúng, hoặc tài khoản đã bị khóa.", status=401)
    if _hasher.check_needs_rehash(user.password_hash):
        user.password_hash = hash_password(password)
    user.last_login_at = now
    db.add(LoginAttempt(email=email, ip=ip, success=True, at=now))
    return user


def create_session(db: Session, user: ConsoleUser, now: datetime | None = None) -> str:
    """Open a session for `user`; returns the cookie value (signed token)."""
    now = now or utcnow()
    token = secrets.token_urlsafe(32)
    hours = get_settings().console_session_hours
    db.execute(delete(ConsoleSession).where(ConsoleSession.expires_at < now))  # housekeeping
    db.add(ConsoleSession(id=_session_id(token), user_id=user.id, csrf_token=secrets.token_urlsafe(32),
                          created_at=now, last_seen_at=now, expires_at=now + timedelta(hours=hours)))
    db.flush()
    return sign(token)


def load_principal(db: Session, cookie_value: str | None, now: datetime | None = None) -> Principal | None:
    """The principal of a valid, unexpired session of an active user, else None."""
    token = unsign(cookie_value)
    if token is None:
        return None
    now = now or utcnow()
    row = db.get(ConsoleSession, _session_id(token))
    if row is None or row.expires_at <= now or not row.user.is_active:
        return None
    if (now - row.last_seen_at).total_seconds() > 60:  # avoid a write on every request
        row.last_seen_at = now
    u = row.user
    return Principal(user_id=u.id, email=u.email, display_name=u.display_name, role=u.role,
                     office_id=u.office_id, session_id=row.id, csrf_token=row.csrf_token)


def end_session(db: Session, cookie_value: str | None) -> None:
    """Log out: delete the session row (the cookie becomes worthless)."""
    token = unsign(cookie_value)
    if token is not None:
        db.execute(delete(ConsoleSession).where(ConsoleSession.id == _session_id(token)))


__all__ = [
    "PRELOGIN_COOKIE",
    "SESSION_COOKIE",
    "AuthError",
    "Principal",
    "authenticate",
    "create_session",
    "create_user",
    "end_session",
    "hash_password",
    "load_principal",
    "normalise_email",
    "office_exists",
    "set_active",
    "set_password",
    "sign",
    "unsign",
    "verify_password",
]
