"""The clerk's landing page (工作台): who is logged in, this node, and the link to the parent."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from litestar import Request, get
from litestar.di import NamedDependency
from litestar.response import Template

from node.api.auth import current_user, requires_role
from node.identity import NodeIdentity
from node.services.accounts import ANY_STAFF
from node.services.catalog import NodeCatalogService
from node.services.replication import NodeReplication
from node.services.status import NodeStatusService
from shared.calendar import CHINA_TZ
from web.pages import page


def china_time(moment: datetime | None) -> str:
    """An instant as a clerk reads it: Beijing time to the second (empty when unknown)."""
    if moment is None:
        return ""
    return moment.astimezone(CHINA_TZ).strftime("%Y-%m-%d %H:%M:%S")


@get("/desk", include_in_schema=False, guards=[requires_role(*ANY_STAFF)])
async def desk(
    request: Request[Any, Any, Any],
    status_service: NamedDependency[NodeStatusService],
    node_replication: NamedDependency[NodeReplication],
    node_identity: NamedDependency[NodeIdentity],
    catalog_service: NamedDependency[NodeCatalogService],
) -> Template:
    """Whether the parent is reachable, the last successful sync and how much is waiting."""
    sync = node_replication.status
    if sync.last_attempt is None:
        # Before the first sync (or with the background loop off) the count was never taken.
        await node_replication.refresh_waiting()
    parent = await status_service.parent()
    held = catalog_service.current()
    return page(
        request,
        "desk.html",
        user=current_user(request),
        identity=node_identity,
        parent=parent,
        sync=sync,
        catalog_version=held.version if held else None,
        china_time=china_time,
    )
