"""Staff log-in for a node: the session middleware, role guards, CSRF, /login and /logout.

Sessions are rows in the node database (see node.services.accounts); the browser holds only
an opaque token in an HttpOnly, SameSite=Lax cookie. Every unsafe request carries Litestar's
double-submit CSRF token, except the two endpoints that nodes call with a signature instead of
a cookie (sync and enrollment).
"""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import urlencode

import anyio
import msgspec
from litestar import Request, Response, get, post
from litestar.config.csrf import CSRFConfig
from litestar.connection import ASGIConnection
from litestar.di import NamedDependency
from litestar.enums import RequestEncodingType, ScopeType
from litestar.exceptions import PermissionDeniedException
from litestar.handlers.base import BaseRouteHandler
from litestar.middleware import DefineMiddleware, MiddlewareProtocol
from litestar.params import Body
from litestar.response import Redirect, Template
from litestar.types import ASGIApp, Guard, Receive, Scope, Send

from node.services.accounts import (
    AccountService,
    LoginLockedError,
    Role,
    StaffUser,
)
from shared.errors import AuthenticationError, PermissionDeniedError
from web.i18n import language_of, translator
from web.pages import page
from web.problems import platform_error_handler, wants_json

SESSION_COOKIE = "tongban_session"
CSRF_COOKIE = "tongban_csrf"
CSRF_EXEMPT = ("^/api/v1/sync$", "^/api/v1/enroll$")
"""Called node to node, authenticated by the caller's node signature, never by a cookie."""
LOGIN_PATH = "/login"
DEFAULT_LANDING = "/desk"

# What Litestar's CSRF middleware says when a token is missing or wrong.
_CSRF_FAILED = "CSRF token verification failed"


class LoginRequiredError(AuthenticationError):
    """An anonymous request reached a route that needs a logged-in member of staff."""

    code = "login_required"


def current_user(connection: ASGIConnection[Any, Any, Any, Any]) -> StaffUser | None:
    """The member of staff making this request, or None when nobody is logged in."""
    user = connection.scope.get("user")
    return user if isinstance(user, StaffUser) else None


def requires_role(*roles: Role) -> Guard:
    """A guard admitting logged-in staff holding at least one of ``roles`` (any role if none).

    Anonymous: pages redirect to the log-in page, APIs answer 401; a user without the role
    gets 403.
    """
    wanted = frozenset(roles) or frozenset(Role)
    names = "、".join(role.label for role in Role if role in wanted)

    def guard(connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler) -> None:
        user = current_user(connection)
        if user is None:
            raise LoginRequiredError("请先登录。")
        if not user.has_any(wanted):
            raise PermissionDeniedError(
                f"您的账号（{user.username}）没有此操作所需的角色，需要：{names}。"
                "如需开通，请联系本节点管理员。",
                code="role_required",
            )

    return guard


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
        or target.startswith(("//", "/\\", LOGIN_PATH, "/logout"))
        or any(ch in target for ch in "\\\r\n\t")
    ):
        return DEFAULT_LANDING
    return target


class SessionMiddleware(MiddlewareProtocol):
    """Puts the logged-in user (or None) into ``scope["user"]``; CSRF failures in Chinese."""

    def __init__(self, app: ASGIApp, accounts: AccountService) -> None:
        self.app = app
        self._accounts = accounts

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Load the session's user, then run the rest of the stack."""
        user: StaffUser | None = None
        if scope["type"] in (ScopeType.HTTP, ScopeType.WEBSOCKET) and not scope["path"].startswith(
            "/static/"
        ):
            token = ASGIConnection[Any, Any, Any, Any](scope).cookies.get(SESSION_COOKIE)
            if token:
                # Off the event loop: a sync batch may be holding the database for a moment.
                user = await anyio.to_thread.run_sync(self._accounts.user_for_session, token)
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


def session_middleware(accounts: AccountService) -> DefineMiddleware:
    """The session middleware bound to the node's account service."""
    return DefineMiddleware(SessionMiddleware, accounts=accounts)


def csrf_config(secret: str) -> CSRFConfig:
    """Double-submit CSRF tokens for every unsafe request except node-to-node endpoints."""
    return CSRFConfig(
        secret=secret,
        cookie_name=CSRF_COOKIE,
        cookie_samesite="lax",
        exclude=list(CSRF_EXEMPT),
    )


class LoginForm(msgspec.Struct, kw_only=True):
    """The log-in form; empty fields fail like a wrong password."""

    username: str = ""
    password: str = ""
    next: str = ""


@get(LOGIN_PATH, include_in_schema=False, sync_to_thread=False)
def login_page(request: Request[Any, Any, Any]) -> Response[Any]:
    """The log-in form; someone already logged in goes straight on."""
    target = safe_next(request.query_params.get("next"))
    if current_user(request) is not None:
        return Redirect(target, status_code=303)
    return page(
        request,
        "login.html",
        next=target,
        username="",
        error=None,
        logged_out="logged_out" in request.query_params,
    )


@post(LOGIN_PATH, include_in_schema=False, sync_to_thread=True, status_code=303)
def login(
    request: Request[Any, Any, Any],
    data: Annotated[LoginForm, Body(media_type=RequestEncodingType.URL_ENCODED)],
    account_service: NamedDependency[AccountService],
) -> Response[Any]:
    """Check the password (scrypt, hence a worker thread) and open a session."""
    target = safe_next(data.next)
    t = translator(language_of(request))
    try:
        user = account_service.authenticate(data.username, data.password)
    except LoginLockedError as exc:
        error = t("login.locked").replace("{minutes}", str(exc.minutes))
        return _form_again(request, data, target, error, status=429)
    except AuthenticationError:
        return _form_again(request, data, target, t("login.failed"), status=401)
    previous = request.cookies.get(SESSION_COOKIE)
    if previous:
        # A new token on every log-in: a planted cookie never becomes a live session.
        account_service.end_session(previous)
    session = account_service.start_session(user)
    response = Redirect(target, status_code=303)
    response.set_cookie(
        SESSION_COOKIE,
        session.token,
        path="/",
        httponly=True,
        samesite="lax",
        secure=request.url.scheme == "https",
    )
    return response


def _form_again(
    request: Request[Any, Any, Any], data: LoginForm, target: str, error: str, *, status: int
) -> Template:
    response = page(request, "login.html", next=target, username=data.username, error=error)
    response.status_code = status
    return response


@post("/logout", include_in_schema=False, sync_to_thread=True, status_code=303)
def logout(
    request: Request[Any, Any, Any], account_service: NamedDependency[AccountService]
) -> Redirect:
    """Close the session row and drop the cookie."""
    token = request.cookies.get(SESSION_COOKIE)
    if token:
        account_service.end_session(token)
    response = Redirect(f"{LOGIN_PATH}?logged_out=1", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


class Me(msgspec.Struct, frozen=True, kw_only=True):
    """The logged-in member of staff."""

    username: str
    name: str
    roles: list[str]
    role_labels: list[str]


@get("/api/v1/me", summary="当前登录的工作人员", guards=[requires_role()], sync_to_thread=False)
def me(request: Request[Any, Any, Any]) -> Me:
    """Who is logged in on this session, with their roles."""
    user = current_user(request)
    assert user is not None  # the guard admitted the request
    return Me(
        username=user.username,
        name=user.name,
        roles=[role.value for role in user.ordered_roles],
        role_labels=[role.label for role in user.ordered_roles],
    )


EXCEPTION_HANDLERS: dict[type[Exception] | int, Any] = {
    LoginRequiredError: login_required_handler,
}
"""The node's own error handlers, added to the common ones."""
