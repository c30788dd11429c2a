"""Logging of every process: structlog over the standard `logging`, one line per record.

- Every record, ours (`logging.getLogger`) or a library's, leaves through one handler on
  the root logger: JSON lines when the stream is not a terminal (or `LOG_FORMAT=json`),
  readable, coloured lines on a terminal (or `LOG_FORMAT=console`).
- Each line carries `timestamp` (RFC 3339 UTC), `level`, `logger`, `event`, the values
  passed as `extra=`, and the ids bound for the current request or job with
  `structlog.contextvars` (`request_id`).
- A safety net masks secrets that should never have been logged: the values of keys such as
  `password`, `token`, `otp`, `code`, `authorization`, `api_key`, `secret` (at any depth),
  and in any text: bearer credentials, `whsec_`/`sk_`/`rk_` Stripe keys, Google API keys,
  JWTs, passwords in URLs and `password=...`-style pairs. Tracebacks are rendered as plain
  text first, then masked; local variables are never shown.
- The one exception is the `gemini_clone.otp_delivery` logger: with `OTP_DELIVERY=log` its
  line IS the delivery of the code, so it is left as it is. Route or silence that logger
  apart from the rest; never use that mode for real users.
- Chatty libraries are held at a floor (`aiosqlite` at WARNING: at DEBUG it logs every
  statement with its parameters).
"""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import Mapping
from typing import Any, Final, TextIO

import structlog
from structlog.typing import EventDict, Processor, WrappedLogger

from gemini_clone.adapters.security.otp import DELIVERY_LOGGER
from gemini_clone.entrypoints.settings import Settings, SettingsError

MASK: Final = "****"

_SECRET_KEYS: Final = frozenset(
    {
        "otp",
        "code",
        "password",
        "passwd",
        "token",
        "authorization",
        "proxy_authorization",
        "cookie",
        "set_cookie",
        "api_key",
        "apikey",
        "x_api_key",
        "x_goog_api_key",
        "secret",
        "stripe_signature",
    }
)
_SECRET_KEY_SUFFIXES: Final = ("_password", "_token", "_secret", "_api_key", "_secret_key", "_otp")

# Each alternative captures the part to keep in a group of its own; the rest is masked.
_SECRET_TEXT: Final = re.compile(
    r"\b((?i:bearer)\s+)[A-Za-z0-9._~+/=-]{8,}"
    r"|\b(whsec_)[A-Za-z0-9+/=_]+"
    r"|\b([sr]k_(?:live_|test_)?)[A-Za-z0-9_]{4,}"
    r"|\b(AIza)[0-9A-Za-z_-]{20,}"
    r"|\b(eyJ)[A-Za-z0-9_-]*\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*"
    r"|(://[^:/\s@]*:)[^@\s/]+(?=@)"
    r"|\b((?i:[a-z_]*(?:password|passwd|secret|api_key|apikey|token)|authorization)"
    r"[\"']?\s*[:=]\s*[\"']?)(?:(?i:bearer)\s+)?[^\s\"'&,;)]+"
    r"|\b((?i:[a-z_]*otp|code)[\"']?\s*[:=]\s*[\"']?)\d{4,10}\b"
)

# What every record has, plus what formatters add (`message`, `asctime`): not extras.
_RECORD_ATTRIBUTES: Final = frozenset(
    {*logging.LogRecord("", 0, "", 0, "", (), None).__dict__, "message", "asctime"}
)

# Cheap to look for (in lower case), and in every text that `_SECRET_TEXT` matches.
_SECRET_HINTS: Final = (
    "bearer",
    "whsec_",
    "k_",
    "aiza",
    "eyj",
    "://",
    "pass",
    "secret",
    "key",
    "token",
    "authorization",
    "otp",
    "code",
)
_OWN_KEYS: Final = frozenset({"timestamp", "level", "logger"})
"""Values the pipeline itself writes: nothing to mask there."""

_LIBRARY_FLOORS: Final[Mapping[str, int]] = {
    "aiosqlite": logging.WARNING,
    "hpack": logging.INFO,
}


def configure_logging(settings: Settings, *, stream: TextIO | None = None) -> None:
    """Send every log record of this process to `stream` (standard error by default).

    Calling it again replaces what an earlier call installed.
    """
    stream = sys.stderr if stream is None else stream
    level = _level(settings.log_level)
    as_json = settings.log_format == "json" or (
        settings.log_format == "auto" and not _is_terminal(stream)
    )
    renderer: Processor = (
        structlog.processors.JSONRenderer()
        if as_json
        else structlog.dev.ConsoleRenderer(colors=_is_terminal(stream), sort_keys=False)
    )
    shared: list[Processor] = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]
    handler = _Handler(stream)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=[*shared, add_extra],
            processors=[
                structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                structlog.processors.format_exc_info,
                redact_secrets,
                renderer,
            ],
        )
    )
    root = logging.getLogger()
    for old in [h for h in root.handlers if isinstance(h, _Handler)]:
        root.removeHandler(old)
        old.close()
    root.addHandler(handler)
    root.setLevel(level)
    for name, floor in _LIBRARY_FLOORS.items():
        logging.getLogger(name).setLevel(max(level, floor))
    logging.captureWarnings(True)
    structlog.configure(
        processors=[
            structlog.stdlib.filter_by_level,
            *shared,
            structlog.stdlib.PositionalArgumentsFormatter(),
            structlog.stdlib.ProcessorFormatter.wrap_for_formatter,
        ],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )


def add_extra(_logger: WrappedLogger, _method: str, event_dict: EventDict) -> EventDict:
    """structlog processor: the values a standard record got through `extra=`."""
    record = event_dict.get("_record")
    if record is not None:
        for key, value in record.__dict__.items():
            if key not in _RECORD_ATTRIBUTES:
                event_dict.setdefault(key, value)
    return event_dict


def redact_secrets(_logger: WrappedLogger, _method: str, event_dict: EventDict) -> EventDict:
    """structlog processor: mask secret values and secret-looking text (see the module)."""
    if event_dict.get("logger") == DELIVERY_LOGGER:
        return event_dict
    for key, value in event_dict.items():
        if key not in _OWN_KEYS:
            event_dict[key] = _masked(key, value)
    return event_dict


def _masked(key: object, value: Any) -> Any:
    if value is None:
        return None
    if isinstance(key, str) and _is_secret_key(key):
        return MASK
    if isinstance(value, bool | int | float):
        return value
    if isinstance(value, Mapping):
        return {k: _masked(k, v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_masked(None, v) for v in value]
    # Any other object is shown as its text, which is masked like any text.
    text = value if isinstance(value, str) else str(value)
    lowered = text.lower()
    if any(hint in lowered for hint in _SECRET_HINTS):
        return _SECRET_TEXT.sub(_keep_prefix, text)
    return text


def _is_secret_key(key: str) -> bool:
    name = key.lower().replace("-", "_")
    return name in _SECRET_KEYS or name.endswith(_SECRET_KEY_SUFFIXES)


def _keep_prefix(match: re.Match[str]) -> str:
    index = match.lastindex
    return (match.group(index) if index else "") + MASK


def _level(name: str) -> int:
    level = logging.getLevelNamesMapping().get(name.strip().upper())
    if level is None:
        raise SettingsError(
            f"Invalid setting: LOG_LEVEL must be DEBUG, INFO, WARNING, ERROR or CRITICAL, "
            f"not {name!r}."
        )
    return level


def _is_terminal(stream: TextIO) -> bool:
    isatty = getattr(stream, "isatty", None)
    return bool(isatty and isatty())


class _Handler(logging.StreamHandler[TextIO]):
    """The handler `configure_logging` installs (so that a second call can replace it)."""


__all__ = ["MASK", "add_extra", "configure_logging", "redact_secrets"]
