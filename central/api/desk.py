"""The county staff landing page (工作台): who is logged in and what their roles can open."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from litestar import Request, get
from litestar.response import Template

from central.api.auth import require_user, requires_role
from central.services.accounts import ANY_COUNTY_STAFF, CountyRole, CountyUser
from web.i18n import add_messages
from web.pages import page


@dataclass(frozen=True)
class DeskLink:
    """One thing a role can open from the desk."""

    href: str
    label_key: str
    roles: frozenset[CountyRole]
    api: bool = False


_LINKS: list[DeskLink] = []


def add_desk_link(
    href: str, label_key: str, roles: tuple[CountyRole, ...], *, api: bool = False
) -> None:
    """Offer a page (or JSON API) on the desk to users holding any of ``roles``.

    Modules that add county screens call this at import, beside their handlers.
    """
    link = DeskLink(href=href, label_key=label_key, roles=frozenset(roles), api=api)
    if all(known.href != href for known in _LINKS):
        _LINKS.append(link)


def links_for(user: CountyUser) -> list[DeskLink]:
    """The desk entries the user's roles open, in the order they were added."""
    return [link for link in _LINKS if user.has_any(link.roles)]


add_messages(
    {
        "desk.county_scope": {"zh": "可查看范围", "en": "You may see"},
        "desk.whole_county": {"zh": "全县所有服务点", "en": "every service point of the county"},
        "desk.subtree_of": {
            "zh": "本节点及其下级服务点",
            "en": "this node and the service points below it",
        },
        "desk.home_node": {"zh": "所属节点", "en": "Home node"},
        "desk.department": {"zh": "所属部门", "en": "Department"},
        "desk.open": {"zh": "可以打开", "en": "You can open"},
        "desk.nothing": {"zh": "您的角色暂无可打开的页面。", "en": "Nothing to open yet."},
        "desk.api_note": {"zh": "接口", "en": "API"},
        "desk.link.accounts": {"zh": "账号管理", "en": "Accounts"},
        "desk.link.catalog_admin": {"zh": "事项目录管理", "en": "Catalog administration"},
        "desk.link.supervision_cases": {"zh": "电子监察：办件", "en": "Supervision: cases"},
        "desk.link.supervision_signals": {
            "zh": "电子监察：异常信号",
            "en": "Supervision: signals",
        },
        "desk.link.guide": {"zh": "办事指南", "en": "Service guide"},
        "desk.link.schema": {"zh": "接口文档", "en": "API documentation"},
    }
)

add_desk_link("/admin/accounts", "desk.link.accounts", (CountyRole.ADMIN,))
add_desk_link(
    "/admin/catalog", "desk.link.catalog_admin", (CountyRole.ADMIN, CountyRole.CATALOG_REVIEWER)
)
add_desk_link(
    "/api/v1/supervision/cases",
    "desk.link.supervision_cases",
    (CountyRole.SUPERVISOR,),
    api=True,
)
add_desk_link(
    "/api/v1/supervision/signals",
    "desk.link.supervision_signals",
    (CountyRole.SUPERVISOR,),
    api=True,
)
add_desk_link("/", "desk.link.guide", ANY_COUNTY_STAFF)
add_desk_link("/schema", "desk.link.schema", ANY_COUNTY_STAFF, api=True)


@get("/desk", include_in_schema=False, guards=[requires_role()], sync_to_thread=False)
def desk(request: Request[Any, Any, Any]) -> Template:
    """The landing page after log-in."""
    user = require_user(request)
    return page(request, "desk.html", user=user, links=links_for(user))
