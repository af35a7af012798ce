"""Domain errors with stable codes, and the one place that turns any error into API.md's JSON shape."""

from __future__ import annotations

import logging
import time
from enum import StrEnum
from typing import Any

from flask import Flask, Response, current_app, jsonify, render_template, request
from flask_wtf.csrf import CSRFError
from limits.errors import StorageError
from redis.exceptions import RedisError
from sqlalchemy.exc import OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError
from werkzeug.exceptions import HTTPException

from lixi.plugins import plugged

log = logging.getLogger(__name__)


class ErrorCode(StrEnum):
    INVALID_REQUEST = "invalid_request"
    UNAUTHORIZED = "unauthorized"
    NOT_FOUND = "not_found"
    METHOD_NOT_ALLOWED = "method_not_allowed"
    CONFLICT = "conflict"
    PAYLOAD_TOO_LARGE = "payload_too_large"
    UNSUPPORTED_MEDIA_TYPE = "unsupported_media_type"
    RATE_LIMITED = "rate_limited"
    UNAVAILABLE = "unavailable"
    IDEMPOTENCY_KEY_REUSED = "idempotency_key_reused"
    EMAIL_TAKEN = "email_taken"
    CSRF_FAILED = "csrf_failed"
    INTERNAL = "internal_error"


class DomainError(Exception):
    """A refusal a client can act on: a stable code, an HTTP status and a human message."""

    headers: dict[str, str] | None = None  # sent with the error (429's Retry-After)

    def __init__(self, code: str, status: int, message: str, details: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.code = str(code)
        self.status = status
        self.message = message
        self.details = details


class NotFound(DomainError):
    def __init__(self, message: str = "Not found.") -> None:
        super().__init__(ErrorCode.NOT_FOUND, 404, message)


class Unauthorized(DomainError):
    def __init__(self, message: str = "A valid API key is required.") -> None:
        super().__init__(ErrorCode.UNAUTHORIZED, 401, message)


class InvalidRequest(DomainError):
    def __init__(self, message: str, details: dict[str, Any] | None = None) -> None:
        super().__init__(ErrorCode.INVALID_REQUEST, 422, message, details)


def invalid_field(field: str, message: str) -> InvalidRequest:
    """A 422 about one field of the request."""
    return InvalidRequest(message, {"fields": {field: [message]}})


class Unavailable(DomainError):
    def __init__(self, message: str = "A backing service is unavailable; try again shortly.") -> None:
        super().__init__(ErrorCode.UNAVAILABLE, 503, message)


_HTTP_CODES = {
    400: (ErrorCode.INVALID_REQUEST, "The request could not be read."),
    401: (ErrorCode.UNAUTHORIZED, "A valid API key is required."),
    404: (ErrorCode.NOT_FOUND, "Not found."),
    405: (ErrorCode.METHOD_NOT_ALLOWED, "This method is not allowed here."),
    409: (ErrorCode.CONFLICT, "The request conflicts with the current state."),
    413: (ErrorCode.PAYLOAD_TOO_LARGE, "The request body is too large."),
    415: (ErrorCode.UNSUPPORTED_MEDIA_TYPE, "Send the body as application/json."),
    422: (ErrorCode.INVALID_REQUEST, "The request is invalid."),
    429: (ErrorCode.RATE_LIMITED, "Too many requests; slow down."),
    503: (ErrorCode.UNAVAILABLE, "A backing service is unavailable; try again shortly."),
}


def error_body(code: str, message: str, details: dict[str, Any] | None = None) -> dict:
    error: dict[str, Any] = {"code": code, "message": message}
    if details:
        error["details"] = details
    return {"error": error}


def json_error(
    code: str,
    status: int,
    message: str,
    details: dict[str, Any] | None = None,
    headers: dict[str, str] | None = None,
) -> Response:
    response = jsonify(error_body(code, message, details))
    response.status_code = status
    for name, value in (headers or {}).items():
        response.headers[name] = value
    return response


def wants_json() -> bool:
    """Errors are JSON on the paths the kernel and the domains named (lixi.plugins.add_json_paths):
    the API, and the calls a page's script makes."""
    return request.path.startswith(tuple(plugged().json_paths)) or request.path == "/openapi.json"


def _retry_after(error: HTTPException) -> dict[str, str]:
    """Seconds until the breached window resets (asked of Redis only when a limit is breached)."""
    for limiter in current_app.extensions.get("limiter", ()):
        breached = limiter.current_limit
        if breached is not None and breached.breached:
            return {"Retry-After": str(max(1, int(breached.reset_at - time.time())))}
    limit = getattr(error, "limit", None)
    return {"Retry-After": str(int(limit.limit.get_expiry())) if limit is not None else "60"}


# Headers an HTTP error's own response would carry that the error body replaces.
_BODY_HEADERS = frozenset({"content-type", "content-length"})


def http_error_response(error: HTTPException) -> Response:
    status = error.code or 500
    code, message = _HTTP_CODES.get(status, (ErrorCode.INVALID_REQUEST, "The request is invalid."))
    details = None
    # The exception's headers (405 Allow, 401 WWW-Authenticate, …) belong to any body we give it.
    headers = {name: value for name, value in error.get_headers() if name.lower() not in _BODY_HEADERS}
    if status == 422:
        # webargs puts the marshmallow messages in data["messages"], keyed by location.
        messages = (getattr(error, "data", None) or {}).get("messages")
        if isinstance(messages, dict):
            details = {"fields": _flatten_locations(messages)}
        message = "Some fields are invalid."
    elif status == 429:
        headers.update(_retry_after(error))
    elif status in (400, 404, 405, 413, 415) and error.description and status != 404:
        message = error.description
    if not wants_json():
        return _html_error(status, message, headers)
    return json_error(code, status, message, details, headers)


def _flatten_locations(messages: dict) -> dict:
    """{"json": {"code": [...]}} -> {"code": [...]}: clients care about fields, not locations."""
    flat: dict = {}
    for location, fields in messages.items():
        if isinstance(fields, dict):
            flat.update(fields)
        else:
            flat[location] = fields
    return flat


def _html_error(status: int, message: str, headers: dict[str, str] | None = None) -> Response:
    html = render_template("error.html", status=status, message=message)
    return Response(html, status=status, mimetype="text/html", headers=headers)


def _domain_error(error: DomainError) -> Response:
    headers = {"Retry-After": "5"} if error.status == 503 else error.headers
    if not wants_json():
        return _html_error(error.status, error.message, headers)
    return json_error(error.code, error.status, error.message, error.details, headers)


def _unavailable(error: Exception) -> Response:
    log.warning("backing service unavailable: %s", error)
    return _domain_error(Unavailable())


def _internal(error: Exception) -> Response:
    log.exception("unhandled error", exc_info=error)
    if not wants_json():
        return _html_error(500, "Something went wrong on our side.")
    return json_error(ErrorCode.INTERNAL, 500, "Something went wrong on our side.")


def _csrf_failed(error: CSRFError) -> Response:
    # Also what an expired staff session looks like to the page's script: it reloads to log in.
    message = "This form has expired or did not come from our page; reload and try again."
    if not wants_json():
        return _html_error(400, message)
    return json_error(ErrorCode.CSRF_FAILED, 400, message)


def _refuse_nul_in_path() -> None:
    # %00 in a URL would reach the database as a NUL, which PostgreSQL cannot store or compare.
    if "\x00" in request.path:
        raise NotFound()


def register_errorhandlers(app: Flask) -> None:
    """Every API error leaves as JSON with a stable code; pages get an HTML error page."""
    app.before_request(_refuse_nul_in_path)
    app.register_error_handler(DomainError, _domain_error)
    app.register_error_handler(CSRFError, _csrf_failed)
    app.register_error_handler(HTTPException, http_error_response)
    # Redis or the database gone: the client may retry; never a 500.
    for unavailable in (RedisError, StorageError, OperationalError, PoolTimeoutError):
        app.register_error_handler(unavailable, _unavailable)
    app.register_error_handler(Exception, _internal)
