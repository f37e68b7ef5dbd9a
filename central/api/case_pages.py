"""The county case page (/cases/{id}) and its action forms (POST /cases/{id}/actions/{action}).

The same page as at a node (``window/case.html`` with the ``window/case_actions.html`` partial
and :mod:`casework.case_view`), fed from the county window service: the caller's subtree is
checked before anything is shown or recorded, and a department account reviews only for its
own department.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

from litestar import Litestar, Request, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath
from litestar.response import Redirect, Template

from casework.action_forms import (
    REFUSALS,
    CaseHeading,
    PanelView,
    action_input,
    action_named,
    form_values,
    fresh_view,
    refused_view,
    run_action,
)
from casework.case_view import countdown, node_name, timeline
from central.api.auth import require_user, requires_role
from central.services.accounts import CountyRole, CountyUser
from central.services.portal import mask_name
from central.services.releases import ReleaseService
from central.services.window import CountyWindow, acting_for, duties
from central.services.window_documents import CountyDocuments
from shared.calendar import china_date
from shared.case_state import CaseState
from shared.catalog import Item
from shared.errors import NotFoundError, PermissionDeniedError
from shared.registry import COUNTY_NODE_ID
from sync.casedoc import events_of
from web.pages import page

Clock = Callable[[], datetime]
WINDOW_ROLES = (CountyRole.CLERK, CountyRole.REVIEWER, CountyRole.APPROVER, CountyRole.DEPARTMENT)
_ACTIONS_TEMPLATE = "window/case_actions.html"


def register_county_case_templates(app: Litestar, window: CountyWindow) -> None:
    """Give templates ``handling_panel()``: the county panel for the page's state and user."""

    def handling_panel(context: Mapping[str, Any]) -> PanelView | None:
        existing = context.get("handling_view")
        if isinstance(existing, PanelView):
            return existing
        state, user = context.get("state"), context.get("user")
        if not isinstance(state, CaseState) or not isinstance(user, CountyUser):
            return None
        request = context.get("request")
        done = request.query_params.get("done") if isinstance(request, Request) else None
        return fresh_view(window.panel(state, user), done)

    engine = app.template_engine
    if engine is not None and hasattr(engine, "register_template_callable"):
        engine.register_template_callable("handling_panel", handling_panel)


def item_of(releases: ReleaseService, code: str | None, version: int | None) -> Item | None:
    """The catalog item a case was received under, when that release is known."""
    catalog = releases.catalog_for(version) if version is not None else None
    if catalog is None or code is None:
        return None
    try:
        return catalog.item(code)
    except NotFoundError:
        return None


@get("/cases/{case_id:str}", include_in_schema=False, guards=[requires_role(*WINDOW_ROLES)])
async def county_case_page(
    request: Request[Any, Any, Any],
    *,
    case_id: FromPath[str],
    county_window: NamedDependency[CountyWindow],
    county_documents: NamedDependency[CountyDocuments],
    release_service: NamedDependency[ReleaseService],
    window_clock: NamedDependency[Clock],
) -> Template:
    """The case with its deadlines, department reviews, action forms, notices and timeline."""
    user = require_user(request)
    state = await county_window.state(case_id, user)
    store = county_window.replica.store
    row = (await store.case_rows([case_id]))[case_id]
    events = events_of((await store.case_states([case_id])).get(case_id))
    registry = release_service.registry_now()
    item = item_of(release_service, row.item_code, row.catalog_version)
    materials = {m.code: m.name for m in item.materials} if item else {}
    clock = countdown(
        release_service.calendar_now(),
        china_date(window_clock()),
        row.promised_due,
        finished=row.finished,
        warning_days=item.warning_days if item else 1,
    )
    return page(
        request,
        "window/case.html",
        row=row,
        case=row,
        state=state,
        user=user,
        item=item,
        applicant=mask_name(row.applicant_name),
        status_label=state.status.label,
        light=clock.light,
        remaining=clock.remaining,
        origin=node_name(registry, row.origin_node),
        handling=node_name(registry, row.handling_node),
        here=row.handling_node == COUNTY_NODE_ID,
        timeline=timeline(events, registry, materials),
        documents=await county_documents.available(case_id, user),
    )


@post(
    "/cases/{case_id:str}/actions/{action:str}",
    include_in_schema=False,
    guards=[requires_role(*WINDOW_ROLES)],
    status_code=303,
)
async def county_case_action(
    request: Request[Any, Any, Any],
    case_id: FromPath[str],
    action: FromPath[str],
    county_window: NamedDependency[CountyWindow],
) -> Template | Redirect:
    """Run one action from its form; refused ones come back with the reasons beside the form."""
    user = require_user(request)
    chosen = action_named(action)
    state = await county_window.state(case_id, user)
    if not chosen.roles & duties(user):
        names = "、".join(sorted(d.label for d in chosen.roles))
        raise PermissionDeniedError(
            f"“{chosen.label}”需要{names}角色，您的账号没有。", code="role_required"
        )
    form = await request.form()
    values = form_values(form)
    try:
        data = action_input(chosen, form)
        await run_action(
            county_window.handling,
            case_id,
            data,
            actor=user.username,
            urge_id=str(values.get("urge_id", "")).strip(),
            acting_for=acting_for(user),
        )
    except REFUSALS as exc:
        state = await county_window.state(case_id, user)
        view = refused_view(chosen, values, exc, county_window.panel(state, user))
        response = page(
            request,
            _ACTIONS_TEMPLATE,
            standalone=True,
            case=CaseHeading.of(state),
            state=state,
            user=user,
            handling_view=view,
        )
        response.status_code = view.status
        return response
    return Redirect(f"/cases/{case_id}?done={chosen.value}", status_code=303)


CASE_PAGES = [county_case_page, county_case_action]
"""The county case page and its action forms."""
