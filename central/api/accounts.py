"""Account administration for the county's system administrators: pages and /api/v1/accounts.

Only the ``admin`` role may list, create, change, disable or reset accounts. Rules live in
central.services.accounts; these handlers translate forms and JSON to calls on it.
"""

from __future__ import annotations

from typing import Any

import msgspec
from litestar import Request, Response, get, patch, post
from litestar.di import NamedDependency
from litestar.params import FromPath, JSONBody
from litestar.response import Redirect, Template
from litestar.types import ControllerRouterHandler

from central.api.auth import require_user, requires_role
from central.services.accounts import AccountService, CountyRole, CountyUser
from shared.errors import NotFoundError, PlatformError, ValidationError
from shared.registry import COUNTY_NODE_ID
from web.i18n import add_messages
from web.pages import page

ADMIN_ONLY = [requires_role(CountyRole.ADMIN)]

add_messages(
    {
        "accounts.title": {"zh": "账号管理", "en": "Accounts"},
        "accounts.intro": {
            "zh": "为县中心工作人员开设账号、分配角色和可查看范围。所属节点为乡镇的账号只能查看"
            "该乡镇及其下辖村（社区）。",
            "en": "Open accounts for county staff and set their roles and scope. An account "
            "homed at a township sees only that township and its communities.",
        },
        "accounts.username": {"zh": "用户名", "en": "Username"},
        "accounts.name": {"zh": "姓名", "en": "Name"},
        "accounts.roles": {"zh": "角色", "en": "Roles"},
        "accounts.home_node": {"zh": "所属节点", "en": "Home node"},
        "accounts.department": {"zh": "部门（部门审查角色选择）", "en": "Department"},
        "accounts.no_department": {"zh": "（不属于部门）", "en": "(no department)"},
        "accounts.password": {"zh": "初始密码（至少 8 个字符）", "en": "Initial password"},
        "accounts.new_password": {"zh": "新密码（至少 8 个字符）", "en": "New password"},
        "accounts.state": {"zh": "状态", "en": "State"},
        "accounts.active": {"zh": "正常", "en": "active"},
        "accounts.disabled": {"zh": "已停用", "en": "disabled"},
        "accounts.create": {"zh": "新增账号", "en": "New account"},
        "accounts.create_submit": {"zh": "创建账号", "en": "Create account"},
        "accounts.edit": {"zh": "修改", "en": "Edit"},
        "accounts.save": {"zh": "保存角色与范围", "en": "Save roles and scope"},
        "accounts.disable": {"zh": "停用账号", "en": "Disable account"},
        "accounts.enable": {"zh": "恢复账号", "en": "Enable account"},
        "accounts.reset": {"zh": "重设密码", "en": "Reset password"},
        "accounts.reset_note": {
            "zh": "重设后该账号已有的登录会话全部失效。",
            "en": "Every open session of the account ends.",
        },
        "accounts.back": {"zh": "返回账号列表", "en": "Back to the accounts"},
        "accounts.created": {"zh": "已创建账号：", "en": "Account created: "},
        "accounts.saved": {"zh": "已保存。", "en": "Saved."},
        "accounts.password_reset": {
            "zh": "密码已重设，原有登录已失效。",
            "en": "Password reset; open sessions ended.",
        },
        "accounts.state_changed": {"zh": "账号状态已更新。", "en": "Account state changed."},
        "accounts.problems": {"zh": "请修改以下问题：", "en": "Please fix the following:"},
        "accounts.whole_county": {"zh": "全县", "en": "whole county"},
    }
)


class AccountView(msgspec.Struct, frozen=True, kw_only=True):
    """An account as the administration API shows it (never its password hash)."""

    username: str
    name: str
    roles: list[str]
    role_labels: list[str]
    home_node: str
    department: str | None
    active: bool


class AccountList(msgspec.Struct, frozen=True, kw_only=True):
    """Every county account."""

    accounts: list[AccountView]


class NewAccount(msgspec.Struct, frozen=True, kw_only=True):
    """What creating an account needs."""

    username: str
    name: str
    roles: list[str]
    password: str
    home_node: str = COUNTY_NODE_ID
    department: str | None = None


class AccountChange(msgspec.Struct, frozen=True, kw_only=True):
    """New roles, scope and department (and optionally name) for an account."""

    roles: list[str]
    home_node: str = COUNTY_NODE_ID
    department: str | None = None
    name: str | None = None


class PasswordReset(msgspec.Struct, frozen=True, kw_only=True):
    """A new password chosen by the administrator."""

    password: str


class Closed(msgspec.Struct, frozen=True, kw_only=True):
    """How many sessions a change ended."""

    sessions_closed: int


def _view(user: CountyUser) -> AccountView:
    return AccountView(
        username=user.username,
        name=user.name,
        roles=[role.value for role in user.ordered_roles],
        role_labels=[role.label for role in user.ordered_roles],
        home_node=user.home_node,
        department=user.department,
        active=user.active,
    )


async def _known(account_service: AccountService, username: str) -> CountyUser:
    user = await account_service.user(username)
    if user is None:
        raise NotFoundError(f"没有用户名为“{username}”的账号。", code="user_not_found")
    return user


# JSON API


@get("/api/v1/accounts", summary="县中心账号列表", guards=ADMIN_ONLY)
async def list_accounts(account_service: NamedDependency[AccountService]) -> AccountList:
    """Every county account, disabled ones included."""
    return AccountList(accounts=[_view(user) for user in await account_service.users()])


@post("/api/v1/accounts", summary="新增县中心账号", guards=ADMIN_ONLY, status_code=201)
async def create_account(
    data: JSONBody[NewAccount], account_service: NamedDependency[AccountService]
) -> AccountView:
    """Create an account; a second request with the same username is refused (409)."""
    user = await account_service.add_user(
        username=data.username,
        name=data.name,
        roles=data.roles,
        home_node=data.home_node,
        department=data.department,
        password=data.password,
    )
    return _view(user)


@get("/api/v1/accounts/{username:str}", summary="县中心账号详情", guards=ADMIN_ONLY)
async def get_account(
    username: FromPath[str], account_service: NamedDependency[AccountService]
) -> AccountView:
    """One account."""
    return _view(await _known(account_service, username))


@patch("/api/v1/accounts/{username:str}", summary="修改账号角色与范围", guards=ADMIN_ONLY)
async def change_account(
    username: FromPath[str],
    data: JSONBody[AccountChange],
    account_service: NamedDependency[AccountService],
) -> AccountView:
    """Change roles, home node and department."""
    user = await account_service.change_user(
        username,
        roles=data.roles,
        home_node=data.home_node,
        department=data.department,
        name=data.name,
    )
    return _view(user)


@post(
    "/api/v1/accounts/{username:str}/disable",
    summary="停用账号（其登录随即失效）",
    guards=ADMIN_ONLY,
    status_code=200,
)
async def disable_account(
    request: Request[Any, Any, Any],
    username: FromPath[str],
    account_service: NamedDependency[AccountService],
) -> AccountView:
    """Disable an account and end its sessions (never one's own)."""
    await account_service.set_active(username, False, by=require_user(request))
    return _view(await _known(account_service, username))


@post(
    "/api/v1/accounts/{username:str}/enable",
    summary="恢复账号",
    guards=ADMIN_ONLY,
    status_code=200,
)
async def enable_account(
    username: FromPath[str], account_service: NamedDependency[AccountService]
) -> AccountView:
    """Re-enable a disabled account."""
    await account_service.set_active(username, True)
    return _view(await _known(account_service, username))


@post(
    "/api/v1/accounts/{username:str}/password",
    summary="重设账号密码（其登录随即失效）",
    guards=ADMIN_ONLY,
    status_code=200,
)
async def reset_password(
    username: FromPath[str],
    data: JSONBody[PasswordReset],
    account_service: NamedDependency[AccountService],
) -> Closed:
    """Set a new password; the account's open sessions end."""
    return Closed(sessions_closed=await account_service.set_password(username, data.password))


# Pages


def _problems_of(exc: PlatformError) -> list[str]:
    return exc.problems if isinstance(exc, ValidationError) else [exc.message]


def _form_values(form: Any) -> dict[str, Any]:
    return {
        "username": str(form.get("username", "")),
        "name": str(form.get("name", "")),
        "roles": [str(value) for value in form.getall("roles", [])],
        "home_node": str(form.get("home_node", COUNTY_NODE_ID)) or COUNTY_NODE_ID,
        "department": str(form.get("department", "")),
    }


async def _list_page(
    request: Request[Any, Any, Any],
    account_service: AccountService,
    *,
    form: dict[str, Any] | None = None,
    problems: list[str] | None = None,
    status: int = 200,
) -> Template:
    registry = account_service.registry()
    response = page(
        request,
        "accounts.html",
        accounts=await account_service.users(),
        all_roles=list(CountyRole),
        nodes=registry.nodes,
        departments=account_service.departments(),
        form=form
        or {"username": "", "name": "", "roles": [], "home_node": COUNTY_NODE_ID, "department": ""},
        problems=problems or [],
        created=request.query_params.get("created"),
    )
    response.status_code = status
    return response


@get("/admin/accounts", include_in_schema=False, guards=ADMIN_ONLY)
async def accounts_page(
    request: Request[Any, Any, Any], account_service: NamedDependency[AccountService]
) -> Template:
    """Every account, and the form for a new one."""
    return await _list_page(request, account_service)


@post("/admin/accounts", include_in_schema=False, guards=ADMIN_ONLY, status_code=303)
async def create_account_form(
    request: Request[Any, Any, Any], account_service: NamedDependency[AccountService]
) -> Response[Any]:
    """Create from the form; on any problem the form comes back with what was typed."""
    form = await request.form()
    values = _form_values(form)
    try:
        user = await account_service.add_user(
            username=values["username"],
            name=values["name"],
            roles=values["roles"],
            home_node=values["home_node"],
            department=values["department"],
            password=str(form.get("password", "")),
        )
    except PlatformError as exc:
        status = 409 if exc.code == "username_taken" else 422
        return await _list_page(
            request, account_service, form=values, problems=_problems_of(exc), status=status
        )
    return Redirect(f"/admin/accounts?created={user.username}", status_code=303)


async def _edit_page(
    request: Request[Any, Any, Any],
    account_service: AccountService,
    user: CountyUser,
    *,
    form: dict[str, Any] | None = None,
    problems: list[str] | None = None,
    status: int = 200,
) -> Template:
    response = page(
        request,
        "accounts_edit.html",
        account=user,
        all_roles=list(CountyRole),
        nodes=account_service.registry().nodes,
        departments=account_service.departments(),
        form=form
        or {
            "name": user.name,
            "roles": [role.value for role in user.ordered_roles],
            "home_node": user.home_node,
            "department": user.department or "",
        },
        problems=problems or [],
        done=request.query_params.get("done"),
    )
    response.status_code = status
    return response


@get("/admin/accounts/{username:str}", include_in_schema=False, guards=ADMIN_ONLY)
async def account_page(
    request: Request[Any, Any, Any],
    username: FromPath[str],
    account_service: NamedDependency[AccountService],
) -> Template:
    """One account: roles and scope, disable or enable, reset the password."""
    return await _edit_page(request, account_service, await _known(account_service, username))


@post("/admin/accounts/{username:str}", include_in_schema=False, guards=ADMIN_ONLY, status_code=303)
async def change_account_form(
    request: Request[Any, Any, Any],
    username: FromPath[str],
    account_service: NamedDependency[AccountService],
) -> Response[Any]:
    """Save roles, home node and department."""
    user = await _known(account_service, username)
    form = await request.form()
    values = _form_values(form)
    try:
        await account_service.change_user(
            user.username,
            roles=values["roles"],
            home_node=values["home_node"],
            department=values["department"],
            name=values["name"] or None,
        )
    except PlatformError as exc:
        return await _edit_page(
            request, account_service, user, form=values, problems=_problems_of(exc), status=422
        )
    return Redirect(f"/admin/accounts/{user.username}?done=saved", status_code=303)


@post(
    "/admin/accounts/{username:str}/active",
    include_in_schema=False,
    guards=ADMIN_ONLY,
    status_code=303,
)
async def set_active_form(
    request: Request[Any, Any, Any],
    username: FromPath[str],
    account_service: NamedDependency[AccountService],
) -> Response[Any]:
    """Disable or enable, as the button said."""
    user = await _known(account_service, username)
    form = await request.form()
    try:
        await account_service.set_active(
            user.username, form.get("active") == "1", by=require_user(request)
        )
    except PlatformError as exc:
        return await _edit_page(
            request, account_service, user, problems=_problems_of(exc), status=400
        )
    return Redirect(f"/admin/accounts/{user.username}?done=state_changed", status_code=303)


@post(
    "/admin/accounts/{username:str}/password",
    include_in_schema=False,
    guards=ADMIN_ONLY,
    status_code=303,
)
async def reset_password_form(
    request: Request[Any, Any, Any],
    username: FromPath[str],
    account_service: NamedDependency[AccountService],
) -> Response[Any]:
    """Set a new password from the form."""
    user = await _known(account_service, username)
    form = await request.form()
    try:
        await account_service.set_password(user.username, str(form.get("password", "")))
    except PlatformError as exc:
        return await _edit_page(
            request, account_service, user, problems=_problems_of(exc), status=422
        )
    return Redirect(f"/admin/accounts/{user.username}?done=password_reset", status_code=303)


ROUTES: tuple[ControllerRouterHandler, ...] = (
    list_accounts,
    create_account,
    get_account,
    change_account,
    disable_account,
    enable_account,
    reset_password,
    accounts_page,
    create_account_form,
    account_page,
    change_account_form,
    set_active_form,
    reset_password_form,
)
"""Every account administration route, for central.app."""
