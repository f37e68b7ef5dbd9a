"""The county resident portal (no log-in): tracking, 好差评 and complaints, as pages and JSON.

Tracking is a POST so the query code never sits in a URL, a proxy log or a browser history.
Anonymous, but not exempt from CSRF: a browser gets the ``tongban_csrf`` cookie with its first
page; a machine client makes one GET first and sends the cookie's value back in
``x-csrftoken``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from litestar import Request, Response, get, post
from litestar.di import NamedDependency
from litestar.params import JSONBody
from litestar.response import Template

from central.services.complaints import ComplaintIn, ComplaintService
from central.services.portal import (
    CaseTrack,
    LookupLimitedError,
    PortalAnswer,
    PortalService,
    RatingIn,
    TrackQuery,
)
from shared.errors import PlatformError, ValidationError
from shared.event_parts import Satisfaction
from web.pages import page
from web.problems import problem, status_for


def client_of(request: Request[Any, Any, Any]) -> str:
    """The address failed lookups are counted against."""
    return request.client.host if request.client else "unknown"


# -- pages ------------------------------------------------------------------------------------


@get("/portal", include_in_schema=False, sync_to_thread=False)
def portal_home(request: Request[Any, Any, Any]) -> Template:
    """The portal's front page: tracking form, links to the guide and to verification."""
    return page(request, "portal_home.html", receipt_no="", problems=[])


@post("/portal/track", include_in_schema=False, status_code=200)
async def portal_track_page(
    request: Request[Any, Any, Any], portal_service: NamedDependency[PortalService]
) -> Response[Any]:
    """The case behind the number and code, or the form again with the reason."""
    query = _query(await request.form())
    try:
        track = await portal_service.track(query, client_of(request))
    except PlatformError as exc:
        return _track_again(request, query.receipt_no, exc)
    return _case_page(request, track, query, notice="", problems=[])


@post("/portal/rate", include_in_schema=False, status_code=200)
async def portal_rate_page(
    request: Request[Any, Any, Any], portal_service: NamedDependency[PortalService]
) -> Response[Any]:
    """Record the rating, then show the case again with a thank-you or the reason it failed."""
    form = await request.form()
    query = _query(form)
    level_text = str(form.get("level", "") or "")
    data = RatingIn(
        receipt_no=query.receipt_no,
        query_code=query.query_code,
        level=int(level_text) if level_text.isdigit() else 0,
        comment=str(form.get("comment", "") or ""),
        request_id=str(form.get("request_id", "") or ""),
    )
    return await _act(
        request, portal_service, query, lambda: portal_service.rate(data, client_of(request))
    )


@post("/portal/complaints", include_in_schema=False, status_code=200)
async def portal_complain_page(
    request: Request[Any, Any, Any],
    portal_service: NamedDependency[PortalService],
    complaint_service: NamedDependency[ComplaintService],
) -> Response[Any]:
    """File a complaint (or reopen an answered one), then show the case again."""
    form = await request.form()
    query = _query(form)
    data = ComplaintIn(
        receipt_no=query.receipt_no,
        query_code=query.query_code,
        content=str(form.get("content", "") or ""),
        reopens=str(form.get("reopens", "") or "") or None,
        request_id=str(form.get("request_id", "") or ""),
    )
    return await _act(
        request,
        portal_service,
        query,
        lambda: complaint_service.file(data, client_of(request)),
        typed=data.content,
    )


async def _act(
    request: Request[Any, Any, Any],
    portal_service: PortalService,
    query: TrackQuery,
    action: Callable[[], Awaitable[PortalAnswer]],
    *,
    typed: str = "",
) -> Response[Any]:
    try:
        answer = await action()
    except LookupLimitedError as exc:
        return _track_again(request, query.receipt_no, exc)
    except PlatformError as exc:
        try:
            track = await portal_service.track(query, client_of(request))
        except PlatformError as lookup:
            return _track_again(request, query.receipt_no, lookup)
        response = _case_page(
            request, track, query, notice="", problems=_problems(exc), typed=typed
        )
        response.status_code = status_for(exc)
        return response
    track = await portal_service.track(query, client_of(request))
    return _case_page(request, track, query, notice=answer.message, problems=[])


def _query(form: Mapping[str, Any]) -> TrackQuery:
    return TrackQuery(
        receipt_no=str(form.get("receipt_no", "") or ""),
        query_code=str(form.get("query_code", "") or ""),
    )


def _problems(exc: PlatformError) -> list[str]:
    return list(exc.problems) if isinstance(exc, ValidationError) else [exc.message]


def _track_again(request: Request[Any, Any, Any], receipt_no: str, exc: PlatformError) -> Template:
    response = page(request, "portal_home.html", receipt_no=receipt_no, problems=_problems(exc))
    if isinstance(exc, LookupLimitedError):
        response.status_code = 429
        response.headers["Retry-After"] = str(exc.retry_after)
    else:
        response.status_code = status_for(exc)
    return response


def _case_page(
    request: Request[Any, Any, Any],
    track: CaseTrack,
    query: TrackQuery,
    *,
    notice: str,
    problems: list[str],
    typed: str = "",
) -> Template:
    return page(
        request,
        "portal_case.html",
        track=track,
        receipt_no=query.receipt_no,
        query_code=query.query_code,
        notice=notice,
        problems=problems,
        typed=typed,
        levels=list(Satisfaction),
    )


# -- JSON API ---------------------------------------------------------------------------------


@post(
    "/api/v1/portal/track", summary="门户：凭受理编号和查询码查询办件（全县各级）", status_code=200
)
async def portal_track(
    request: Request[Any, Any, Any],
    data: JSONBody[TrackQuery],
    portal_service: NamedDependency[PortalService],
) -> CaseTrack:
    """Status, due day, handling tier and node, public timeline and complaints of a case.

    Failed checks are limited per client address: over the limit the answer is 429 with
    ``retry_after`` seconds.
    """
    return await portal_service.track(data, client_of(request))


@post("/api/v1/portal/ratings", summary="门户：好差评", status_code=201)
async def portal_rate(
    request: Request[Any, Any, Any],
    data: JSONBody[RatingIn],
    portal_service: NamedDependency[PortalService],
) -> PortalAnswer:
    """Rate the result of a finished case, once (channel: PC 门户)."""
    return await portal_service.rate(data, client_of(request))


@post("/api/v1/portal/complaints", summary="门户：投诉或对答复不满意重新投诉", status_code=201)
async def portal_complain(
    request: Request[Any, Any, Any],
    data: JSONBody[ComplaintIn],
    complaint_service: NamedDependency[ComplaintService],
) -> PortalAnswer:
    """File a complaint with its own answer deadline; ``reopens`` reopens an answered one."""
    return await complaint_service.file(data, client_of(request))


def lookup_limited_handler(
    request: Request[Any, Any, Any], exc: LookupLimitedError
) -> Response[Any]:
    """429 with the wait, as problem details or as a Chinese page."""
    response = problem(
        request,
        status=429,
        code=exc.code,
        title=exc.title,
        detail=exc.message,
        extra={"retry_after": exc.retry_after},
    )
    response.headers["Retry-After"] = str(exc.retry_after)
    return response


EXCEPTION_HANDLERS: dict[type[Exception] | int, Any] = {
    LookupLimitedError: lookup_limited_handler,
}
"""The portal's own error handlers, added to the county's."""

ROUTES = [
    portal_home,
    portal_track_page,
    portal_rate_page,
    portal_complain_page,
    portal_track,
    portal_rate,
    portal_complain,
]
