"""The one JSON error middleware: every failure leaves as ``{"error": {...}}``.

``VendingError`` subclasses keep their own status and code (the table of
DESIGN.md); device trouble arrives already mapped by the controller.
aiohttp's own HTTP errors (unknown route, wrong method, body too large) get
the matching code.  Anything else is a bug: it is logged with its
traceback and answered 500 ``internal_error`` without details.
"""

from __future__ import annotations

import logging
from typing import Any

from aiohttp import web
from aiohttp.typedefs import Handler

from api.encoding import json_response
from controller.errors import VendingError

log = logging.getLogger(__name__)

_HTTP_CODES: dict[int, str] = {
    400: "validation_error",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    413: "payload_too_large",
    415: "unsupported_media_type",
    429: "too_many_attempts",
}


def error_response(status: int, code: str, message: str,
                   fields: dict[str, Any] | None = None,
                   headers: dict[str, str] | None = None) -> web.Response:
    """The error body of the API contract."""
    error: dict[str, Any] = {"code": code, "message": message}
    if fields:
        error["fields"] = fields
    return json_response({"error": error}, status=status, headers=headers)


def _from_vending(request: web.Request, exc: VendingError) -> web.Response:
    if exc.status >= 500 and exc.code != "out_of_service":
        log.error("%s %s failed: %s", request.method, request.path, exc,
                  exc_info=exc if exc.code == "internal_error" else None)
        if exc.code != "store_error":  # its message says nothing internal
            return error_response(500, "internal_error", "internal error")
    retry_after_s = getattr(exc, "retry_after_s", None)
    if retry_after_s is None and exc.status == 429:
        retry_after_s = 60  # every 429 says when to come back
    headers = {"Retry-After": str(retry_after_s)} if retry_after_s is not None else None
    return error_response(exc.status, exc.code, exc.message, exc.fields, headers=headers)


def _from_http(exc: web.HTTPException) -> web.Response:
    code = _HTTP_CODES.get(exc.status, "internal_error" if exc.status >= 500 else "error")
    headers = {"Allow": exc.headers["Allow"]} if "Allow" in exc.headers else None
    return error_response(exc.status, code, exc.reason, headers=headers)


@web.middleware
async def json_errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Turn every exception of a handler into the contract's error body."""
    try:
        return await handler(request)
    except VendingError as exc:
        return _from_vending(request, exc)
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        return _from_http(exc)
    except Exception:
        log.exception("%s %s: unexpected error", request.method, request.path)
        return error_response(500, "internal_error", "internal error")
