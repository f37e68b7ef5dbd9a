"""The clerk's case API: register an application, read one case, list cases.

Responses never carry an applicant's ID number, and names are masked (张*英) so a list on a
hall screen gives nothing away.
"""

from __future__ import annotations

from datetime import date
from typing import Any

import msgspec
from litestar import Request, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath, FromQuery, JSONBody

from casework.display import mask_name
from node.api.auth import current_user, requires_role
from node.services.accounts import ANY_STAFF, Role
from node.services.catalog import NodeCatalogService
from node.services.intake import Application, IntakeResult, IntakeService
from node.services.replication import NodeReplication
from node.storage.intake_store import IntakeStore
from shared.calendar import CHINA_TZ
from shared.case_state import CaseStatus, Light
from shared.errors import NotFoundError
from shared.events import (
    Accepted,
    CaseEvent,
    CorrectionRequested,
    DecidedOnSpot,
    Forwarded,
    Received,
    Refused,
)
from sync.casedoc import events_of
from sync.projection import decode_view
from sync.store import CaseRow


class TimelineEntry(msgspec.Struct, frozen=True, kw_only=True):
    """One event of a case as a clerk reads it."""

    kind: str
    label: str
    recorded_at: str
    node_id: str
    actor: str
    detail: str


class CaseDetail(msgspec.Struct, frozen=True, kw_only=True):
    """One case: status, deadlines, light and timeline."""

    case_id: str
    receipt_no: str | None
    item_code: str | None
    item_name: str | None
    status: str
    status_label: str
    applicant_name: str
    origin_node: str | None
    handling_node: str | None
    received_on: date | None
    accepted_on: date | None
    correction_notice_due: date | None
    promised_due: date | None
    statutory_due: date | None
    due_provisional: bool
    remaining_working_days: int | None
    light: str
    light_label: str
    finished: bool
    deferred_outstanding: list[str]
    timeline: list[TimelineEntry]


class CaseSummary(msgspec.Struct, frozen=True, kw_only=True):
    """One line of the case list."""

    case_id: str
    receipt_no: str | None
    applicant_name: str
    item_code: str | None
    item_name: str | None
    status: str
    status_label: str
    promised_due: date | None
    light: str
    light_label: str


@post(
    "/api/v1/cases",
    summary="登记申请（收件、受理、补正告知、不予受理、即办）",
    guards=[requires_role(Role.CLERK)],
    status_code=201,
)
async def create_case(
    request: Request[Any, Any, Any],
    data: JSONBody[Application],
    intake_service: NamedDependency[IntakeService],
) -> IntakeResult:
    """Check the application against the catalog in force and record it as one case."""
    user = current_user(request)
    assert user is not None  # the guard admitted the request
    return await intake_service.submit(data, user.username)


@get("/api/v1/cases/{case_id:str}", summary="办件详情", guards=[requires_role(*ANY_STAFF)])
async def get_case(
    case_id: FromPath[str],
    node_replication: NamedDependency[NodeReplication],
    catalog_service: NamedDependency[NodeCatalogService],
) -> CaseDetail:
    """Status, deadlines, light and the timeline of one case."""
    store = node_replication.replica.store
    row = (await store.case_rows([case_id])).get(case_id)
    if row is None:
        raise NotFoundError(f"本节点没有编号为 {case_id} 的办件。", code="case_not_found")
    state = decode_view(row.state_json).state
    events = events_of((await store.case_states([case_id])).get(case_id))
    events.sort(key=lambda e: (e.hlc.wall_ms, e.hlc.counter, e.node_id, e.id))
    return CaseDetail(
        case_id=row.case_id,
        receipt_no=row.receipt_no,
        item_code=row.item_code,
        item_name=_item_name(catalog_service, row),
        status=row.status,
        status_label=_status_label(row.status),
        applicant_name=mask_name(row.applicant_name),
        origin_node=row.origin_node,
        handling_node=row.handling_node,
        received_on=row.received_on,
        accepted_on=row.accepted_on,
        correction_notice_due=(
            state.correction_notice_due.due if state.correction_notice_due else None
        ),
        promised_due=row.promised_due,
        statutory_due=row.statutory_due,
        due_provisional=row.due_provisional,
        remaining_working_days=state.remaining_working_days,
        light=state.light.value,
        light_label=state.light.label,
        finished=row.finished,
        deferred_outstanding=[d.code for d in state.deferred_outstanding],
        timeline=[_entry(e) for e in events],
    )


@get("/api/v1/cases", summary="办件列表", guards=[requires_role(*ANY_STAFF)])
async def list_cases(
    node_replication: NamedDependency[NodeReplication],
    catalog_service: NamedDependency[NodeCatalogService],
    intake_store: NamedDependency[IntakeStore],
    q: FromQuery[str] = "",
    status: FromQuery[str] = "",
) -> list[CaseSummary]:
    """Cases newest first (at most 100), by receipt number, name or item code and status."""
    ids = intake_store.find_case_ids(q.strip(), status.strip())
    rows = await node_replication.replica.store.case_rows(ids)
    found = []
    for case_id in ids:
        row = rows.get(case_id)
        if row is None:
            continue
        light = _light(row.light)
        found.append(
            CaseSummary(
                case_id=row.case_id,
                receipt_no=row.receipt_no,
                applicant_name=mask_name(row.applicant_name),
                item_code=row.item_code,
                item_name=_item_name(catalog_service, row),
                status=row.status,
                status_label=_status_label(row.status),
                promised_due=row.promised_due,
                light=light.value,
                light_label=light.label,
            )
        )
    return found


def _item_name(catalog_service: NodeCatalogService, row: CaseRow) -> str | None:
    if row.item_code is None or row.catalog_version is None:
        return None
    catalog = catalog_service.catalog_for(row.catalog_version)
    if catalog is None:
        return None
    try:
        return catalog.item(row.item_code).name
    except NotFoundError:
        return None


def _status_label(status: str) -> str:
    try:
        return CaseStatus(status).label
    except ValueError:
        return status


def _light(value: str | None) -> Light:
    try:
        return Light(value or Light.NONE.value)
    except ValueError:
        return Light.NONE


def _entry(event: CaseEvent) -> TimelineEntry:
    return TimelineEntry(
        kind=event.KIND,
        label=event.LABEL,
        recorded_at=event.recorded_at.astimezone(CHINA_TZ).isoformat(timespec="seconds"),
        node_id=event.node_id,
        actor=event.actor,
        detail=_detail(event),
    )


def _detail(event: CaseEvent) -> str:
    # The applicant block of a receipt is left out on purpose: it holds the ID number.
    if isinstance(event, Received):
        return "收取材料：" + ("、".join(event.materials) or "无")
    if isinstance(event, Accepted):
        deferred = "、".join(f"{d.name}（{d.due}前补齐）" for d in event.deferred)
        return f"受理编号 {event.receipt_no}" + (f"；容缺：{deferred}" if deferred else "")
    if isinstance(event, CorrectionRequested):
        return "需补正：" + "、".join(f"{m.name}（{m.requirement}）" for m in event.missing)
    if isinstance(event, Refused):
        return event.reason + (f"；请向{event.referral}申请" if event.referral else "")
    if isinstance(event, DecidedOnSpot):
        return event.outcome.label
    if isinstance(event, Forwarded):
        return f"{event.mode.label}至 {event.to_node}：{event.reason}"
    return ""
