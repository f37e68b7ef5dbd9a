"""The case page's action forms: POST /cases/{case_id}/actions/{action}.

Each form posts here and calls the same :class:`HandlingService` as the JSON API. Success
redirects (303) back to the case page with ``?done=<action>``, so reloading submits nothing; a
refused action shows the form again with the Chinese reasons and everything typed kept. Every
form carries a request id made when it was drawn, so pressing the button twice records once.

The panel itself is the partial ``window/case_actions.html``, which the case page includes; it asks
the template global ``handling_panel()`` which actions the logged-in user may take.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from litestar import Litestar, Request, post
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
from node.api.auth import current_user, requires_role
from node.services.accounts import ANY_STAFF, StaffUser
from node.services.handling import HandlingService, require_role
from shared.case_state import CaseState
from web.pages import page

TEMPLATE = "window/case_actions.html"


def register_handling_templates(app: Litestar, service: HandlingService) -> None:
    """Give templates ``handling_panel()``: the panel for the page's ``state`` and ``user``."""

    def handling_panel(context: Mapping[str, Any]) -> PanelView | None:
        existing = context.get("handling_view")
        if isinstance(existing, PanelView):
            return existing
        state, user = context.get("state"), context.get("user")
        if not isinstance(state, CaseState) or not isinstance(user, StaffUser):
            return None
        request = context.get("request")
        done = request.query_params.get("done") if isinstance(request, Request) else None
        return fresh_view(service.panel(state, user.roles), done)

    engine = app.template_engine
    if engine is not None and hasattr(engine, "register_template_callable"):
        engine.register_template_callable("handling_panel", handling_panel)


@post(
    "/cases/{case_id:str}/actions/{action:str}",
    include_in_schema=False,
    guards=[requires_role(*ANY_STAFF)],
    status_code=303,
)
async def case_action(
    request: Request[Any, Any, Any],
    case_id: FromPath[str],
    action: FromPath[str],
    handling_service: NamedDependency[HandlingService],
) -> Template | Redirect:
    """Run one action from its form; refused ones come back with the reasons beside the form."""
    user = current_user(request)
    assert user is not None  # the guard admitted the request
    chosen = action_named(action)
    require_role(chosen, user.roles)
    form = await request.form()
    values = form_values(form)
    try:
        data = action_input(chosen, form)
        urge_id = str(values.get("urge_id", "")).strip()
        await run_action(handling_service, case_id, data, actor=user.username, urge_id=urge_id)
    except REFUSALS as exc:
        state = await handling_service.state_of(case_id)
        view = refused_view(chosen, values, exc, handling_service.panel(state, user.roles))
        response = page(
            request,
            TEMPLATE,
            standalone=True,
            case=CaseHeading.of(state),
            state=state,
            user=user,
            handling_view=view,
        )
        response.status_code = view.status
        return response
    return Redirect(f"/cases/{case_id}?done={chosen.value}", status_code=303)


HANDLING_PAGES = [case_action]
"""The page routes of the action forms."""
