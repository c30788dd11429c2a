"""The one place where errors become HTTP responses: RFC 9457 problem details.

Every error body is `application/problem+json` with `type`, `title`, `status`, `detail` and
a stable machine `code`; validation failures add `errors: [{field, message}]`.

    domain error                   status  extra
    InvalidInput                   422     errors
    AuthenticationFailed           401     WWW-Authenticate: Bearer
    Forbidden                      403
    NotFound                       404
    Conflict                       409
    TooLarge                       413
    UnsupportedMediaType           415
    TooManyRequests                429     Retry-After
      QuotaExceeded                429     limit, used, resets_at; X-RateLimit-*; counted
    PaymentError                   400
    Unavailable                    503     Retry-After: 1
    Litestar's validation          422     `validation_error`, errors
    malformed JSON body            400     `malformed_json`
    unknown route / method         404 `not_found` / 405 `method_not_allowed`
    client gone before its body    499     `client_closed_request`, logged at DEBUG
    anything else                  500     `internal_error`, logged with its traceback

499 is nginx's "client closed request": no client ever receives it (the server drops a
response to a closed connection), but the access line and the metrics record it, so a
client that hangs up mid-upload is neither an error line nor a 5xx to operators.

Bodies never carry stack traces, driver messages or the request's content.
"""

from __future__ import annotations

import logging
import re
from http import HTTPStatus
from typing import Any, Final

import msgspec
from litestar import Request, Response
from litestar.exceptions import (
    HTTPException,
    InternalServerException,
    SerializationException,
    ValidationException,
)
from litestar.openapi.datastructures import ResponseSpec

from gemini_clone.domain.errors import (
    AuthenticationFailed,
    Conflict,
    Forbidden,
    GeminiCloneError,
    InvalidInput,
    NotFound,
    PaymentError,
    QuotaExceeded,
    TooLarge,
    TooManyRequests,
    Unavailable,
    UnsupportedMediaType,
)
from gemini_clone.entrypoints.http.observability import client_disconnected
from gemini_clone.entrypoints.http.schemas import PROBLEM_MEDIA_TYPE, FieldProblem, Problem
from gemini_clone.entrypoints.metrics import quota_refused

logger = logging.getLogger("gemini_clone.http")

_DOMAIN_STATUS: dict[type[GeminiCloneError], int] = {
    InvalidInput: 422,
    AuthenticationFailed: 401,
    Forbidden: 403,
    NotFound: 404,
    Conflict: 409,
    TooLarge: 413,
    UnsupportedMediaType: 415,
    TooManyRequests: 429,
    PaymentError: 400,
    Unavailable: 503,
}

_HTTP_CODES: dict[int, tuple[str, str]] = {
    400: ("bad_request", "The request could not be read."),
    401: ("unauthorized", "Authentication is required."),
    403: ("forbidden", "This is not allowed."),
    404: ("not_found", "Nothing is at this address."),
    405: ("method_not_allowed", "This method is not allowed at this address."),
    413: ("request_too_large", "The request body is too large."),
    415: ("unsupported_media_type", "This content type is not accepted here."),
    429: ("rate_limited", "Too many requests; slow down."),
}

_INTERNAL = ("internal_error", "Something went wrong on our side; it has been logged.")

CLIENT_CLOSED_REQUEST: Final = 499

UNAVAILABLE_RETRY_AFTER_SECONDS: Final = 1
"""`Retry-After` of every 503: a database or Redis that restarts is back within seconds,
and the pools reconnect on the next request (docs/faults.md)."""
"""nginx's status for a request whose client closed the connection before the answer."""
_UNOFFICIAL_PHRASES: Final = {CLIENT_CLOSED_REQUEST: "Client Closed Request"}

_NAMED_FIELD = re.compile(r"(?:unknown|missing required) field `([^`]+)`")


def problem_response(request: Request[Any, Any, Any], exc: Exception) -> Response[bytes]:
    """Litestar's exception handler for every exception the app lets out."""
    if isinstance(exc, GeminiCloneError):
        return _domain_problem(request, exc)
    if isinstance(exc, ValidationException):
        return _validation_problem(exc)
    if isinstance(exc, HTTPException) and exc.status_code < 500:
        return _http_problem(exc)
    if _client_left_mid_body(request, exc):
        return _client_closed_problem(request)
    return _internal_problem(request, exc)


def problem(
    status: int,
    code: str,
    detail: str,
    *,
    errors: list[FieldProblem] | msgspec.UnsetType = msgspec.UNSET,
    headers: dict[str, str] | None = None,
    **extra: Any,
) -> Response[bytes]:
    body = Problem.of(
        status, code, detail, title=_UNOFFICIAL_PHRASES.get(status), errors=errors, **extra
    )
    return Response(
        content=msgspec.json.encode(body),
        status_code=status,
        media_type=PROBLEM_MEDIA_TYPE,
        headers=headers,
    )


def _domain_problem(request: Request[Any, Any, Any], exc: GeminiCloneError) -> Response[bytes]:
    status = next((_DOMAIN_STATUS[c] for c in type(exc).__mro__ if c in _DOMAIN_STATUS), None)
    if status is None:
        return _internal_problem(request, exc)
    if isinstance(exc, InvalidInput):
        errors = [FieldProblem(field=e.field, message=e.message) for e in exc.errors]
        return problem(status, exc.code, exc.message, errors=errors or msgspec.UNSET)
    if isinstance(exc, AuthenticationFailed):
        challenge = 'Bearer error="invalid_token"' if exc.code == "invalid_token" else "Bearer"
        return problem(status, exc.code, exc.message, headers={"WWW-Authenticate": challenge})
    if isinstance(exc, QuotaExceeded):
        quota_refused()
        headers = {
            "Retry-After": str(exc.retry_after),
            "X-RateLimit-Limit": str(exc.limit),
            "X-RateLimit-Remaining": "0",
            "X-RateLimit-Reset": str(int(exc.resets_at.timestamp())),
        }
        return problem(
            status,
            exc.code,
            exc.message,
            headers=headers,
            limit=exc.limit,
            used=exc.used,
            resets_at=exc.resets_at,
        )
    if isinstance(exc, TooManyRequests):
        return problem(status, exc.code, exc.message, headers={"Retry-After": str(exc.retry_after)})
    if isinstance(exc, Unavailable):
        logger.warning("answered 503 %s: %s", exc.code, exc.message)
        retry = {"Retry-After": str(UNAVAILABLE_RETRY_AFTER_SECONDS)}
        return problem(status, exc.code, exc.message, headers=retry)
    return problem(status, exc.code, exc.message)


def _validation_problem(exc: ValidationException) -> Response[bytes]:
    extra = exc.extra if isinstance(exc.extra, list) else []
    errors = [_field_problem(item) for item in extra if isinstance(item, dict)]
    detail = "The request is not valid: " + "; ".join(f"{e.field}: {e.message}" for e in errors)
    return problem(422, "validation_error", detail, errors=errors)


def _field_problem(item: dict[str, Any]) -> FieldProblem:
    key = str(item.get("key") or "body")
    message = str(item.get("message") or "Not valid.")
    if item.get("source") == "body" and key == "data":
        if message == "'data'":
            return FieldProblem(field="body", message="A JSON object body is required.")
        # msgspec names the whole body; an unknown or missing field is named in the message.
        named = _NAMED_FIELD.search(message)
        return FieldProblem(field=named.group(1) if named else "body", message=message)
    return FieldProblem(field=key, message=message)


def _http_problem(exc: HTTPException) -> Response[bytes]:
    status = exc.status_code
    if status == 400 and isinstance(exc.__cause__, SerializationException):
        return problem(400, "malformed_json", "The body is not valid JSON.")
    code, detail = _HTTP_CODES.get(status, ("http_error", HTTPStatus(status).phrase))
    headers = dict(exc.headers or {})  # `Allow` of a 405, say
    if status == 429:
        headers.setdefault("Retry-After", "1")
    return problem(status, code, detail, headers=headers)


def _client_left_mid_body(request: Request[Any, Any, Any], exc: Exception) -> bool:
    """Litestar raises `InternalServerException` when reading the body of a request whose
    server has handed out `http.disconnect`; it is the client's doing only when that
    disconnect did happen (any other exception, even then, is still ours)."""
    return isinstance(exc, InternalServerException) and client_disconnected(request)


def _client_closed_problem(request: Request[Any, Any, Any]) -> Response[bytes]:
    logger.debug(
        "client closed the connection before sending its body on %s %s",
        request.method,
        request.scope["path"],
    )
    return problem(
        CLIENT_CLOSED_REQUEST,
        "client_closed_request",
        "The connection was closed before the whole body arrived.",
    )


def _internal_problem(request: Request[Any, Any, Any], exc: Exception) -> Response[bytes]:
    logger.error("unhandled error on %s %s", request.method, request.scope["path"], exc_info=exc)
    code, detail = _INTERNAL
    return problem(500, code, detail)


_STATUS_DESCRIPTIONS: dict[int, str] = {
    400: "The body is not valid JSON (`malformed_json`) or the request cannot be read.",
    401: "No valid access token (`missing_token`, `invalid_token`).",
    403: "Not allowed on the user's plan.",
    404: "Not found, or owned by another user (`not_found`).",
    409: "Conflicts with the current state.",
    422: "A field is not valid (`validation_error`, with `errors`).",
    429: "Too many requests; see `Retry-After`.",
    500: "An error on our side (`internal_error`); it is logged.",
    503: "A dependency is unavailable (`service_unavailable`); retry later.",
}


def problems(*statuses: int, codes: dict[int, str] | None = None) -> dict[int, ResponseSpec]:
    """The documented error responses of a route, as problem details: 400 and 500, which
    any route may answer, `statuses`, and `codes` (status to a description of its codes)."""
    descriptions = {**_STATUS_DESCRIPTIONS, **(codes or {})}
    wanted = {400, 500, *statuses, *(codes or {})}
    return {
        status: ResponseSpec(
            data_container=Problem,
            description=descriptions.get(status, HTTPStatus(status).phrase),
            media_type=PROBLEM_MEDIA_TYPE,
            generate_examples=False,
        )
        for status in sorted(wanted)
    }
