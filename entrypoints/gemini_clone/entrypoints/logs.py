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
- Access lines (`log_access`, one per HTTP request) skip the record machinery: every field
  is the app's own (method, route template, status, duration, request id), so the line is
  rendered straight away with no masking pass, kept in memory, and written by a background
  thread at least every 0.1 s, in one write per batch. Any other line writes the waiting
  access lines first, so the output stays in order; `Handler.flush()` (and the exit of the
  process) writes them all. The `gemini_clone.http.access` logger's level still decides
  whether they are written. Should the output fall 100 000 lines behind, further access
  lines are dropped and counted in a warning instead of filling the memory.
"""

from __future__ import annotations

import datetime
import logging
import re
import sys
import threading
from collections import deque
from collections.abc import Callable, Mapping
from typing import Any, Final, TextIO

import msgspec
import structlog
from structlog.typing import EventDict, Processor, WrappedLogger

from gemini_clone.adapters.security.otp import DELIVERY_LOGGER
from gemini_clone.entrypoints.settings import Settings, SettingsError

MASK: Final = "****"
ACCESS_LOGGER: Final = "gemini_clone.http.access"
ACCESS_FLUSH_SECONDS: Final = 0.1
ACCESS_BACKLOG_LIMIT: Final = 100_000

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

_root: Final = logging.getLogger()
_access_logger: Final = logging.getLogger(ACCESS_LOGGER)
_access_sink: _Handler | None = None
"""The handler of the last `configure_logging`: access lines go straight to it."""

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
    handler = _Handler(stream, _render_json if as_json else renderer)
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
    global _access_sink
    root = logging.getLogger()
    for old in [h for h in root.handlers if isinstance(h, _Handler)]:
        root.removeHandler(old)
        old.close()
    root.addHandler(handler)
    _access_sink = handler
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


def log_access(
    level: int, method: str, path: str, status: int, duration_ms: float, request_id: str
) -> None:
    """One access line on `gemini_clone.http.access`: `GET /chatroom 200 0.4 ms`, with each
    value as a field of its own and the request id. Every value must be the app's own (a
    route template, never a path or a query): the line is not masked."""
    if not _access_logger.isEnabledFor(level):
        return
    event = f"{method} {path} {status} {duration_ms:.1f} ms"
    sink = _access_sink
    if sink is None or sink not in _root.handlers:
        # The process's logging is not `configure_logging`'s: a plain record.
        _access_logger.log(
            level,
            event,
            extra={"method": method, "path": path, "status": status, "duration_ms": duration_ms},
        )
        return
    sink.add_access_line(
        {
            "event": event,
            "request_id": request_id,
            "level": logging.getLevelName(level).lower(),
            "logger": ACCESS_LOGGER,
            "timestamp": _now(),
            "method": method,
            "path": path,
            "status": status,
            "duration_ms": duration_ms,
        }
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


def _now() -> str:
    """The time as structlog's `TimeStamper(fmt="iso", utc=True)` writes it."""
    return datetime.datetime.now(datetime.UTC).isoformat().replace("+00:00", "Z")


_json_encoder: Final = msgspec.json.Encoder()


def _render_json(_logger: WrappedLogger, _method: str, event_dict: EventDict) -> str:
    return _json_encoder.encode(event_dict).decode()


class _Handler(logging.StreamHandler[TextIO]):
    """The handler `configure_logging` installs (so that a second call can replace it), and
    the sink of the access lines (see the module)."""

    def __init__(
        self, stream: TextIO, render_access: Callable[[WrappedLogger, str, EventDict], Any]
    ) -> None:
        super().__init__(stream)
        self._render_access = render_access
        self._waiting: deque[str] = deque()
        self._dropped = 0
        self._wake = threading.Event()
        self._closed = False
        self._writer: threading.Thread | None = None

    def add_access_line(self, event_dict: EventDict) -> None:
        if len(self._waiting) >= ACCESS_BACKLOG_LIMIT:
            self._dropped += 1
            return
        self._waiting.append(f"{self._render_access(None, 'info', event_dict)}\n")
        if self._writer is None:
            self._start_writer()

    def emit(self, record: logging.LogRecord) -> None:
        try:
            line = f"{self.format(record)}{self.terminator}"
            self._write(line)
        except RecursionError:
            raise
        except Exception:
            self.handleError(record)

    def flush(self) -> None:
        self.acquire()
        try:
            self._write("")
        finally:
            self.release()

    def close(self) -> None:
        self.flush()
        self._closed = True
        self._wake.set()
        super().close()

    def _start_writer(self) -> None:
        self._writer = threading.Thread(
            target=self._write_periodically, name="access-log-writer", daemon=True
        )
        self._writer.start()

    def _write_periodically(self) -> None:
        while not self._closed:
            self._wake.wait(ACCESS_FLUSH_SECONDS)
            self.flush()
            dropped, self._dropped = self._dropped, 0
            if dropped:
                logging.getLogger(__name__).warning(
                    "%d access lines were dropped: the log output fell %d lines behind",
                    dropped,
                    ACCESS_BACKLOG_LIMIT,
                )

    def _write(self, line: str) -> None:
        """Write the waiting access lines, then `line`; called with the handler's lock held."""
        waiting = self._waiting
        batch = [waiting.popleft() for _ in range(len(waiting))]
        if line:
            batch.append(line)
        if batch and self.stream is not None:
            self.stream.write("".join(batch))
            self.stream.flush()


__all__ = [
    "ACCESS_LOGGER",
    "MASK",
    "add_extra",
    "configure_logging",
    "log_access",
    "redact_secrets",
]
