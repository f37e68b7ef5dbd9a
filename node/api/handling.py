"""The case-handling JSON API: one POST per action on a case, guarded by the action's roles.

Every handler only names the caller and passes the body to :class:`HandlingService`; the rules,
and the 404 / 409 / 422 answers, come from the service through the common error mapping.
"""

from __future__ import annotations

from typing import Any

from litestar import Request, post
from litestar.di import NamedDependency
from litestar.params import FromPath, JSONBody
from litestar.types import Guard

from node.api.auth import current_user, requires_role
from node.services.handling import (
    Action,
    ActionResult,
    CertificateIn,
    CorrectionIn,
    DecisionIn,
    DeferredSuppliedIn,
    DeliveryIn,
    ExtensionIn,
    ForwardIn,
    HandlingService,
    PauseIn,
    ResumeIn,
    ReviewIn,
    UrgeAnswerIn,
    WithdrawalIn,
    node_roles,
)

_CASE = "/api/v1/cases/{case_id:str}"


def _guard(action: Action) -> list[Guard]:
    return [requires_role(*node_roles(action))]


def _actor(request: Request[Any, Any, Any]) -> str:
    user = current_user(request)
    assert user is not None  # the guard admitted the request
    return user.username


@post(
    f"{_CASE}/correction-received",
    summary="收到补正材料并受理或不予受理",
    guards=_guard(Action.CORRECTION_RECEIVED),
)
async def receive_correction(
    request: Request[Any, Any, Any],
    case_id: FromPath[str],
    data: JSONBody[CorrectionIn],
    handling_service: NamedDependency[HandlingService],
) -> ActionResult:
    """Record the corrected materials, then accept (with a receipt number) or refuse."""
    return await handling_service.correction_received(case_id, data, _actor(request))


@post(f"{_CASE}/review", summary="审查意见", guards=_guard(Action.REVIEW))
async def review_case(
    request: Request[Any, Any, Any],
    case_id: FromPath[str],
    data: JSONBody[ReviewIn],
    handling_service: NamedDependency[HandlingService],
) -> ActionResult:
    """Record a review opinion (a department's, for a joint item)."""
    return await handling_service.review(case_id, data, _actor(request))


@post(f"{_CASE}/pause", summary="启动特别程序", guards=_guard(Action.PAUSE))
async def pause_case(
    request: Request[Any, Any, Any],
    case_id: FromPath[str],
    data: JSONBody[PauseIn],
    handling_service: NamedDependency[HandlingService],
) -> ActionResult:
    """Start a special procedure; its days do not count toward the limits."""
    return await handling_service.pause(case_id, data, _actor(request))


@post(f"{_CASE}/resume", summary="结束特别程序", guards=_guard(Action.RESUME))
async def resume_case(
    request: Request[Any, Any, Any],
    case_id: FromPath[str],
    data: JSONBody[ResumeIn],
    handling_service: NamedDependency[HandlingService],
) -> ActionResult:
    """End the running special procedure."""
    return await handling_service.resume(case_id, data, _actor(request))


@post(f"{_CASE}/extension", summary="延长办理期限", guards=_guard(Action.EXTENSION))
async def extend_case(
    request: Request[Any, Any, Any],
    case_id: FromPath[str],
    data: JSONBody[ExtensionIn],
    handling_service: NamedDependency[HandlingService],
) -> ActionResult:
    """Grant the one extension, within the item's allowance."""
    return await handling_service.extend(case_id, data, _actor(request))


@post(f"{_CASE}/decision", summary="作出准予或不予许可决定", guards=_guard(Action.DECISION))
async def decide_case(
    request: Request[Any, Any, Any],
    case_id: FromPath[str],
    data: JSONBody[DecisionIn],
    handling_service: NamedDependency[HandlingService],
) -> ActionResult:
    """Approve or deny; a denial gives its reasons."""
    return await handling_service.decide(case_id, data, _actor(request))


@post(f"{_CASE}/certificate", summary="制发证照", guards=_guard(Action.CERTIFICATE))
async def issue_certificate(
    request: Request[Any, Any, Any],
    case_id: FromPath[str],
    data: JSONBody[CertificateIn],
    handling_service: NamedDependency[HandlingService],
) -> ActionResult:
    """Issue the licence of an approved case with this node's next certificate number."""
    return await handling_service.issue_certificate(case_id, data, _actor(request))


@post(f"{_CASE}/delivery", summary="送达", guards=_guard(Action.DELIVERY))
async def deliver_case(
    request: Request[Any, Any, Any],
    case_id: FromPath[str],
    data: JSONBody[DeliveryIn],
    handling_service: NamedDependency[HandlingService],
) -> ActionResult:
    """Record that the result reached the applicant; the case is closed."""
    return await handling_service.deliver(case_id, data, _actor(request))


@post(f"{_CASE}/withdrawal", summary="申请人撤回", guards=_guard(Action.WITHDRAWAL))
async def withdraw_case(
    request: Request[Any, Any, Any],
    case_id: FromPath[str],
    data: JSONBody[WithdrawalIn],
    handling_service: NamedDependency[HandlingService],
) -> ActionResult:
    """The applicant withdraws before a result."""
    return await handling_service.withdraw(case_id, data, _actor(request))


@post(
    f"{_CASE}/deferred-supplied",
    summary="容缺材料补齐",
    guards=_guard(Action.DEFERRED_SUPPLIED),
)
async def supply_deferred(
    request: Request[Any, Any, Any],
    case_id: FromPath[str],
    data: JSONBody[DeferredSuppliedIn],
    handling_service: NamedDependency[HandlingService],
) -> ActionResult:
    """Record 容缺 materials handed in after acceptance."""
    return await handling_service.supply_deferred(case_id, data, _actor(request))


@post(f"{_CASE}/forward", summary="转办或上报上级节点", guards=_guard(Action.FORWARD))
async def forward_case(
    request: Request[Any, Any, Any],
    case_id: FromPath[str],
    data: JSONBody[ForwardIn],
    handling_service: NamedDependency[HandlingService],
) -> ActionResult:
    """Hand the case to this node's parent, which handles it from then on."""
    return await handling_service.forward(case_id, data, _actor(request))


@post(
    f"{_CASE}/urges/{{urge_id:str}}/answer",
    summary="催办督办反馈",
    guards=_guard(Action.URGE_ANSWER),
)
async def answer_urge(
    request: Request[Any, Any, Any],
    case_id: FromPath[str],
    urge_id: FromPath[str],
    data: JSONBody[UrgeAnswerIn],
    handling_service: NamedDependency[HandlingService],
) -> ActionResult:
    """Answer an open 催办/督办 of the case."""
    return await handling_service.answer_urge(case_id, urge_id, data, _actor(request))


HANDLING_ROUTES = [
    receive_correction,
    review_case,
    pause_case,
    resume_case,
    extend_case,
    decide_case,
    issue_certificate,
    deliver_case,
    withdraw_case,
    supply_deferred,
    forward_case,
    answer_urge,
]
"""Every handling API route, for the app to register."""
