"""County staff log-in: who is calling, role guards, /login, /logout and /api/v1/me.

Sessions, cookies and CSRF work as at the nodes (web.sessions); accounts live in the county
database. Guards check the role; handlers check the subtree with
central.services.accounts.ensure_node_visible / ensure_case_visible or filter set-based queries
with node_filter / case_filter over ``visible_nodes(user)``.
"""

from __future__ import annotations

from typing import Annotated, Any

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

from central.services.accounts import AccountService, CountyRole, CountyUser, visible_nodes
from shared.credentials import LoginLockedError
from shared.errors import AuthenticationError, PermissionDeniedError
from web.i18n import add_messages, language_of, translator
from web.pages import page
from web.sessions import (
    CSRF_COOKIE,
    LOGIN_PATH,
    LOGOUT_PATH,
    SESSION_COOKIE,
    LoginRequiredError,
    safe_next,
    scope_user,
    session_ended,
    session_middleware,
    session_started,
)

__all__ = [
    "CSRF_COOKIE",
    "SESSION_COOKIE",
    "county_session_middleware",
    "current_user",
    "login",
    "login_page",
    "logout",
    "me",
    "require_user",
    "requires_role",
    "visible_nodes",
]

add_messages(
    {
        "role.catalog_reviewer": {"zh": "目录审核", "en": "Catalog reviewer"},
        "role.supervisor": {"zh": "电子监察", "en": "Supervisor"},
        "role.department": {"zh": "部门审查", "en": "Department reviewer"},
        "role.county_admin": {"zh": "系统管理员", "en": "System administrator"},
        "login.county_intro": {
            "zh": "请使用系统管理员为您开设的县中心账号登录。",
            "en": "Use the county account your system administrator made for you.",
        },
        "login.county_locked": {
            "zh": "该用户名登录失败次数过多，已暂时锁定。"
            "请 {minutes} 分钟后再试，或请系统管理员协助。",
            "en": "Too many failed sign-ins for this username; it is locked for now. "
            "Try again in {minutes} minutes or ask the system administrator.",
        },
    }
)


def current_user(connection: ASGIConnection[Any, Any, Any, Any]) -> CountyUser | None:
    """The member of county staff making this request, or None when nobody is logged in."""
    user = scope_user(connection)
    return user if isinstance(user, CountyUser) else None


def require_user(connection: ASGIConnection[Any, Any, Any, Any]) -> CountyUser:
    """The logged-in user of a request a guard has already admitted.

    Raises:
        LoginRequiredError: nobody is logged in (a route without a guard called this).
    """
    user = current_user(connection)
    if user is None:
        raise LoginRequiredError("请先登录。")
    return user


def requires_role(*roles: CountyRole) -> Guard:
    """A guard admitting logged-in staff holding at least one of ``roles`` (any role if none).

    Anonymous: pages redirect to the log-in page, APIs answer 401; a user without the role
    gets 403 naming the roles needed.
    """
    wanted = frozenset(roles) or frozenset(CountyRole)
    names = "、".join(role.label for role in CountyRole if role in wanted)

    def guard(connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler) -> None:
        user = current_user(connection)
        if user is None:
            raise LoginRequiredError("请先登录。")
        if not user.has_any(wanted):
            raise PermissionDeniedError(
                f"您的账号（{user.username}）没有此操作所需的角色，需要：{names}。"
                "如需开通，请联系系统管理员。",
                code="role_required",
            )

    return guard


def county_session_middleware(accounts: AccountService) -> DefineMiddleware:
    """The session middleware bound to the county's accounts."""

    async def lookup(token: str) -> object | None:
        return await accounts.user_for_session(token)

    return session_middleware(lookup)


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
        intro_key="login.county_intro",
    )


@post(LOGIN_PATH, include_in_schema=False, status_code=303)
async def login(
    request: Request[Any, Any, Any],
    data: Annotated[LoginForm, Body(media_type=RequestEncodingType.URL_ENCODED)],
    account_service: NamedDependency[AccountService],
) -> Response[Any]:
    """Check the password and open a session."""
    target = safe_next(data.next)
    t = translator(language_of(request))
    try:
        user = await account_service.authenticate(data.username, data.password)
    except LoginLockedError as exc:
        error = t("login.county_locked").replace("{minutes}", str(exc.minutes))
        return _form_again(request, data, target, error, status=429)
    except AuthenticationError:
        return _form_again(request, data, target, t("login.failed"), status=401)
    previous = request.cookies.get(SESSION_COOKIE)
    if previous:
        # A new token on every log-in: a planted cookie never becomes a live session.
        await account_service.end_session(previous)
    session = await account_service.start_session(user)
    return session_started(request, target, session.token)


def _form_again(
    request: Request[Any, Any, Any], data: LoginForm, target: str, error: str, *, status: int
) -> Template:
    response = page(
        request,
        "login.html",
        next=target,
        username=data.username,
        error=error,
        intro_key="login.county_intro",
    )
    response.status_code = status
    return response


@post(LOGOUT_PATH, include_in_schema=False, status_code=303)
async def logout(
    request: Request[Any, Any, Any], account_service: NamedDependency[AccountService]
) -> Redirect:
    """Close the session row and drop the cookie."""
    token = request.cookies.get(SESSION_COOKIE)
    if token:
        await account_service.end_session(token)
    return session_ended()


class Me(msgspec.Struct, frozen=True, kw_only=True):
    """The logged-in member of county staff and what they may see."""

    username: str
    name: str
    roles: list[str]
    role_labels: list[str]
    home_node: str
    department: str | None
    visible_nodes: list[str] | None
    """Node ids the account may see; null for the whole county."""


@get("/api/v1/me", summary="当前登录的县中心工作人员", guards=[requires_role()])
async def me(request: Request[Any, Any, Any]) -> Me:
    """Who is logged in on this session, their roles and the nodes they may see."""
    user = require_user(request)
    visible = user.visible
    return Me(
        username=user.username,
        name=user.name,
        roles=[role.value for role in user.ordered_roles],
        role_labels=[role.label for role in user.ordered_roles],
        home_node=user.home_node,
        department=user.department,
        visible_nodes=None if visible is None else sorted(visible),
    )
