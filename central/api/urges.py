"""Urges (催办/督办) over HTTP: a page with the form and the issued urges, and a JSON API.

Supervisors only; a township supervisor reaches only cases and nodes of its subtree.
"""

from __future__ import annotations

import uuid
from datetime import date
from typing import Any

import msgspec
from litestar import Request, Response, get, post
from litestar.di import NamedDependency
from litestar.params import JSONBody
from litestar.response import Redirect, Template
from litestar.types import ControllerRouterHandler

from central.api.auth import require_user, requires_role
from central.services.accounts import CountyRole
from central.services.urges import TARGET_LABELS, UrgeForm, UrgeService
from shared.errors import PlatformError
from shared.event_parts import UrgeLevel
from web.pages import page

SUPERVISORS = [requires_role(CountyRole.SUPERVISOR)]


class UrgeIn(msgspec.Struct, frozen=True, kw_only=True):
    """An urge request; ``request_id`` makes a repeated request record nothing new."""

    target_kind: str
    target: str
    content: str
    level: str = UrgeLevel.FORMAL.value
    feedback_days: int = 3
    request_id: str


class UrgeOut(msgspec.Struct, frozen=True, kw_only=True):
    """What an urge request recorded."""

    recorded: list[str]
    already: list[str]
    feedback_due: date


class UrgeItem(msgspec.Struct, frozen=True, kw_only=True):
    """An issued urge."""

    urge_id: str
    case_id: str
    node: str | None
    level: str
    content: str
    feedback_due: date
    target_kind: str
    target: str
    issued_by: str
    answered: bool
    overdue: bool


class UrgeList(msgspec.Struct, frozen=True, kw_only=True):
    """Issued urges, newest first."""

    urges: list[UrgeItem]


def _form_of(data: UrgeIn) -> UrgeForm:
    return UrgeForm(
        target_kind=data.target_kind,
        target=data.target,
        level=data.level,
        content=data.content,
        feedback_days=data.feedback_days,
        request_id=data.request_id,
    )


@post("/api/v1/supervision/urges", summary="催办/督办", guards=SUPERVISORS, status_code=201)
async def create_urge(
    request: Request[Any, Any, Any],
    data: JSONBody[UrgeIn],
    urge_service: NamedDependency[UrgeService],
) -> UrgeOut:
    """Urge a case, or every open case of a node or department (one event per case)."""
    result = await urge_service.urge(require_user(request), _form_of(data))
    return UrgeOut(
        recorded=result.recorded, already=result.already, feedback_due=result.feedback_due
    )


@get("/api/v1/supervision/urges", summary="催办/督办记录", guards=SUPERVISORS)
async def list_urges(
    request: Request[Any, Any, Any], urge_service: NamedDependency[UrgeService]
) -> UrgeList:
    """Issued urges the caller may see, with whether each was answered."""
    found = await urge_service.urges(require_user(request))
    return UrgeList(
        urges=[
            UrgeItem(
                urge_id=u.urge_id,
                case_id=u.case_id,
                node=u.node,
                level=u.level.value,
                content=u.content,
                feedback_due=u.feedback_due,
                target_kind=u.target_kind,
                target=u.target,
                issued_by=u.issued_by,
                answered=u.answered,
                overdue=u.overdue,
            )
            for u in found
        ]
    )


async def _page(
    request: Request[Any, Any, Any],
    urge_service: UrgeService,
    *,
    form: dict[str, Any] | None = None,
    problems: list[str] | None = None,
    status: int = 200,
) -> Template:
    user = require_user(request)
    urges = await urge_service.urges(user)
    values = form or {
        "target_kind": request.query_params.get("target_kind", "case"),
        "target": request.query_params.get("target", ""),
        "level": UrgeLevel.FORMAL.value,
        "content": "",
        "feedback_days": "3",
    }
    values.setdefault("request_id", str(uuid.uuid4()))
    response = page(
        request,
        "urges.html",
        urges=urges,
        form=values,
        problems=problems or [],
        targets=TARGET_LABELS,
        levels=list(UrgeLevel),
        recorded=request.query_params.get("recorded"),
    )
    response.status_code = status
    return response


@get("/supervision/urges", include_in_schema=False, guards=SUPERVISORS)
async def urges_page(
    request: Request[Any, Any, Any], urge_service: NamedDependency[UrgeService]
) -> Template:
    """The urge form and every urge issued in the user's subtree."""
    return await _page(request, urge_service)


@post("/supervision/urges", include_in_schema=False, guards=SUPERVISORS)
async def urge_form(
    request: Request[Any, Any, Any], urge_service: NamedDependency[UrgeService]
) -> Response[Any]:
    """Record from the form; on a problem the form comes back with what was typed."""
    form = await request.form()
    values = {
        key: str(form.get(key, ""))
        for key in ("target_kind", "target", "level", "content", "feedback_days", "request_id")
    }
    try:
        days = int(values["feedback_days"] or "0")
    except ValueError:
        days = 0
    try:
        result = await urge_service.urge(
            require_user(request),
            UrgeForm(
                target_kind=values["target_kind"],
                target=values["target"].strip(),
                level=values["level"],
                content=values["content"],
                feedback_days=days,
                request_id=values["request_id"],
            ),
        )
    except PlatformError as exc:
        problems = list(getattr(exc, "problems", None) or [exc.message])
        status = 400 if exc.code not in {"outside_subtree"} else 403
        return await _page(request, urge_service, form=values, problems=problems, status=status)
    count = len(result.recorded) + len(result.already)
    return Redirect(f"/supervision/urges?recorded={count}", status_code=303)


ROUTES: list[ControllerRouterHandler] = [create_urge, list_urges, urges_page, urge_form]
