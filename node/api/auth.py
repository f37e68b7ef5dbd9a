"""Staff log-in for a node: the session middleware, role guards, CSRF, /login and /logout.

Sessions are rows in the node database (see node.services.accounts); the browser holds only
an opaque token in an HttpOnly, SameSite=Lax cookie. Every unsafe request carries Litestar's
double-submit CSRF token, except the two endpoints that nodes call with a signature instead of
a cookie (sync and enrollment).
"""

from __future__ import annotations

from typing import Annotated, Any

import anyio
import msgspec
from litestar import Request, Response, get, post
from litestar.connection import ASGIConnection
from litestar.di import NamedDependency
from litestar.enums import RequestEncodingType
from litestar.handlers.base import BaseRouteHandler
from litestar.middleware import DefineMiddleware
from litestar.params import Body
from litestar.response import Redirect, Template
from litestar.types import Guard

from node.services.accounts import (
    AccountService,
    LoginLockedError,
    Role,
    StaffUser,
)
from shared.errors import AuthenticationError, PermissionDeniedError
from web import sessions
from web.i18n import language_of, translator
from web.pages import page
from web.sessions import (
    CSRF_COOKIE,
    LOGIN_PATH,
    SESSION_COOKIE,
    LoginRequiredError,
    csrf_config,
    safe_next,
    scope_user,
    session_ended,
    session_started,
)

__all__ = [
    "CSRF_COOKIE",
    "EXCEPTION_HANDLERS",
    "SESSION_COOKIE",
    "LoginRequiredError",
    "csrf_config",
    "current_user",
    "login",
    "login_page",
    "logout",
    "me",
    "requires_role",
    "safe_next",
    "session_middleware",
]


def current_user(connection: ASGIConnection[Any, Any, Any, Any]) -> StaffUser | None:
    """The member of staff making this request, or None when nobody is logged in."""
    user = scope_user(connection)
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


def session_middleware(accounts: AccountService) -> DefineMiddleware:
    """The session middleware bound to the node's account service."""

    async def lookup(token: str) -> object | None:
        # Off the event loop: a sync batch may be holding the database for a moment.
        return await anyio.to_thread.run_sync(accounts.user_for_session, token)

    return sessions.session_middleware(lookup)


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
    return session_started(request, target, session.token)


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
    return session_ended()


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


EXCEPTION_HANDLERS: dict[type[Exception] | int, Any] = sessions.EXCEPTION_HANDLERS
"""The node's own error handlers, added to the common ones."""
