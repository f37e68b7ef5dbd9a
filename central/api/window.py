"""The county window's JSON API: intake, the queue, a case with its actions, handling actions.

Handlers name the caller and pass on; rules and the 404 / 409 / 422 answers come from
:class:`central.services.window.CountyWindow` and :mod:`casework`. County e-certificates are
issued by central.api.certificates, not here.
"""

from __future__ import annotations

from datetime import date
from typing import Any

import msgspec
from litestar import Request, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath, JSONBody

from casework.actions import (
    ActionResult,
    DecisionIn,
    DeliveryIn,
    ExtensionIn,
    PauseIn,
    ResumeIn,
    ReviewIn,
    WithdrawalIn,
)
from casework.intake import Application, IntakeResult
from central.api.auth import require_user, requires_role
from central.services.accounts import CountyRole
from central.services.window import CountyWindow, QueueEntry, acting_for

_CASE = "/api/v1/cases/{case_id:str}"
_CLERK = [requires_role(CountyRole.CLERK)]
_REVIEWER = [requires_role(CountyRole.REVIEWER, CountyRole.DEPARTMENT)]
_APPROVER = [requires_role(CountyRole.APPROVER)]
_STAFF = [
    requires_role(CountyRole.CLERK, CountyRole.REVIEWER, CountyRole.APPROVER, CountyRole.DEPARTMENT)
]


class ReviewStatus(msgspec.Struct, frozen=True, kw_only=True):
    """One department's opinion so far."""

    department: str
    lead: bool
    opinion: str | None
    status_label: str


class WindowCase(msgspec.Struct, frozen=True, kw_only=True):
    """A case as the county window sees it: status, deadlines, department reviews, actions."""

    case_id: str
    item_code: str | None
    status: str
    status_label: str
    handling_node: str | None
    origin_node: str | None
    promised_due: date | None
    statutory_due: date | None
    joint: bool
    reviews: list[ReviewStatus]
    actions: list[str]


@post("/api/v1/cases", summary="县级窗口收件登记", guards=_CLERK, status_code=201)
async def county_intake(
    request: Request[Any, Any, Any],
    county_window: NamedDependency[CountyWindow],
    data: JSONBody[Application],
) -> IntakeResult:
    """Receive an application for a county-level item (same rules as at the nodes)."""
    return await county_window.receive(data, require_user(request))


@get("/api/v1/cases", summary="县级窗口办件队列", guards=_STAFF)
async def county_queue(
    request: Request[Any, Any, Any], county_window: NamedDependency[CountyWindow]
) -> list[QueueEntry]:
    """Open cases handled at the county (escalated ones included) within the caller's subtree."""
    return await county_window.queue(require_user(request))


@get(_CASE, summary="县级窗口办件详情", guards=_STAFF)
async def county_case(
    request: Request[Any, Any, Any],
    county_window: NamedDependency[CountyWindow],
    case_id: FromPath[str],
) -> WindowCase:
    """The case, each department's review, and the actions the caller may take."""
    user = require_user(request)
    state = await county_window.state(case_id, user)
    panel = county_window.panel(state, user)
    return WindowCase(
        case_id=case_id,
        item_code=state.item_code,
        status=state.status.value,
        status_label=state.status.label,
        handling_node=state.handling_node,
        origin_node=state.origin_node,
        promised_due=state.promised_due.due if state.promised_due else None,
        statutory_due=state.statutory_due.due if state.statutory_due else None,
        joint=panel.joint,
        reviews=[
            ReviewStatus(
                department=r.department,
                lead=r.lead,
                opinion=r.opinion.value if r.opinion else None,
                status_label=r.status_label,
            )
            for r in panel.reviews
        ],
        actions=[a.value for a in panel.actions],
    )


@post(f"{_CASE}/review", summary="审查意见（并联审批各部门）", guards=_REVIEWER, status_code=200)
async def county_review(
    request: Request[Any, Any, Any],
    county_window: NamedDependency[CountyWindow],
    case_id: FromPath[str],
    data: JSONBody[ReviewIn],
) -> ActionResult:
    """One department's opinion; a department account speaks only for its own department."""
    user = require_user(request)
    await county_window.state(case_id, user)
    return await county_window.handling.review(
        case_id, data, user.username, acting_for=acting_for(user)
    )


@post(f"{_CASE}/decision", summary="作出决定", guards=_APPROVER, status_code=200)
async def county_decision(
    request: Request[Any, Any, Any],
    county_window: NamedDependency[CountyWindow],
    case_id: FromPath[str],
    data: JSONBody[DecisionIn],
) -> ActionResult:
    """准予 or 不予许可; a joint item only once every department has given its opinion."""
    user = require_user(request)
    await county_window.state(case_id, user)
    return await county_window.handling.decide(case_id, data, user.username)


@post(f"{_CASE}/pause", summary="启动特别程序", guards=_REVIEWER, status_code=200)
async def county_pause(
    request: Request[Any, Any, Any],
    county_window: NamedDependency[CountyWindow],
    case_id: FromPath[str],
    data: JSONBody[PauseIn],
) -> ActionResult:
    """Start a 特别程序."""
    user = require_user(request)
    await county_window.state(case_id, user)
    return await county_window.handling.pause(case_id, data, user.username)


@post(f"{_CASE}/resume", summary="结束特别程序", guards=_REVIEWER, status_code=200)
async def county_resume(
    request: Request[Any, Any, Any],
    county_window: NamedDependency[CountyWindow],
    case_id: FromPath[str],
    data: JSONBody[ResumeIn],
) -> ActionResult:
    """End the running 特别程序."""
    user = require_user(request)
    await county_window.state(case_id, user)
    return await county_window.handling.resume(case_id, data, user.username)


@post(f"{_CASE}/extension", summary="延长办理期限", guards=_APPROVER, status_code=200)
async def county_extension(
    request: Request[Any, Any, Any],
    county_window: NamedDependency[CountyWindow],
    case_id: FromPath[str],
    data: JSONBody[ExtensionIn],
) -> ActionResult:
    """The one extension."""
    user = require_user(request)
    await county_window.state(case_id, user)
    return await county_window.handling.extend(case_id, data, user.username)


@post(f"{_CASE}/delivery", summary="送达", guards=_CLERK, status_code=200)
async def county_delivery(
    request: Request[Any, Any, Any],
    county_window: NamedDependency[CountyWindow],
    case_id: FromPath[str],
    data: JSONBody[DeliveryIn],
) -> ActionResult:
    """送达 the result."""
    user = require_user(request)
    await county_window.state(case_id, user)
    return await county_window.handling.deliver(case_id, data, user.username)


@post(f"{_CASE}/withdrawal", summary="申请人撤回", guards=_CLERK, status_code=200)
async def county_withdrawal(
    request: Request[Any, Any, Any],
    county_window: NamedDependency[CountyWindow],
    case_id: FromPath[str],
    data: JSONBody[WithdrawalIn],
) -> ActionResult:
    """The applicant withdraws."""
    user = require_user(request)
    await county_window.state(case_id, user)
    return await county_window.handling.withdraw(case_id, data, user.username)


ROUTES = [
    county_intake,
    county_queue,
    county_case,
    county_review,
    county_decision,
    county_pause,
    county_resume,
    county_extension,
    county_delivery,
    county_withdrawal,
]
