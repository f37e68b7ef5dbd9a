"""The clerk's window pages: the queue (/window), the intake form (/window/new) and its result.

The form posts to the same :class:`IntakeService` as the JSON API. A request id made when the
form is first shown travels in a hidden field, so pressing 提交 twice makes one case; the result
is shown after a redirect, so reloading it submits nothing.
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from litestar import Request, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath, FromQuery
from litestar.response import Redirect, Template

from casework.case_view import countdown
from casework.display import mask_name
from casework.intake_form import IntakeForm, application_of, form_from, intake_view
from node.api.auth import current_user, requires_role
from node.identity import NodeIdentity
from node.services.accounts import ANY_STAFF, Role
from node.services.catalog import NodeCatalogService
from node.services.documents import DocumentService
from node.services.intake import IntakeService
from node.services.kiosk import KioskService
from node.services.replication import NodeReplication
from node.storage.case_queue import CaseQueueStore, QueueQuery
from node.storage.intake_store import IntakeStore
from shared.calendar import china_date
from shared.case_state import CaseStatus, Light
from shared.catalog import Catalog, Item
from shared.errors import ConflictError, NotFoundError, PermissionDeniedError, ValidationError
from shared.events import ApplicantKind, IdType
from shared.receipts import make_query_code
from web.pages import page

Clock = Callable[[], datetime]
PER_PAGE = 30


# ---------------------------------------------------------------- light and countdown


def item_of(
    catalog_service: NodeCatalogService, code: str | None, version: int | None
) -> Item | None:
    """The catalog item a case was received under, when this node holds that release."""
    if code is None or version is None:
        return None
    catalog = catalog_service.catalog_for(version)
    if catalog is None:
        return None
    try:
        return catalog.item(code)
    except NotFoundError:
        return None


# ---------------------------------------------------------------- the queue


@dataclass(frozen=True)
class QueueLine:
    """One line of the queue."""

    case_id: str
    receipt_no: str | None
    applicant: str
    item: str
    status: str
    status_label: str
    promised_due: date | None
    light: Light
    remaining: int | None
    forwarded_from: str | None


def _status_label(status: str) -> str:
    try:
        return CaseStatus(status).label
    except ValueError:
        return status


def _matching_items(catalog: Catalog | None, text: str) -> tuple[str, ...]:
    if catalog is None or not text:
        return ()
    needle = text.strip().upper()
    return tuple(
        item.code for item in catalog.items if needle in item.name.upper() or needle == item.code
    )


@get("/window", include_in_schema=False, guards=[requires_role(*ANY_STAFF)])
async def queue_page(
    request: Request[Any, Any, Any],
    *,
    catalog_service: NamedDependency[NodeCatalogService],
    node_identity: NamedDependency[NodeIdentity],
    case_queue: NamedDependency[CaseQueueStore],
    window_clock: NamedDependency[Clock],
    q: FromQuery[str] = "",
    status: FromQuery[str] = "",
    show: FromQuery[str] = "mine",
    page_no: FromQuery[int] = 1,
) -> Template:
    """Cases this node handles, the most urgent first, with search and paging."""
    user = current_user(request)
    held = catalog_service.current()
    text = q.strip()[:50]
    chosen_status = status if status in {s.value for s in CaseStatus} else ""
    mine = show != "all"
    result = case_queue.page(
        QueueQuery(
            handling_node=node_identity.node_id if mine else None,
            text=text,
            item_codes=_matching_items(held.catalog if held else None, text),
            status=chosen_status,
            page=page_no,
            per_page=PER_PAGE,
        )
    )
    calendar = catalog_service.calendar_now()
    today = china_date(window_clock())
    registry = catalog_service.registry_now()
    lines = []
    for row in result.rows:
        item = item_of(catalog_service, row.item_code, row.catalog_version)
        clock = countdown(
            calendar,
            today,
            row.promised_due,
            finished=row.finished,
            warning_days=item.warning_days if item else 1,
        )
        origin = row.origin_node if row.origin_node != node_identity.node_id else None
        origin_record = registry.get(origin) if origin else None
        lines.append(
            QueueLine(
                case_id=row.case_id,
                receipt_no=row.receipt_no,
                applicant=mask_name(row.applicant_name),
                item=item.name if item else (row.item_code or "—"),
                status=row.status,
                status_label=_status_label(row.status),
                promised_due=row.promised_due,
                light=clock.light,
                remaining=clock.remaining,
                forwarded_from=origin_record.name if origin_record else origin,
            )
        )
    return page(
        request,
        "window/queue.html",
        lines=lines,
        result=result,
        q=text,
        status=chosen_status,
        show="mine" if mine else "all",
        statuses=list(CaseStatus),
        can_intake=user is not None and user.has_any([Role.CLERK]),
    )


# ---------------------------------------------------------------- the intake form


def _form_page(
    request: Request[Any, Any, Any],
    *,
    catalog_service: NodeCatalogService,
    identity: NodeIdentity,
    window_clock: Clock,
    form: IntakeForm,
    problems: list[str],
    status: int = 200,
    pre_note: str | None = None,
) -> Template:
    held = catalog_service.current()
    view = intake_view(
        held.catalog if held else None,
        held.version if held else None,
        tier=identity.tier,
        node_id=identity.node_id,
        today=china_date(window_clock()),
        form=form,
        problems=problems,
    )
    response = page(request, view.template, **view.context(), pre_note=pre_note)
    response.status_code = status
    return response


@get("/window/new", include_in_schema=False, guards=[requires_role(Role.CLERK)])
async def intake_page(
    request: Request[Any, Any, Any],
    *,
    catalog_service: NamedDependency[NodeCatalogService],
    node_identity: NamedDependency[NodeIdentity],
    kiosk_service: NamedDependency[KioskService],
    window_clock: NamedDependency[Clock],
    item: FromQuery[str] = "",
    pre: FromQuery[str] = "",
) -> Template:
    """Choose an item, then fill in the application; ``?pre=`` starts from a kiosk slip."""
    form = IntakeForm(request_id=str(uuid.uuid4()), item_code=item.strip())
    problems: list[str] = []
    note = None
    if pre.strip():
        found = kiosk_service.preapplication(pre.strip())
        if found is None:
            problems.append(f"没有找到预申请编号 {pre.strip()}，请核对后重新输入")
        elif found.status != "waiting":
            problems.append(f"预申请 {found.number} 已被受理，不能再次办理")
        else:
            applicant = found.applicant
            organisation = applicant.kind is ApplicantKind.ORGANISATION
            form = IntakeForm(
                request_id=form.request_id,
                item_code=found.item_code,
                pre=found.number,
                kind=applicant.kind.value,
                name=applicant.name,
                id_type=IdType.RESIDENT_ID.value if organisation else applicant.id_type.value,
                id_number="" if organisation else applicant.id_number,
                uscc=applicant.id_number if organisation else "",
                phone=applicant.phone or "",
                handed=list(found.materials),
            )
            note = f"已按自助终端预申请 {found.number} 预填，请核对原件后提交。"
    return _form_page(
        request,
        catalog_service=catalog_service,
        identity=node_identity,
        window_clock=window_clock,
        form=form,
        problems=problems,
        pre_note=note,
    )


@post("/window/new", include_in_schema=False, guards=[requires_role(Role.CLERK)], status_code=303)
async def intake_submit(
    request: Request[Any, Any, Any],
    *,
    catalog_service: NamedDependency[NodeCatalogService],
    node_identity: NamedDependency[NodeIdentity],
    intake_service: NamedDependency[IntakeService],
    kiosk_service: NamedDependency[KioskService],
    window_clock: NamedDependency[Clock],
) -> Template | Redirect:
    """Record the application; problems come back beside the form with everything kept."""
    user = current_user(request)
    assert user is not None  # the guard admitted the request
    form = form_from(await request.form())
    application, problems = application_of(form)
    if application is None:
        return _form_page(
            request,
            catalog_service=catalog_service,
            identity=node_identity,
            window_clock=window_clock,
            form=form,
            problems=problems,
            status=422,
        )
    try:
        result = await intake_service.submit(application, user.username)
    except (ValidationError, PermissionDeniedError) as exc:
        found = exc.problems if isinstance(exc, ValidationError) else [str(exc)]
        return _form_page(
            request,
            catalog_service=catalog_service,
            identity=node_identity,
            window_clock=window_clock,
            form=form,
            problems=found,
            status=422,
        )
    if form.pre:
        # The case is recorded; a lost link to the slip is not worth failing the intake.
        with contextlib.suppress(NotFoundError, ConflictError):
            kiosk_service.mark_picked_up(form.pre, result.case_id)
    return Redirect(f"/window/done/{result.case_id}", status_code=303)


@get("/window/done/{case_id:str}", include_in_schema=False, guards=[requires_role(*ANY_STAFF)])
async def intake_result(
    request: Request[Any, Any, Any],
    *,
    case_id: FromPath[str],
    node_replication: NamedDependency[NodeReplication],
    intake_store: NamedDependency[IntakeStore],
    catalog_service: NamedDependency[NodeCatalogService],
    document_service: NamedDependency[DocumentService],
) -> Template:
    """Receipt number, query code, promised due day and the notices to print."""
    row = (await node_replication.replica.store.case_rows([case_id])).get(case_id)
    if row is None:
        raise NotFoundError(f"本节点没有编号为 {case_id} 的办件。", code="case_not_found")
    query_code = (
        make_query_code(intake_store.query_secret(), row.receipt_no) if row.receipt_no else None
    )
    item = item_of(catalog_service, row.item_code, row.catalog_version)
    return page(
        request,
        "window/intake_result.html",
        row=row,
        item=item,
        applicant=mask_name(row.applicant_name),
        status_label=_status_label(row.status),
        query_code=query_code,
        documents=await document_service.available(case_id),
    )
