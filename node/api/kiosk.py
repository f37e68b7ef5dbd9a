"""The kiosk's JSON API (anonymous) and the clerk's list of pre-applications.

Anonymous, but not exempt from CSRF: a kiosk browser gets the ``tongban_csrf`` cookie with its
first page, and a machine client (a queue machine, a hall scanner) makes one GET, for instance
of ``/api/v1/kiosk/items``, and sends the cookie's value back in the ``x-csrftoken`` header.
Tracking is a POST so that the query code never sits in a URL, a proxy log or the kiosk's
browser history.
"""

from __future__ import annotations

from typing import Any

from litestar import Request, Response, get, post
from litestar.di import NamedDependency
from litestar.params import FromQuery, JSONBody

from node.api.auth import requires_role
from node.services.accounts import Role
from node.services.kiosk import (
    CaseTrack,
    ComplaintIn,
    KioskAnswer,
    KioskService,
    LookupLimitedError,
    PreApplicationIn,
    PreApplicationSlip,
    RatingIn,
    TrackQuery,
    WaitingPreApplication,
)
from shared.guide import GuideEntry
from web.problems import problem


def client_of(request: Request[Any, Any, Any]) -> str:
    """The address failed lookups are counted against."""
    return request.client.host if request.client else "unknown"


@get("/api/v1/kiosk/items", summary="自助终端：搜索本服务点可办事项", sync_to_thread=False)
def kiosk_items(
    kiosk_service: NamedDependency[KioskService],
    q: FromQuery[str] = "",
    department: FromQuery[str] = "",
) -> list[GuideEntry]:
    """Items offered here by name, code, summary, condition or department."""
    return list(kiosk_service.search(q, department))


@post(
    "/api/v1/kiosk/preapplications",
    summary="自助终端：提交预申请",
    status_code=201,
    sync_to_thread=True,
)
def kiosk_preapply(
    data: JSONBody[PreApplicationIn], kiosk_service: NamedDependency[KioskService]
) -> PreApplicationSlip:
    """Keep a pre-application for a clerk to pick up; a repeated ``request_id`` makes one."""
    return kiosk_service.submit_preapplication(data)


@post("/api/v1/kiosk/track", summary="自助终端：凭受理编号和查询码查询办件", status_code=200)
async def kiosk_track(
    request: Request[Any, Any, Any],
    data: JSONBody[TrackQuery],
    kiosk_service: NamedDependency[KioskService],
) -> CaseTrack:
    """Status, due day, public timeline and complaints of one case (failed checks limited)."""
    return await kiosk_service.track(data, client_of(request))


@post("/api/v1/kiosk/ratings", summary="自助终端：好差评", status_code=201)
async def kiosk_rate(
    request: Request[Any, Any, Any],
    data: JSONBody[RatingIn],
    kiosk_service: NamedDependency[KioskService],
) -> KioskAnswer:
    """Rate the result of a finished case, once."""
    return await kiosk_service.rate(data, client_of(request))


@post("/api/v1/kiosk/complaints", summary="自助终端：投诉", status_code=201)
async def kiosk_complain(
    request: Request[Any, Any, Any],
    data: JSONBody[ComplaintIn],
    kiosk_service: NamedDependency[KioskService],
) -> KioskAnswer:
    """File a complaint about a case."""
    return await kiosk_service.complain(data, client_of(request))


@get(
    "/api/v1/preapplications",
    summary="待领取的自助预申请",
    guards=[requires_role(Role.CLERK)],
    sync_to_thread=False,
)
def list_preapplications(
    kiosk_service: NamedDependency[KioskService],
) -> list[WaitingPreApplication]:
    """Pre-applications waiting for a clerk, oldest first (names and ID numbers masked)."""
    return kiosk_service.waiting()


def lookup_limited_handler(
    request: Request[Any, Any, Any], exc: LookupLimitedError
) -> Response[Any]:
    """429 with the wait, as problem details or as a page."""
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
"""The kiosk's own error handlers, added to the node's."""

ROUTES = [
    kiosk_items,
    kiosk_preapply,
    kiosk_track,
    kiosk_rate,
    kiosk_complain,
    list_preapplications,
]
"""The kiosk API's route handlers."""
