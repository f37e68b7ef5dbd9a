"""The county window's queue (/window): cases handled at the county, escalated (上报) and
forwarded ones included, within the caller's subtree, the most urgent first.

Drawn with the nodes' ``window/queue.html``; the light and the working days left come from
:func:`casework.case_view.countdown`, as at the nodes.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from litestar import Request, get
from litestar.di import NamedDependency
from litestar.params import FromQuery
from litestar.response import Template

from casework.case_view import countdown, node_name
from central.api.auth import require_user, requires_role
from central.api.case_pages import WINDOW_ROLES, Clock
from central.services.accounts import CountyRole
from central.services.portal import mask_name
from central.services.releases import ReleaseService
from central.services.window import CountyWindow
from shared.calendar import china_date
from shared.case_state import CaseStatus, Light
from shared.errors import NotFoundError
from shared.registry import COUNTY_NODE_ID
from web.pages import page


@dataclass(frozen=True)
class CountyQueueLine:
    """One line of the county queue, in the fields the queue template draws."""

    case_id: str
    receipt_no: str | None
    applicant: str
    item: str
    status: str
    status_label: str
    promised_due: date | None
    light: Light
    remaining: int | None
    forwarded_from: str | None


@dataclass(frozen=True)
class QueuePage:
    """The queue is one page: the service caps it, and the most urgent come first."""

    total: int
    page: int = 1
    pages: int = 1


@get("/window", include_in_schema=False, guards=[requires_role(*WINDOW_ROLES)])
async def county_queue_page(
    request: Request[Any, Any, Any],
    *,
    county_window: NamedDependency[CountyWindow],
    release_service: NamedDependency[ReleaseService],
    window_clock: NamedDependency[Clock],
    q: FromQuery[str] = "",
    status: FromQuery[str] = "",
) -> Template:
    """Open cases at the county window, searchable by receipt number, applicant or item."""
    user = require_user(request)
    text = q.strip()[:50]
    chosen_status = status if status in {s.value for s in CaseStatus} else ""
    held = release_service.cached()
    registry = release_service.registry_now()
    calendar = release_service.calendar_now()
    today = china_date(window_clock())
    lines = []
    for entry in await county_window.queue(user):
        item = None
        if held is not None and entry.item_code:
            try:
                item = held.catalog.item(entry.item_code)
            except NotFoundError:
                item = None
        name = item.name if item else (entry.item_code or "—")
        if chosen_status and entry.status != chosen_status:
            continue
        if text and not any(
            text in (value or "") for value in (entry.receipt_no, entry.applicant_name, name)
        ):
            continue
        clock = countdown(
            calendar,
            today,
            entry.promised_due,
            finished=False,
            warning_days=item.warning_days if item else 1,
        )
        origin = entry.origin_node if entry.origin_node != COUNTY_NODE_ID else None
        lines.append(
            CountyQueueLine(
                case_id=entry.case_id,
                receipt_no=entry.receipt_no,
                applicant=mask_name(entry.applicant_name),
                item=name,
                status=entry.status,
                status_label=entry.status_label,
                promised_due=entry.promised_due,
                light=clock.light,
                remaining=clock.remaining,
                forwarded_from=node_name(registry, origin) if origin else None,
            )
        )
    return page(
        request,
        "window/queue.html",
        lines=lines,
        result=QueuePage(total=len(lines)),
        q=text,
        status=chosen_status,
        show="mine",
        statuses=list(CaseStatus),
        can_intake=user.has_any(frozenset({CountyRole.CLERK})) and user.visible is None,
    )


WINDOW_PAGES = [county_queue_page]
"""The county window's pages."""
