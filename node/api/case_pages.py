"""The case page (/cases/{id}): status, deadlines, light, 容缺, urges, reviews, flags, timeline.

The applicant's name is masked and the ID number never shown. The action forms of the case
(handling, review, decision) come from the ``window/case_actions.html`` partial, which is included
when it exists.
"""

from __future__ import annotations

from typing import Any

from litestar import Request, get
from litestar.di import NamedDependency
from litestar.params import FromPath
from litestar.response import Template

from casework.case_view import countdown, node_name, timeline
from casework.display import mask_name
from node.api.auth import current_user, requires_role
from node.api.window_pages import Clock, item_of
from node.identity import NodeIdentity
from node.services.accounts import ANY_STAFF
from node.services.catalog import NodeCatalogService
from node.services.documents import DocumentService
from node.services.replication import NodeReplication
from shared.calendar import china_date
from shared.case_state import CaseStatus
from shared.errors import NotFoundError
from sync.casedoc import events_of
from sync.projection import decode_view
from web.pages import page


@get("/cases/{case_id:str}", include_in_schema=False, guards=[requires_role(*ANY_STAFF)])
async def case_page(
    request: Request[Any, Any, Any],
    *,
    case_id: FromPath[str],
    node_replication: NamedDependency[NodeReplication],
    catalog_service: NamedDependency[NodeCatalogService],
    node_identity: NamedDependency[NodeIdentity],
    document_service: NamedDependency[DocumentService],
    window_clock: NamedDependency[Clock],
) -> Template:
    """Everything about one case, and the documents that can be printed for it."""
    store = node_replication.replica.store
    row = (await store.case_rows([case_id])).get(case_id)
    if row is None:
        raise NotFoundError(f"本节点没有编号为 {case_id} 的办件。", code="case_not_found")
    state = decode_view(row.state_json).state
    events = events_of((await store.case_states([case_id])).get(case_id))
    registry = catalog_service.registry_now()
    item = item_of(catalog_service, row.item_code, row.catalog_version)
    materials = {m.code: m.name for m in item.materials} if item else {}
    clock = countdown(
        catalog_service.calendar_now(),
        china_date(window_clock()),
        row.promised_due,
        finished=row.finished,
        warning_days=item.warning_days if item else 1,
    )
    user = current_user(request)
    return page(
        request,
        "window/case.html",
        row=row,
        case=row,
        state=state,
        user=user,
        item=item,
        applicant=mask_name(row.applicant_name),
        status_label=CaseStatus(state.status).label,
        light=clock.light,
        remaining=clock.remaining,
        origin=node_name(registry, row.origin_node),
        handling=node_name(registry, row.handling_node),
        here=row.handling_node == node_identity.node_id,
        timeline=timeline(events, registry, materials),
        documents=await document_service.available(case_id),
        materials=materials,
    )
