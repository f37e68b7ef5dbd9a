"""The one translation from tongban errors to HTTP.

APIs answer with RFC 9457 problem details (``application/problem+json``) carrying our stable
``code``; pages answer with a readable Chinese error page. Nothing else in the services knows
HTTP status codes for domain errors.
"""

from __future__ import annotations

import logging
from http import HTTPStatus
from typing import Any

from litestar import Request, Response
from litestar.exceptions import HTTPException, ValidationException
from litestar.response import Template
from litestar.status_codes import HTTP_500_INTERNAL_SERVER_ERROR

from shared.errors import (
    AuthenticationError,
    ConflictError,
    InvalidError,
    NotFoundError,
    PermissionDeniedError,
    PlatformError,
    SignatureInvalidError,
    UnavailableError,
    ValidationError,
)
from web.pages import page_context

logger = logging.getLogger(__name__)

PROBLEM_MEDIA_TYPE = "application/problem+json"

_STATUS_BY_KIND: tuple[tuple[type[PlatformError], int], ...] = (
    (ValidationError, 422),
    (SignatureInvalidError, 422),
    (InvalidError, 400),
    (NotFoundError, 404),
    (ConflictError, 409),
    (AuthenticationError, 401),
    (PermissionDeniedError, 403),
    (UnavailableError, 503),
)

_HTTP_TITLES = {
    400: ("bad_request", "请求格式不正确"),
    401: ("unauthenticated", "未登录或身份无法确认"),
    403: ("forbidden", "无权执行此操作"),
    404: ("not_found", "未找到"),
    405: ("method_not_allowed", "不支持该请求方法"),
    409: ("conflict", "与已有记录冲突"),
    413: ("too_large", "请求内容过大"),
    415: ("unsupported_media_type", "不支持的内容类型"),
    422: ("invalid", "输入不符合要求"),
    429: ("rate_limited", "请求过于频繁，请稍后再试"),
    503: ("unavailable", "服务暂不可用"),
}


def status_for(exc: PlatformError) -> int:
    """HTTP status for a domain error kind."""
    for kind, status in _STATUS_BY_KIND:
        if isinstance(exc, kind):
            return status
    return HTTP_500_INTERNAL_SERVER_ERROR


def wants_json(request: Request[Any, Any, Any]) -> bool:
    """APIs and machine clients get problem details; browsers get a page."""
    path = request.url.path
    if path.startswith("/api/") or path in {"/healthz", "/schema"}:
        return True
    accept = request.headers.get("accept", "")
    return "html" not in accept and ("json" in accept or not accept)


def problem(
    request: Request[Any, Any, Any],
    *,
    status: int,
    code: str,
    title: str,
    detail: str,
    extra: dict[str, Any] | None = None,
) -> Response[Any]:
    """Build the error response in the shape the caller can read."""
    if wants_json(request):
        body: dict[str, Any] = {
            "type": f"urn:tongban:problem:{code}",
            "title": title,
            "status": status,
            "detail": detail,
            "code": code,
            "instance": request.url.path,
        }
        if extra:
            body.update(extra)
        return Response(content=body, status_code=status, media_type=PROBLEM_MEDIA_TYPE)
    problems = list((extra or {}).get("problems", []))
    context = {
        **page_context(request),
        "status": status,
        "title": title,
        "detail": detail,
        "problems": problems,
        "code": code,
    }
    return Template(template_name="error.html", context=context, status_code=status)


def platform_error_handler(request: Request[Any, Any, Any], exc: PlatformError) -> Response[Any]:
    """Map a domain error to its response."""
    status = status_for(exc)
    extra: dict[str, Any] = {}
    if isinstance(exc, ValidationError):
        extra["problems"] = exc.problems
    if status >= 500:
        logger.exception("unhandled platform error", exc_info=exc)
    return problem(
        request, status=status, code=exc.code, title=exc.title, detail=exc.message, extra=extra
    )


def http_error_handler(request: Request[Any, Any, Any], exc: HTTPException) -> Response[Any]:
    """Map the framework's own errors (404, bad body, ...) to the same shapes."""
    status = exc.status_code
    code, title = _HTTP_TITLES.get(status, ("http_error", "请求无法完成"))
    extra: dict[str, Any] = {}
    detail = title
    if isinstance(exc, ValidationException):
        code, title = "invalid_request", "请求内容不符合要求"
        errors = exc.extra if isinstance(exc.extra, list) else []
        extra["problems"] = [_describe_field_error(e) for e in errors]
        detail = "；".join(extra["problems"]) or str(exc.detail)
    elif status < 500 and exc.detail and exc.detail != _default_phrase(status):
        detail = str(exc.detail)
    if status >= 500:
        logger.error("server error on %s: %s", request.url.path, exc.detail)
        detail = title
    return problem(request, status=status, code=code, title=title, detail=detail, extra=extra)


def unexpected_error_handler(request: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
    """Anything unforeseen: log it in full, show nothing internal."""
    logger.exception("unexpected error on %s", request.url.path, exc_info=exc)
    return problem(
        request,
        status=500,
        code="internal_error",
        title="服务器内部错误",
        detail="服务器处理请求时出错，已记录日志。请稍后重试或联系管理员。",
    )


def _default_phrase(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return ""


def _describe_field_error(error: Any) -> str:
    if isinstance(error, dict):
        key = error.get("key") or error.get("source") or ""
        message = error.get("message", "")
        return f"{key}: {message}" if key else str(message)
    return str(error)


EXCEPTION_HANDLERS: dict[type[Exception] | int, Any] = {
    PlatformError: platform_error_handler,
    HTTPException: http_error_handler,
    Exception: unexpected_error_handler,
}
