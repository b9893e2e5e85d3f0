"""HMAC-signed cookie values, one key per purpose, derived from `SECRET_KEY`.

Why one module: the console session cookie and the web chat's identity cookie are both
"a random token the server issued, signed so that a forged or edited value is refused before any
lookup". Deriving a key per purpose means a value signed for one cookie is never valid as another.
"""
from __future__ import annotations

import hashlib
import hmac

from settings import get_settings


def _key(purpose: str) -> bytes:
    secret = get_settings().secret_key.get_secret_value().encode()
    return hmac.new(secret, f"console:{purpose}".encode(), hashlib.sha256).digest()


def sign(token: str, purpose: str) -> str:
    """`token.signature` for a cookie."""
    sig = hmac.new(_key(purpose), token.encode(), hashlib.sha256).hexdigest()
    return f"{token}.{sig}"


def unsign(value: str | None, purpose: str) -> str | None:
    """The token of a cookie value whose signature is valid, else None."""
    if not value or "." not in value:
        return None
    token, _, sig = value.rpartition(".")
    expected = hmac.new(_key(purpose), token.encode(), hashlib.sha256).hexdigest()
    return token if token and hmac.compare_digest(expected, sig) else None
