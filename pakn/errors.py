"""Errors of the PAKN pipeline, each carrying a message a citizen or an officer can read.

Why a small hierarchy: the REST layer, Open311 and the chat flow all map the same failures to
their own answers (HTTP 422/404/409, an Open311 error list, a chat reply), so they catch by class
and show `str(exc)`, which is always Vietnamese and never contains personal data.
"""
from __future__ import annotations


class PaknError(Exception):
    """Base class; `str(exc)` is a user-facing Vietnamese message."""

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field

    def __str__(self) -> str:
        return self.message


class PaknValidationError(PaknError):
    """The submission cannot be accepted as written (empty, too long, bad contact, unknown place)."""


class PaknNotFoundError(PaknError):
    """No petition has that tracking code."""


class PaknTransitionError(PaknError):
    """The requested status change is not allowed from the current status."""


class PaknConflictError(PaknError):
    """An idempotency key was reused for a different petition."""


class PaknPermissionError(PaknError):
    """An office tried to act on a petition it is not responsible for."""


class DeliveryError(Exception):
    """A delivery attempt failed; the outbox retries it. The message must not contain personal data."""

    def __init__(self, message: str, *, permanent: bool = False) -> None:
        super().__init__(message)
        self.permanent = permanent


class DeliveryDeferred(DeliveryError):
    """The channel cannot reach the person now and retrying will not change that (Zalo: outside the
    interaction window, over the quota); the outbox keeps the job `waiting` until they write again."""


__all__ = [
    "DeliveryDeferred",
    "DeliveryError",
    "PaknConflictError",
    "PaknError",
    "PaknNotFoundError",
    "PaknPermissionError",
    "PaknTransitionError",
    "PaknValidationError",
]
