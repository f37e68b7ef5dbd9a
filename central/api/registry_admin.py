"""Node registry administration: /admin/nodes pages and /api/v1/admin/nodes.

Administrators see the whole tree, issue one-time enrollment tokens for new nodes and revoke,
quarantine or reinstate a node with a reason (each change republishes the release, so the
registry reaches every tier with the next sync). Supervisors read the tree of their subtree.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import msgspec
from litestar import Request, Response, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath, JSONBody
from litestar.response import Redirect, Template
from litestar.types import ControllerRouterHandler

from central.api.auth import require_user, requires_role
from central.api.desk import add_desk_link
from central.services.accounts import CountyRole, CountyUser, ensure_node_visible
from central.services.node_contact import (
    NodeContactService,
    NodeView,
    check_reason,
    parse_new_node,
    parse_status,
)
from central.services.registry import DEFAULT_TOKEN_HOURS, RegistryService
from central.services.releases import ReleaseService
from shared.errors import ConflictError, NotFoundError, PlatformError, ValidationError
from shared.registry import COUNTY_NODE_ID
from web.i18n import add_messages
from web.pages import page

READERS = [requires_role(CountyRole.ADMIN, CountyRole.SUPERVISOR)]
ADMIN_ONLY = [requires_role(CountyRole.ADMIN)]

add_messages(
    {
        "desk.link.nodes": {"zh": "节点登记与运行状况", "en": "Node registry"},
        "nodes.title": {"zh": "节点登记", "en": "Node registry"},
        "nodes.intro": {
            "zh": "全县服务点的树：层级、上级、密钥指纹、状态、最近联系、积压与软件版本。"
            "村（社区）节点经乡镇转发记录，县中心只知道其记录最近何时经谁转来。",
            "en": "The tree of service points. Communities relay through their township: "
            "the county only knows when their records last arrived and through whom.",
        },
        "nodes.node": {"zh": "节点", "en": "Node"},
        "nodes.tier": {"zh": "层级", "en": "Tier"},
        "nodes.parent": {"zh": "上级", "en": "Parent"},
        "nodes.short_code": {"zh": "简码", "en": "Code"},
        "nodes.fingerprint": {"zh": "密钥指纹", "en": "Key fingerprint"},
        "nodes.not_enrolled": {"zh": "尚未注册", "en": "not enrolled"},
        "nodes.status": {"zh": "状态", "en": "Status"},
        "nodes.contact": {"zh": "最近联系", "en": "Last contact"},
        "nodes.direct": {"zh": "本节点同步", "en": "synced itself"},
        "nodes.relayed": {"zh": "记录经 {by} 转来", "en": "records relayed by {by}"},
        "nodes.never": {"zh": "从未联系", "en": "never"},
        "nodes.backlog": {"zh": "积压", "en": "Backlog"},
        "nodes.held": {"zh": "县中心暂扣", "en": "held at county"},
        "nodes.feed_waiting": {"zh": "待其拉取", "en": "waiting for it"},
        "nodes.reported_waiting": {"zh": "节点报告待上传（上限）", "en": "reported unsent (max)"},
        "nodes.version": {"zh": "软件版本", "en": "Version"},
        "nodes.unknown": {"zh": "未上报", "en": "not reported"},
        "nodes.manage": {"zh": "管理", "en": "Manage"},
        "nodes.view": {"zh": "查看", "en": "View"},
        "nodes.new": {"zh": "登记新节点并签发注册令牌", "en": "Register a node and issue a token"},
        "nodes.node_id": {"zh": "节点标识（如 zhen-shifan）", "en": "Node id"},
        "nodes.name": {"zh": "名称", "en": "Name"},
        "nodes.hours": {"zh": "令牌有效期（小时）", "en": "Token valid for (hours)"},
        "nodes.issue": {"zh": "登记并签发令牌", "en": "Register and issue"},
        "nodes.token_once": {
            "zh": "注册令牌只显示这一次，请交给该节点的安装人员，在有效期内使用：",
            "en": "The token is shown once only; hand it to the node's installer:",
        },
        "nodes.expires": {"zh": "有效期至", "en": "Expires"},
        "nodes.change_status": {"zh": "更改状态", "en": "Change status"},
        "nodes.reason": {"zh": "原因（必填）", "en": "Reason (required)"},
        "nodes.apply": {"zh": "确认更改并发布新版本", "en": "Apply and publish"},
        "nodes.changed": {
            "zh": "状态已更改，已发布第 {v} 版目录（含节点登记表）。",
            "en": "Status changed; release {v} published.",
        },
        "nodes.problems": {"zh": "请修改以下问题：", "en": "Please fix the following:"},
        "nodes.back": {"zh": "返回节点登记", "en": "Back to the registry"},
        "nodes.calls": {"zh": "同步次数", "en": "Sync calls"},
        "nodes.last_record": {"zh": "最新记录到达", "en": "Newest record arrived"},
        "nodes.enrolled_at": {"zh": "注册时间", "en": "Enrolled"},
        "nodes.reason_now": {"zh": "状态原因", "en": "Status reason"},
        "nodes.read_only": {
            "zh": "您可以查看本辖区的节点；登记与更改状态需要系统管理员角色。",
            "en": "You may view your subtree; changes need the administrator role.",
        },
        "nodes.status.active": {"zh": "恢复正常", "en": "Reinstate"},
        "nodes.status.quarantined": {"zh": "隔离", "en": "Quarantine"},
        "nodes.status.revoked": {"zh": "吊销", "en": "Revoke"},
    }
)

add_desk_link("/admin/nodes", "desk.link.nodes", (CountyRole.ADMIN, CountyRole.SUPERVISOR))


class NodeList(msgspec.Struct, frozen=True, kw_only=True):
    """The registry tree in display order (each node after its parent)."""

    nodes: list[NodeView]


class NewNodeRequest(msgspec.Struct, frozen=True, kw_only=True):
    """A node to register; its key comes later, when it enrolls with the token."""

    node_id: str
    name: str
    tier: str
    parent: str
    short_code: str
    hours: int = DEFAULT_TOKEN_HOURS


@dataclass(frozen=True)
class IssuedTokenView:
    """The one-time token (shown once; only its hash is stored)."""

    node_id: str
    token: str
    expires_at: datetime


class StatusChange(msgspec.Struct, frozen=True, kw_only=True):
    """A new status with its reason."""

    status: str
    reason: str = ""


@dataclass(frozen=True)
class StatusChanged:
    """The node after the change and the release that carries it."""

    node: NodeView
    release_version: int


async def _visible_node(service: NodeContactService, user: CountyUser, node_id: str) -> NodeView:
    ensure_node_visible(user, node_id)
    found = await service.node(node_id)
    if found is None:
        raise NotFoundError(f"节点 {node_id} 未登记。", code="node_not_found")
    return found


async def _issue(
    registry: RegistryService,
    contacts: NodeContactService,
    user: CountyUser,
    values: dict[str, Any],
) -> IssuedTokenView:
    new = parse_new_node(**values)
    if await contacts.node(new.record.node_id) is not None:
        # A repeated submission: refused as a conflict, and no second token is issued.
        raise ConflictError(f"节点标识 {new.record.node_id} 已登记。", code="node_exists")
    issued = await registry.issue_token(new.record, by=user.username, hours=new.hours)
    return IssuedTokenView(node_id=issued.node_id, token=issued.token, expires_at=issued.expires_at)


async def _set_status(
    *,
    registry: RegistryService,
    releases: ReleaseService,
    contacts: NodeContactService,
    user: CountyUser,
    node_id: str,
    status: str,
    reason: str,
) -> StatusChanged:
    before = await _visible_node(contacts, user, node_id)
    problems: list[str] = []
    try:
        wanted = parse_status(status)
    except ValidationError as exc:
        problems += exc.problems
    try:
        text = check_reason(reason)
    except ValidationError as exc:
        problems += exc.problems
    if problems:
        raise ValidationError(problems)
    if before.status == wanted.value and before.status_reason == text:
        # A repeated submission: the release in force already says so.
        current = await releases.current()
        return StatusChanged(node=before, release_version=current.version if current else 0)
    release = await registry.set_status(
        node_id, wanted, reason=text, by=f"{user.username}:node-status"
    )
    node = await _visible_node(contacts, user, node_id)
    return StatusChanged(node=node, release_version=release.version)


# JSON API


@get("/api/v1/admin/nodes", summary="节点登记树（含最近联系、积压、版本）", guards=READERS)
async def list_nodes(
    request: Request[Any, Any, Any], node_contacts: NamedDependency[NodeContactService]
) -> NodeList:
    """The nodes the caller may see, each after its parent."""
    return NodeList(nodes=await node_contacts.tree(require_user(request).visible))


@get("/api/v1/admin/nodes/{node_id:str}", summary="单个节点的登记与运行状况", guards=READERS)
async def get_node(
    request: Request[Any, Any, Any],
    node_id: FromPath[str],
    node_contacts: NamedDependency[NodeContactService],
) -> NodeView:
    """One node, if it lies in the caller's subtree."""
    return await _visible_node(node_contacts, require_user(request), node_id)


@post(
    "/api/v1/admin/nodes",
    summary="登记新节点并签发一次性注册令牌（系统管理员）",
    guards=ADMIN_ONLY,
    status_code=201,
)
async def create_node(
    request: Request[Any, Any, Any],
    data: JSONBody[NewNodeRequest],
    registry_service: NamedDependency[RegistryService],
    node_contacts: NamedDependency[NodeContactService],
) -> IssuedTokenView:
    """Register a node; the token is in this answer only. A repeat is refused (409)."""
    values = msgspec.structs.asdict(data)
    return await _issue(registry_service, node_contacts, require_user(request), values)


@post(
    "/api/v1/admin/nodes/{node_id:str}/status",
    summary="吊销、隔离或恢复节点（须填写原因，发布新版本）",
    guards=ADMIN_ONLY,
    status_code=200,
)
async def change_status(
    request: Request[Any, Any, Any],
    *,
    node_id: FromPath[str],
    data: JSONBody[StatusChange],
    registry_service: NamedDependency[RegistryService],
    release_service: NamedDependency[ReleaseService],
    node_contacts: NamedDependency[NodeContactService],
) -> StatusChanged:
    """Revoke, quarantine or reinstate; a release with the new registry is published."""
    return await _set_status(
        registry=registry_service,
        releases=release_service,
        contacts=node_contacts,
        user=require_user(request),
        node_id=node_id,
        status=data.status,
        reason=data.reason,
    )


# Pages


EMPTY_NEW = {
    "node_id": "",
    "name": "",
    "tier": "township",
    "parent": COUNTY_NODE_ID,
    "short_code": "",
    "hours": str(DEFAULT_TOKEN_HOURS),
}


async def _tree_page(
    request: Request[Any, Any, Any],
    contacts: NodeContactService,
    *,
    form: dict[str, str] | None = None,
    problems: list[str] | None = None,
    issued: IssuedTokenView | None = None,
    status: int = 200,
) -> Template:
    user = require_user(request)
    nodes = await contacts.tree(user.visible)
    response = page(
        request,
        "admin_nodes.html",
        nodes=nodes,
        parents=[n for n in nodes if n.tier != "community"],
        editable=user.has_any([CountyRole.ADMIN]),
        form=form or EMPTY_NEW,
        problems=problems or [],
        issued=issued,
    )
    response.status_code = status
    return response


@get("/admin/nodes", include_in_schema=False, guards=READERS)
async def nodes_page(
    request: Request[Any, Any, Any], node_contacts: NamedDependency[NodeContactService]
) -> Template:
    """The registry tree; administrators also get the form for a new node."""
    return await _tree_page(request, node_contacts)


@post("/admin/nodes", include_in_schema=False, guards=ADMIN_ONLY, status_code=200)
async def create_node_form(
    request: Request[Any, Any, Any],
    registry_service: NamedDependency[RegistryService],
    node_contacts: NamedDependency[NodeContactService],
) -> Template:
    """Register from the form and show the token once; problems keep what was typed."""
    form = await request.form()
    typed = {name: str(form.get(name, "")).strip() for name in EMPTY_NEW}
    try:
        issued = await _issue(registry_service, node_contacts, require_user(request), dict(typed))
    except PlatformError as exc:
        problems = exc.problems if isinstance(exc, ValidationError) else [exc.message]
        status = 409 if exc.code == "node_exists" else 422
        return await _tree_page(
            request, node_contacts, form=typed, problems=problems, status=status
        )
    # Rendered, not redirected: the token must never travel in a URL or be retrievable again.
    return await _tree_page(request, node_contacts, issued=issued, status=201)


async def _node_page(
    request: Request[Any, Any, Any],
    contacts: NodeContactService,
    node_id: str,
    *,
    form: dict[str, str] | None = None,
    problems: list[str] | None = None,
    status: int = 200,
) -> Template:
    user = require_user(request)
    node = await _visible_node(contacts, user, node_id)
    response = page(
        request,
        "admin_nodes_detail.html",
        node=node,
        editable=user.has_any([CountyRole.ADMIN]) and node.node_id != COUNTY_NODE_ID,
        form=form or {"status": "", "reason": ""},
        problems=problems or [],
        changed=request.query_params.get("changed"),
    )
    response.status_code = status
    return response


@get("/admin/nodes/{node_id:str}", include_in_schema=False, guards=READERS)
async def node_page(
    request: Request[Any, Any, Any],
    node_id: FromPath[str],
    node_contacts: NamedDependency[NodeContactService],
) -> Template:
    """One node; administrators may change its status."""
    return await _node_page(request, node_contacts, node_id)


@post(
    "/admin/nodes/{node_id:str}/status",
    include_in_schema=False,
    guards=ADMIN_ONLY,
    status_code=303,
)
async def change_status_form(
    request: Request[Any, Any, Any],
    *,
    node_id: FromPath[str],
    registry_service: NamedDependency[RegistryService],
    release_service: NamedDependency[ReleaseService],
    node_contacts: NamedDependency[NodeContactService],
) -> Response[Any]:
    """Apply a status change from the form (reason required)."""
    form = await request.form()
    typed = {"status": str(form.get("status", "")), "reason": str(form.get("reason", ""))}
    try:
        changed = await _set_status(
            registry=registry_service,
            releases=release_service,
            contacts=node_contacts,
            user=require_user(request),
            node_id=node_id,
            status=typed["status"],
            reason=typed["reason"],
        )
    except ValidationError as exc:
        return await _node_page(
            request, node_contacts, node_id, form=typed, problems=exc.problems, status=422
        )
    return Redirect(f"/admin/nodes/{node_id}?changed={changed.release_version}", status_code=303)


ROUTES: tuple[ControllerRouterHandler, ...] = (
    list_nodes,
    get_node,
    create_node,
    change_status,
    nodes_page,
    create_node_form,
    node_page,
    change_status_form,
)
"""Every node registry administration route, for central.app."""
