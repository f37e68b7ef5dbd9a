"""The county window's intake pages: /window/new (choose an item, then the application form),
the result with the notices to print, and the printed notices.

The nodes' pages on the county's services: the same templates, the form read and checked by
:mod:`casework.intake_form`, recorded by :meth:`central.services.window.CountyWindow.receive`
like the JSON API. A request id made when the form is first shown travels in a hidden field,
so pressing 提交 twice makes one case; the result is shown after a redirect, so reloading it
submits nothing.
"""

from __future__ import annotations

import uuid
from typing import Any

from litestar import Request, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath, FromQuery
from litestar.response import Redirect, Template

from casework.intake_form import IntakeForm, application_of, form_from, intake_view
from central.api.auth import require_user, requires_role
from central.api.case_pages import WINDOW_ROLES, Clock, item_of
from central.services.accounts import CountyRole
from central.services.portal import mask_name
from central.services.releases import ReleaseService
from central.services.window import CountyWindow, ensure_county_window
from central.services.window_documents import CountyDocuments
from shared.calendar import china_date
from shared.case_state import CaseStatus
from shared.delegation import Tier
from shared.errors import PermissionDeniedError, ValidationError
from shared.registry import COUNTY_NODE_ID
from web.document_page import document_kind, render_document
from web.pages import page

_CLERK = [requires_role(CountyRole.CLERK)]


def _form_page(
    request: Request[Any, Any, Any],
    *,
    releases: ReleaseService,
    clock: Clock,
    form: IntakeForm,
    problems: list[str],
    status: int = 200,
) -> Template:
    held = releases.cached()
    view = intake_view(
        held.catalog if held else None,
        held.version if held else None,
        tier=Tier.COUNTY,
        node_id=COUNTY_NODE_ID,
        today=china_date(clock()),
        form=form,
        problems=problems,
    )
    # Pre-applications are made at a node's kiosk and taken up at that node's window.
    response = page(request, view.template, **view.context(), preapplications=False)
    response.status_code = status
    return response


@get("/window/new", include_in_schema=False, guards=_CLERK)
async def county_intake_page(
    request: Request[Any, Any, Any],
    *,
    release_service: NamedDependency[ReleaseService],
    window_clock: NamedDependency[Clock],
    item: FromQuery[str] = "",
) -> Template:
    """The items the county window may take today, then the application form of the chosen one."""
    ensure_county_window(require_user(request))
    return _form_page(
        request,
        releases=release_service,
        clock=window_clock,
        form=IntakeForm(request_id=str(uuid.uuid4()), item_code=item.strip()),
        problems=[],
    )


@post("/window/new", include_in_schema=False, guards=_CLERK, status_code=303)
async def county_intake_submit(
    request: Request[Any, Any, Any],
    *,
    county_window: NamedDependency[CountyWindow],
    release_service: NamedDependency[ReleaseService],
    window_clock: NamedDependency[Clock],
) -> Template | Redirect:
    """Record the application; problems come back beside the form with everything kept."""
    user = require_user(request)
    ensure_county_window(user)
    form = form_from(await request.form())
    application, problems = application_of(form)
    if application is not None:
        try:
            result = await county_window.receive(application, user)
        except (ValidationError, PermissionDeniedError) as exc:
            problems = exc.problems if isinstance(exc, ValidationError) else [str(exc)]
        else:
            return Redirect(f"/window/done/{result.case_id}", status_code=303)
    return _form_page(
        request,
        releases=release_service,
        clock=window_clock,
        form=form,
        problems=problems,
        status=422,
    )


@get("/window/done/{case_id:str}", include_in_schema=False, guards=[requires_role(*WINDOW_ROLES)])
async def county_intake_result(
    request: Request[Any, Any, Any],
    *,
    case_id: FromPath[str],
    county_window: NamedDependency[CountyWindow],
    county_documents: NamedDependency[CountyDocuments],
    release_service: NamedDependency[ReleaseService],
) -> Template:
    """Receipt number, query code, promised due day and the notices to print."""
    user = require_user(request)
    await county_window.state(case_id, user)
    row = (await county_window.replica.store.case_rows([case_id]))[case_id]
    try:
        status_label = CaseStatus(row.status).label
    except ValueError:
        status_label = row.status
    here = row.origin_node == COUNTY_NODE_ID
    return page(
        request,
        "window/intake_result.html",
        row=row,
        item=item_of(release_service, row.item_code, row.catalog_version),
        applicant=mask_name(row.applicant_name),
        status_label=status_label,
        query_code=await county_window.query_code(row.receipt_no) if here else None,
        documents=await county_documents.available(case_id, user),
    )


@get(
    "/cases/{case_id:str}/documents/{kind:str}",
    include_in_schema=False,
    guards=[requires_role(CountyRole.CLERK, CountyRole.APPROVER)],
)
async def county_document_page(
    request: Request[Any, Any, Any],
    *,
    case_id: FromPath[str],
    kind: FromPath[str],
    county_documents: NamedDependency[CountyDocuments],
) -> Template:
    """The notice on an A4 page, issued (numbered and signed by the county) on first print."""
    view = await county_documents.document(case_id, document_kind(kind), require_user(request))
    return render_document(request, view, case_id)


INTAKE_PAGES = [
    county_intake_page,
    county_intake_submit,
    county_intake_result,
    county_document_page,
]
"""The county window's intake and print pages."""
