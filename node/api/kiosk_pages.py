"""The resident kiosk's pages under /kiosk (no login) and the clerk's list of pre-applications.

Every kiosk page is a plain form with large controls. Forms that need the query code are
POSTed, so the code never stays in the kiosk browser's history for the next resident; pages
that show a case or a slip go back to the kiosk home by themselves after a few minutes.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable, Mapping
from enum import StrEnum
from typing import Any, TypeVar

from litestar import Request, Response, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath, FromQuery
from litestar.response import Template

from node.api.auth import requires_role
from node.api.kiosk import client_of
from node.services.accounts import Role
from node.services.catalog import NodeCatalogService
from node.services.kiosk import (
    MAX_COMMENT,
    MAX_COMPLAINT,
    CaseTrack,
    ComplaintIn,
    KioskAnswer,
    KioskService,
    LookupLimitedError,
    PreApplicationIn,
    RatingIn,
    TrackQuery,
)
from shared.catalog import Item
from shared.errors import PlatformError, ValidationError
from shared.events import Applicant, ApplicantKind, IdType, Satisfaction
from shared.guide import GuideEntry
from web.i18n import add_messages
from web.pages import page
from web.problems import status_for

add_messages(
    {
        "kiosk.title": {"zh": "自助服务", "en": "Self-service"},
        "kiosk.guide": {"zh": "办事指南", "en": "Service guide"},
        "kiosk.apply": {"zh": "自助预申请", "en": "Pre-apply"},
        "kiosk.track": {"zh": "办件查询", "en": "Track a case"},
        "kiosk.rate": {"zh": "好差评", "en": "Rate a case"},
        "kiosk.complain": {"zh": "投诉", "en": "Complain"},
        "kiosk.home": {"zh": "返回首页", "en": "Back to start"},
        "kiosk.preapplications": {"zh": "自助预申请", "en": "Kiosk pre-applications"},
    }
)

RETURN_AFTER_SECONDS = 180
_ID_TYPES = tuple(IdType)
_LEVELS = tuple(sorted(Satisfaction, reverse=True))


def _problems(exc: PlatformError) -> list[str]:
    return list(exc.problems) if isinstance(exc, ValidationError) else [exc.message]


def _with_status(response: Template, status: int) -> Template:
    response.status_code = status
    return response


@get("/kiosk", include_in_schema=False, sync_to_thread=False)
def kiosk_home(
    request: Request[Any, Any, Any],
    kiosk_service: NamedDependency[KioskService],
    catalog_service: NamedDependency[NodeCatalogService],
    q: FromQuery[str] = "",
    department: FromQuery[str] = "",
) -> Template:
    """Start screen: search the guide by name, keyword or department; track, rate, complain."""
    return page(
        request,
        "kiosk_home.html",
        query=q,
        department=department,
        departments=kiosk_service.departments(),
        entries=kiosk_service.search(q, department),
        has_catalog=catalog_service.current() is not None,
    )


@get("/kiosk/apply/{code:str}", include_in_schema=False, sync_to_thread=False)
def kiosk_apply_form(
    request: Request[Any, Any, Any],
    kiosk_service: NamedDependency[KioskService],
    code: FromPath[str],
) -> Template:
    """The pre-application form of one item: who applies and which materials they bring."""
    entry, item = kiosk_service.item_for_form(code)
    return _apply_page(request, entry, item, values={}, ticked=(), problems=[])


@post("/kiosk/apply/{code:str}", include_in_schema=False, status_code=200)
async def kiosk_apply(
    request: Request[Any, Any, Any],
    kiosk_service: NamedDependency[KioskService],
    code: FromPath[str],
) -> Template:
    """Keep the pre-application and show its number; on a problem, the form again as typed."""
    entry, item = kiosk_service.item_for_form(code)
    form = await request.form()
    values = {
        key: str(form.get(key, "") or "")
        for key in ("kind", "name", "id_type", "id_number", "phone", "request_id")
    }
    materials = tuple(str(m) for m in form.getall("materials", []))
    problems: list[str] = []
    kind = _choice(ApplicantKind, values["kind"], ApplicantKind.PERSON)
    id_type = _choice(IdType, values["id_type"], IdType.RESIDENT_ID)
    try:
        slip = kiosk_service.submit_preapplication(
            PreApplicationIn(
                item_code=entry.code,
                applicant=Applicant(
                    name=values["name"],
                    id_type=id_type,
                    id_number=values["id_number"],
                    phone=values["phone"] or None,
                    kind=kind,
                ),
                materials=materials,
                request_id=values["request_id"],
            )
        )
    except ValidationError as exc:
        problems = list(exc.problems)
        # The ID number is never echoed back to a screen in a public hall.
        kept = {key: value for key, value in values.items() if key != "id_number"}
        form_again = _apply_page(
            request, entry, item, values=kept, ticked=materials, problems=problems
        )
        return _with_status(form_again, 422)
    return page(request, "kiosk_slip.html", slip=slip, return_after=RETURN_AFTER_SECONDS)


@get("/kiosk/track", include_in_schema=False, sync_to_thread=False)
def kiosk_track_form(request: Request[Any, Any, Any]) -> Template:
    """Receipt number and query code, as printed on the 受理通知书."""
    return page(request, "kiosk_track.html", receipt_no="", problems=[])


@post("/kiosk/track", include_in_schema=False, status_code=200)
async def kiosk_track(
    request: Request[Any, Any, Any], kiosk_service: NamedDependency[KioskService]
) -> Response[Any]:
    """The case behind the number and code, or the form again with the reason."""
    form = await request.form()
    query = TrackQuery(
        receipt_no=str(form.get("receipt_no", "") or ""),
        query_code=str(form.get("query_code", "") or ""),
    )
    try:
        track = await kiosk_service.track(query, client_of(request))
    except PlatformError as exc:
        return _track_again(request, query.receipt_no, exc)
    return _case_page(request, track, query, notice="", problems=[])


@post("/kiosk/rate", include_in_schema=False, status_code=200)
async def kiosk_rate(
    request: Request[Any, Any, Any], kiosk_service: NamedDependency[KioskService]
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
        request, kiosk_service, query, lambda: kiosk_service.rate(data, client_of(request))
    )


@post("/kiosk/complain", include_in_schema=False, status_code=200)
async def kiosk_complain(
    request: Request[Any, Any, Any], kiosk_service: NamedDependency[KioskService]
) -> Response[Any]:
    """Record the complaint, then show the case again with its complaints."""
    form = await request.form()
    query = _query(form)
    data = ComplaintIn(
        receipt_no=query.receipt_no,
        query_code=query.query_code,
        content=str(form.get("content", "") or ""),
        request_id=str(form.get("request_id", "") or ""),
    )
    return await _act(
        request, kiosk_service, query, lambda: kiosk_service.complain(data, client_of(request))
    )


@get(
    "/window/preapplications",
    include_in_schema=False,
    guards=[requires_role(Role.CLERK)],
    sync_to_thread=False,
)
def preapplications_page(
    request: Request[Any, Any, Any], kiosk_service: NamedDependency[KioskService]
) -> Template:
    """Pre-applications made at the kiosk and waiting for a clerk to pick them up."""
    return page(request, "preapplications.html", waiting=kiosk_service.waiting())


async def _act(
    request: Request[Any, Any, Any],
    kiosk_service: KioskService,
    query: TrackQuery,
    action: Callable[[], Awaitable[KioskAnswer]],
) -> Response[Any]:
    try:
        answer = await action()
    except LookupLimitedError as exc:
        return _track_again(request, query.receipt_no, exc)
    except PlatformError as exc:
        try:
            track = await kiosk_service.track(query, client_of(request))
        except PlatformError as lookup:
            return _track_again(request, query.receipt_no, lookup)
        return _with_status(
            _case_page(request, track, query, notice="", problems=_problems(exc)),
            status_for(exc),
        )
    track = await kiosk_service.track(query, client_of(request))
    return _case_page(request, track, query, notice=answer.message, problems=[])


def _query(form: Mapping[str, Any]) -> TrackQuery:
    return TrackQuery(
        receipt_no=str(form.get("receipt_no", "") or ""),
        query_code=str(form.get("query_code", "") or ""),
    )


def _track_again(request: Request[Any, Any, Any], receipt_no: str, exc: PlatformError) -> Template:
    response = page(request, "kiosk_track.html", receipt_no=receipt_no, problems=_problems(exc))
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
) -> Template:
    return page(
        request,
        "kiosk_case.html",
        case=track,
        receipt_no=query.receipt_no,
        query_code=query.query_code,
        notice=notice,
        problems=problems,
        levels=_LEVELS,
        request_id=uuid.uuid4().hex,
        max_comment=MAX_COMMENT,
        max_complaint=MAX_COMPLAINT,
        return_after=RETURN_AFTER_SECONDS,
    )


def _apply_page(
    request: Request[Any, Any, Any],
    entry: GuideEntry,
    item: Item,
    *,
    values: dict[str, str],
    ticked: tuple[str, ...],
    problems: list[str],
) -> Template:
    return page(
        request,
        "kiosk_apply.html",
        e=entry,
        item=item,
        values={"kind": "person", "id_type": "resident_id", **values},
        request_id=values.get("request_id") or uuid.uuid4().hex,
        ticked=set(ticked),
        problems=problems,
        id_types=_ID_TYPES,
        kinds=tuple(ApplicantKind),
    )


_E = TypeVar("_E", bound=StrEnum)


def _choice(kind: type[_E], value: str, default: _E) -> _E:
    try:
        return kind(value)
    except ValueError:
        return default


ROUTES = [
    kiosk_home,
    kiosk_apply_form,
    kiosk_apply,
    kiosk_track_form,
    kiosk_track,
    kiosk_rate,
    kiosk_complain,
    preapplications_page,
]
"""The kiosk pages' route handlers."""
