"""Structured logs: one JSON object per line on stderr, with personal data masked.

Why masking happens in the log-record factory and not only in a handler filter: a filter on one
handler protects that handler's output only, while every other handler (pytest's caplog, a
handler a library adds, Sentry's breadcrumbs) would still see the raw message. Wrapping the
record factory masks `msg` and `args` once, when the record is created, for every consumer.
The JSON formatter masks the finished line again (extras, exception text), so nothing bypasses it.

The masking itself is `pakn.service.redact` (phone numbers 0xxxxxxxxx / +84…, CCCD/CMND numbers,
e-mail addresses) — the same helper Open311 uses for public descriptions, not a second copy.
"""
from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime
from typing import Any
from urllib.parse import unquote

HANDLER_NAME = "trolyhc-json"
# LogRecord attributes that are not "extra" fields.
_STANDARD = frozenset(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message", "asctime",
                                                                                 "taskName"}


def mask(text: str) -> str:
    """`text` with phone numbers, CCCD/CMND numbers and e-mail addresses replaced."""
    from pakn.service import redact

    return redact(text) or text


def _mask_arg(arg: Any) -> Any:
    """Numbers and other plain values pass through; anything whose text carries personal data
    becomes its masked text (so `%d` with a 12-digit CCCD is masked, too)."""
    if isinstance(arg, bool) or arg is None:
        return arg
    if isinstance(arg, (int, float)):
        text = str(arg)
        masked = mask(text)
        return arg if masked == text else masked
    text = arg if isinstance(arg, str) else _safe_str(arg)
    masked = mask(text)
    return arg if masked == text and not isinstance(arg, str) else masked


def _safe_str(obj: Any) -> str:
    try:
        return str(obj)
    except Exception:  # noqa: BLE001 - a broken __str__ must not break logging
        return f"<{type(obj).__name__}>"


def _access_path_without_query(record: logging.LogRecord) -> bool:
    """An access-log line keeps the path, percent-decoded so masking sees "0912 345 678" in
    "/0912%20345%20678", and drops the query string: Open311 accepts a petition's fields there
    (name, phone, address), and a search box's words are nobody's business either."""
    args = record.args
    if not (isinstance(args, tuple) and len(args) >= 3 and isinstance(args[2], str)):
        return False
    path, _, query = args[2].partition("?")
    record.args = (*args[:2], mask(unquote(path)) + ("?…" if query else ""), *args[3:])
    return True


def mask_record(record: logging.LogRecord) -> logging.LogRecord:
    """Mask a record's message and arguments in place (idempotent)."""
    if getattr(record, "_pii_masked", False):
        return record
    if record.name == "uvicorn.access" and _access_path_without_query(record):
        record._pii_masked = True  # the client address, method and status are not personal data
        return record
    args = record.args
    try:
        if isinstance(args, dict):
            record.args = {k: _mask_arg(v) for k, v in args.items()}
        elif isinstance(args, tuple) and args:
            masked = tuple(_mask_arg(a) for a in args)
            # A masked number is now text: "%d" would fail, so render the message here.
            if any(type(a) is not type(b) for a, b in zip(args, masked)):
                try:
                    record.msg, record.args = mask(str(record.msg) % args), ()
                except (TypeError, ValueError):
                    record.args = masked
            else:
                record.args = masked
        if isinstance(record.msg, str):
            record.msg = mask(record.msg)
        elif record.msg is not None and not isinstance(record.msg, (int, float)):
            text = _safe_str(record.msg)
            if mask(text) != text:
                record.msg = mask(text)
    except Exception:  # noqa: BLE001 - never lose a log line to the masking itself
        record.msg, record.args = "[log message withheld: masking failed]", ()
    record._pii_masked = True
    return record


class PiiMaskFilter(logging.Filter):
    """Handler filter: masks records that were created before the factory was installed."""

    def filter(self, record: logging.LogRecord) -> bool:
        mask_record(record)
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per line: ts, level, logger, message, extras, exception."""

    def format(self, record: logging.LogRecord) -> str:
        mask_record(record)
        out: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key, value in vars(record).items():
            if key not in _STANDARD and not key.startswith("_"):
                out[key] = value if isinstance(value, (int, float, bool)) or value is None else _safe_str(value)
        if record.exc_info:
            out["exc_info"] = self.formatException(record.exc_info)
        if record.stack_info:
            out["stack_info"] = self.formatStack(record.stack_info)
        return mask(json.dumps(out, ensure_ascii=False, default=_safe_str))


def _install_record_factory() -> None:
    current = logging.getLogRecordFactory()
    if getattr(current, "_pii_masking", False):
        return

    def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
        return mask_record(current(*args, **kwargs))

    factory._pii_masking = True  # type: ignore[attr-defined]
    logging.setLogRecordFactory(factory)


def setup_logging(settings: Any | None = None, *, stream: Any = None) -> logging.Handler:
    """Install masking and (once) the JSON handler on the root logger; returns that handler.

    Called from `create_app`; calling it again replaces our handler, never anyone else's
    (pytest's capture handlers stay). uvicorn's loggers are routed through the root logger so
    access and error lines are JSON too.
    """
    if settings is None:
        from settings import get_settings

        settings = get_settings()
    _install_record_factory()
    root = logging.getLogger()
    for h in list(root.handlers):
        if h.get_name() == HANDLER_NAME:
            root.removeHandler(h)
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.set_name(HANDLER_NAME)
    handler.addFilter(PiiMaskFilter())
    if settings.log_json:
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s %(message)s"))
    root.addHandler(handler)
    root.setLevel(getattr(logging, str(settings.log_level).upper(), logging.INFO))
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        lg = logging.getLogger(name)
        lg.handlers.clear()
        lg.propagate = True
    return handler


def json_handler() -> logging.Handler | None:
    """The handler `setup_logging` installed on the root logger, if any."""
    return next((h for h in logging.getLogger().handlers if h.get_name() == HANDLER_NAME), None)
