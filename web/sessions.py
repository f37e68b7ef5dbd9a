"""Staff sessions over HTTP, the same at every tier: cookie, middleware, CSRF, log-in redirects.

The browser holds only an opaque token in an HttpOnly, SameSite=Lax cookie; each service looks
the token up in its own storage through the callable it hands to :func:`session_middleware`.
Every unsafe request carries Litestar's double-submit CSRF token, except the endpoints that
nodes call with a signature instead of a cookie (sync and enrollment).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import urlencode

from litestar import Request, Response
from litestar.config.csrf import CSRFConfig
from litestar.connection import ASGIConnection
from litestar.enums import ScopeType
from litestar.exceptions import PermissionDeniedException
from litestar.middleware import DefineMiddleware, MiddlewareProtocol
from litestar.response import Redirect
from litestar.types import ASGIApp, Receive, Scope, Send

from shared.errors import AuthenticationError, PermissionDeniedError
from web.problems import platform_error_handler, wants_json

SESSION_COOKIE = "tongban_session"
CSRF_COOKIE = "tongban_csrf"
SIGNED_ENDPOINTS = ("^/api/v1/sync$", "^/api/v1/enroll$")
"""Called node to node, authenticated by the caller's node signature, never by a cookie."""
LOGIN_PATH = "/login"
LOGOUT_PATH = "/logout"
DEFAULT_LANDING = "/desk"

# What Litestar's CSRF middleware says when a token is missing or wrong.
_CSRF_FAILED = "CSRF token verification failed"

SessionLookup = Callable[[str], Awaitable[object | None]]
"""Finds the user a session token belongs to (None when unknown, expired or disabled)."""


class LoginRequiredError(AuthenticationError):
    """An anonymous request reached a route that needs a logged-in member of staff."""

    code = "login_required"


def scope_user(connection: ASGIConnection[Any, Any, Any, Any]) -> object | None:
    """Whatever the session middleware put in the scope for this request."""
    user: object | None = connection.scope.get("user")
    return user


def login_required_handler(
    request: Request[Any, Any, Any], exc: LoginRequiredError
) -> Response[Any]:
    """Pages send the browser to the log-in form and back; APIs get 401 problem details."""
    if wants_json(request):
        return platform_error_handler(request, exc)
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return Redirect(f"{LOGIN_PATH}?{urlencode({'next': target})}", status_code=303)


def safe_next(target: str | None) -> str:
    """Where to go after log-in: a path on this site only, never another host."""
    if (
        not target
        or not target.startswith("/")
        or target.startswith(("//", "/\\", LOGIN_PATH, LOGOUT_PATH))
        or any(ch in target for ch in "\\\r\n\t")
    ):
        return DEFAULT_LANDING
    return target


class SessionMiddleware(MiddlewareProtocol):
    """Puts the logged-in user (or None) into ``scope["user"]``; CSRF failures in Chinese."""

    def __init__(self, app: ASGIApp, lookup: SessionLookup) -> None:
        self.app = app
        self._lookup = lookup

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Load the session's user, then run the rest of the stack."""
        user: object | None = None
        if scope["type"] in (ScopeType.HTTP, ScopeType.WEBSOCKET) and not scope["path"].startswith(
            "/static/"
        ):
            token = ASGIConnection[Any, Any, Any, Any](scope).cookies.get(SESSION_COOKIE)
            if token:
                user = await self._lookup(token)
        scope["user"] = user
        try:
            await self.app(scope, receive, send)
        except PermissionDeniedException as exc:
            # Only the CSRF check raises between here and the route's own error handling.
            if exc.detail != _CSRF_FAILED:
                raise
            raise PermissionDeniedError(
                "表单校验未通过：页面可能已过期，或请求不是从本站页面提交的。"
                "请返回上一页刷新后重新提交。",
                code="csrf_failed",
            ) from exc


def session_middleware(lookup: SessionLookup) -> DefineMiddleware:
    """The session middleware bound to a service's session lookup."""
    return DefineMiddleware(SessionMiddleware, lookup=lookup)


def csrf_config(secret: str, exempt: tuple[str, ...] = SIGNED_ENDPOINTS) -> CSRFConfig:
    """Double-submit CSRF tokens for every unsafe request except node-to-node endpoints."""
    return CSRFConfig(
        secret=secret,
        cookie_name=CSRF_COOKIE,
        cookie_samesite="lax",
        exclude=list(exempt),
    )


def session_started(request: Request[Any, Any, Any], target: str, token: str) -> Redirect:
    """The answer to a successful log-in: the new session cookie, then on to ``target``."""
    response = Redirect(target, status_code=303)
    response.set_cookie(
        SESSION_COOKIE,
        token,
        path="/",
        httponly=True,
        samesite="lax",
        secure=request.url.scheme == "https",
    )
    return response


def session_ended() -> Redirect:
    """The answer to a log-out: the cookie dropped, back to the log-in form."""
    response = Redirect(f"{LOGIN_PATH}?logged_out=1", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


EXCEPTION_HANDLERS: dict[type[Exception] | int, Any] = {
    LoginRequiredError: login_required_handler,
}
"""Handlers for session errors, added to the common ones by apps with staff log-in."""
