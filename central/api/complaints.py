"""County staff: open complaints with their deadlines, answering them, the answer period."""

from __future__ import annotations

from typing import Any

from litestar import Request, Response, get, post, put
from litestar.di import NamedDependency
from litestar.params import FromPath, FromQuery, JSONBody
from litestar.response import Redirect, Template

from central.api.auth import require_user, requires_role
from central.services.accounts import CountyRole
from central.services.complaints import (
    AnswerDays,
    AnswerIn,
    AnswerResult,
    ComplaintService,
    OpenComplaintView,
)
from shared.calendar import china_date
from shared.errors import PlatformError, ValidationError
from web.pages import page
from web.problems import status_for

_ANSWERERS = requires_role(CountyRole.SUPERVISOR, CountyRole.CLERK)
_CONFIGURERS = requires_role(CountyRole.ADMIN, CountyRole.SUPERVISOR)


@get("/complaints", include_in_schema=False, guards=[_ANSWERERS])
async def complaints_page(
    request: Request[Any, Any, Any], complaint_service: NamedDependency[ComplaintService]
) -> Template:
    """Open complaints of the user's subtree, soonest deadline first, overdue marked."""
    return await _list_page(request, complaint_service, problems={}, typed={})


@post(
    "/complaints/{case_id:str}/{complaint_id:str}/answer",
    include_in_schema=False,
    guards=[_ANSWERERS],
)
async def answer_page(
    request: Request[Any, Any, Any],
    complaint_service: NamedDependency[ComplaintService],
    case_id: FromPath[str],
    complaint_id: FromPath[str],
) -> Response[Any]:
    """Record the answer from the list's form, then back to the list."""
    form = await request.form()
    data = AnswerIn(
        answer=str(form.get("answer", "") or ""),
        request_id=str(form.get("request_id", "") or ""),
    )
    try:
        await complaint_service.answer(case_id, complaint_id, data, require_user(request))
    except PlatformError as exc:
        if status_for(exc) in (403, 404):
            raise
        problems = list(exc.problems) if isinstance(exc, ValidationError) else [exc.message]
        response = await _list_page(
            request,
            complaint_service,
            problems={complaint_id: problems},
            typed={complaint_id: data.answer},
        )
        response.status_code = status_for(exc)
        return response
    return Redirect("/complaints?answered=1", status_code=303)


async def _list_page(
    request: Request[Any, Any, Any],
    complaint_service: ComplaintService,
    *,
    problems: dict[str, list[str]],
    typed: dict[str, str],
) -> Template:
    user = require_user(request)
    return page(
        request,
        "complaints.html",
        complaints=await complaint_service.open_complaints(user),
        answer_days=await complaint_service.answer_days(),
        problems=problems,
        typed=typed,
        answered="answered" in request.query_params,
        today=china_date(complaint_service.now()),
    )


@get("/api/v1/complaints", summary="待答复投诉（按答复期限排序）", guards=[_ANSWERERS])
async def list_complaints(
    request: Request[Any, Any, Any],
    complaint_service: NamedDependency[ComplaintService],
    limit: FromQuery[int] = 500,
) -> list[OpenComplaintView]:
    """Open complaints of the caller's subtree with their answer deadlines."""
    return await complaint_service.open_complaints(require_user(request), limit=limit)


@post(
    "/api/v1/complaints/{case_id:str}/{complaint_id:str}/answer",
    summary="答复投诉",
    guards=[_ANSWERERS],
    status_code=201,
)
async def answer_complaint(
    request: Request[Any, Any, Any],
    complaint_service: NamedDependency[ComplaintService],
    case_id: FromPath[str],
    complaint_id: FromPath[str],
    data: JSONBody[AnswerIn],
) -> AnswerResult:
    """Answer an open complaint of a case in the caller's subtree."""
    return await complaint_service.answer(case_id, complaint_id, data, require_user(request))


@get("/api/v1/complaints/settings", summary="投诉答复期限（工作日）", guards=[_ANSWERERS])
async def get_answer_days(complaint_service: NamedDependency[ComplaintService]) -> AnswerDays:
    """Working days staff have to answer a complaint filed today."""
    return AnswerDays(days=await complaint_service.answer_days())


@put("/api/v1/complaints/settings", summary="设置投诉答复期限", guards=[_CONFIGURERS])
async def set_answer_days(
    request: Request[Any, Any, Any],
    complaint_service: NamedDependency[ComplaintService],
    data: JSONBody[AnswerDays],
) -> AnswerDays:
    """Change the answer period for complaints filed from now on (1-60 working days)."""
    return await complaint_service.set_answer_days(data.days, by=require_user(request).username)


ROUTES = [
    complaints_page,
    answer_page,
    list_complaints,
    answer_complaint,
    get_answer_days,
    set_answer_days,
]
