"""A parent's error answer (RFC 9457 problem details) turned back into our error kinds."""

from __future__ import annotations

import httpx

from shared.errors import (
    AuthenticationError,
    InvalidError,
    PermissionDeniedError,
    PlatformError,
    UnavailableError,
)


def error_from_problem(response: httpx.Response, doing: str) -> PlatformError:
    """The domain error for a non-200 answer; ``doing`` names the call in Chinese (e.g. "同步")."""
    try:
        problem = response.json()
        detail = str(problem.get("detail") or problem.get("title") or response.reason_phrase)
        code = str(problem.get("code", f"{doing}_failed"))
    except ValueError:
        detail, code = response.reason_phrase, "upstream_failed"
    status = response.status_code
    if status == 401:
        return AuthenticationError(f"上级拒绝了本节点的身份（{doing}）：{detail}", code=code)
    if status == 403:
        return PermissionDeniedError(f"上级拒绝{doing}：{detail}", code=code)
    if 400 <= status < 500:
        return InvalidError(f"上级拒绝了{doing}请求：{detail}", code=code)
    return UnavailableError(f"上级暂时无法处理{doing}（HTTP {status}）：{detail}", code=code)
