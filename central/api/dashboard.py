"""Supervision pages (电子监察) for supervisors: tier tree, node cases, case timeline,
performance with rankings and trends, bad-rating follow-up; and the charting library's file.

Every route needs the supervisor role; what is shown is limited to the user's subtree by the
services. Charts are drawn in the browser from JSON embedded in the page when the charting
library was installed at setup time (``web/charts``); without it the tables still show it all.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

from litestar import Request, Response, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath
from litestar.response import Redirect, Template
from litestar.types import ControllerRouterHandler

from central.api.auth import require_user, requires_role
from central.services.accounts import CountyRole
from central.services.dashboard import LIGHTS, DashboardService
from central.services.performance import METRICS, Grain, GroupBy, Period
from shared.case_state import Light
from shared.errors import InvalidError, NotFoundError, PlatformError
from web.i18n import add_messages
from web.pages import page

SUPERVISORS = [requires_role(CountyRole.SUPERVISOR)]
ECHARTS_FILE = (
    Path(__file__).resolve().parents[2]
    / "web"
    / "charts"
    / "node_modules"
    / "echarts"
    / "dist"
    / "echarts.min.js"
)
CHART_SCRIPT_PATH = "/charts/echarts.min.js"

add_messages(
    {
        "supervision.title": {"zh": "电子监察", "en": "Electronic supervision"},
        "supervision.performance": {"zh": "绩效评估", "en": "Performance"},
        "supervision.urges": {"zh": "催办督办", "en": "Urges"},
        "supervision.ratings": {"zh": "差评整改", "en": "Bad ratings"},
    }
)


def chart_available() -> bool:
    """Whether ``make setup`` installed the charting library."""
    return ECHARTS_FILE.is_file()


def parse_period(params: Any, today: date) -> Period:
    """The period of ``?grain=&day=`` (this month by default).

    Raises:
        InvalidError: unknown grain or an unreadable day.
    """
    try:
        grain = Grain(params.get("grain") or Grain.MONTH.value)
    except ValueError:
        raise InvalidError("统计周期只能是日、周或月。", code="unknown_grain") from None
    text = params.get("day") or ""
    try:
        day = date.fromisoformat(text) if text else today
    except ValueError:
        raise InvalidError(f"日期格式不正确：{text}", code="bad_day") from None
    return Period.containing(grain, day)


def parse_group(params: Any) -> GroupBy:
    """``?group=`` (by node by default).

    Raises:
        InvalidError: unknown grouping.
    """
    try:
        return GroupBy(params.get("group") or GroupBy.NODE.value)
    except ValueError:
        raise InvalidError("分组方式不正确。", code="unknown_group") from None


def parse_metric(params: Any) -> str:
    """``?metric=`` (按时办结率 by default).

    Raises:
        InvalidError: unknown indicator.
    """
    metric = params.get("metric") or "on_time_rate"
    if metric not in METRICS:
        raise InvalidError(f"未知指标：{metric}", code="unknown_metric")
    return str(metric)


def _query(request: Request[Any, Any, Any]) -> str:
    return str(request.url.query) if request.url.query else ""


@get("/supervision", include_in_schema=False, guards=SUPERVISORS)
async def supervision_home(
    request: Request[Any, Any, Any], dashboard_service: NamedDependency[DashboardService]
) -> Template:
    """The tier tree with open cases by light and the light distribution."""
    user = require_user(request)
    nodes = await dashboard_service.tree(user)
    table = dashboard_service.tree_table(nodes)
    totals = {light.value: sum(n.own.get(light.value, 0) for n in nodes) for light in LIGHTS}
    ranked = sorted(nodes, key=lambda n: (-n.own.get("red", 0), n.record.node_id))[:10]
    charts = {
        "distribution": [{"name": light.label, "value": totals[light.value]} for light in LIGHTS],
        "ranking": {
            "names": [n.record.name for n in ranked],
            "values": [n.own.get("red", 0) for n in ranked],
        },
    }
    return page(
        request,
        "supervision.html",
        user=user,
        nodes=nodes,
        table=table,
        totals=totals,
        lights=LIGHTS,
        chart_data=charts,
        chart_script=CHART_SCRIPT_PATH if chart_available() else None,
    )


@get("/supervision/nodes/{node_id:str}", include_in_schema=False, guards=SUPERVISORS)
async def supervision_node(
    request: Request[Any, Any, Any],
    node_id: FromPath[str],
    dashboard_service: NamedDependency[DashboardService],
) -> Template:
    """A node's open cases, most urgent first; ``?light=`` picks one light."""
    user = require_user(request)
    light = request.query_params.get("light") or None
    table = await dashboard_service.node_cases(user, node_id, light)
    return page(
        request,
        "supervision_node.html",
        node_id=node_id,
        light=light,
        lights=LIGHTS,
        table=table,
        query=_query(request),
    )


@get("/supervision/cases/{case_id:str}", include_in_schema=False, guards=SUPERVISORS)
async def supervision_case(
    request: Request[Any, Any, Any],
    case_id: FromPath[str],
    dashboard_service: NamedDependency[DashboardService],
) -> Template:
    """A case's timeline."""
    user = require_user(request)
    timeline = await dashboard_service.timeline(user, case_id)
    return page(request, "supervision_case.html", timeline=timeline, Light=Light)


@get("/supervision/performance", include_in_schema=False, guards=SUPERVISORS)
async def supervision_performance(
    request: Request[Any, Any, Any], dashboard_service: NamedDependency[DashboardService]
) -> Template:
    """Indicators by group with 环比/同比, a ranking and a trend."""
    user = require_user(request)
    params = request.query_params
    period = parse_period(params, dashboard_service.today())
    group = parse_group(params)
    metric = parse_metric(params)
    await dashboard_service.ensure_fresh()
    rows, table = await dashboard_service.performance_table(user, period, group)
    ranked, ranking = await dashboard_service.ranking_table(user, period, group, metric)
    points, trend = await dashboard_service.trend_table(user, period, period.grain)
    charts = {
        "trend": {
            "labels": [p.label for p in points],
            "accepted": [p.accepted for p in points],
            "finished": [p.finished for p in points],
        },
        "ranking": {
            "names": [r.name for r in ranked][:15],
            "values": [row[2] for row in ranking.rows][:15],
            "metric": METRICS[metric],
        },
    }
    return page(
        request,
        "supervision_performance.html",
        period=period,
        group=group,
        metric=metric,
        grains=list(Grain),
        groups=list(GroupBy),
        metrics=METRICS,
        table=table,
        ranking=ranking,
        trend=trend,
        chart_data=charts,
        chart_script=CHART_SCRIPT_PATH if chart_available() else None,
        query=_query(request),
        day=params.get("day") or "",
        has_rows=bool(rows),
    )


@get("/supervision/ratings", include_in_schema=False, guards=SUPERVISORS)
async def supervision_ratings(
    request: Request[Any, Any, Any], dashboard_service: NamedDependency[DashboardService]
) -> Template:
    """Bad ratings with their rectification and call-back, and the form to record them."""
    user = require_user(request)
    await dashboard_service.ensure_fresh()
    return page(
        request,
        "supervision_ratings.html",
        table=await dashboard_service.ratings_table(user),
        problems=[],
        saved=request.query_params.get("saved"),
    )


def _date_field(form: Any, name: str) -> date | None:
    text = str(form.get(name, "")).strip()
    if not text:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise InvalidError(f"日期格式不正确：{text}", code="bad_day") from None


@post("/supervision/ratings/{event_id:str}", include_in_schema=False, guards=SUPERVISORS)
async def supervision_rating_followup(
    request: Request[Any, Any, Any],
    event_id: FromPath[str],
    dashboard_service: NamedDependency[DashboardService],
) -> Response[Any]:
    """Record a bad rating's rectification and call-back (saving again overwrites)."""
    user = require_user(request)
    form = await request.form()
    try:
        await dashboard_service.performance.record_followup(
            event_id,
            visible=user.visible,
            rectified_on=_date_field(form, "rectified_on"),
            rectify_note=str(form.get("rectify_note", ""))[:500],
            called_back_on=_date_field(form, "called_back_on"),
            callback_note=str(form.get("callback_note", ""))[:500],
            by=user.username,
        )
    except NotFoundError:
        raise
    except PlatformError as exc:
        problems = getattr(exc, "problems", None) or [exc.message]
        response = page(
            request,
            "supervision_ratings.html",
            table=await dashboard_service.ratings_table(user),
            problems=problems,
            saved=None,
            failed=event_id,
            form={k: str(form.get(k, "")) for k in form},
        )
        response.status_code = 400
        return response
    return Redirect(f"/supervision/ratings?saved={event_id}", status_code=303)


@post("/supervision/performance/refresh", include_in_schema=False, guards=SUPERVISORS)
async def supervision_refresh(
    dashboard_service: NamedDependency[DashboardService],
) -> Redirect:
    """Rebuild the performance tables now."""
    await dashboard_service.ensure_fresh(force=True)
    return Redirect("/supervision/performance", status_code=303)


@get(CHART_SCRIPT_PATH, include_in_schema=False, guards=SUPERVISORS)
async def chart_library() -> Response[bytes]:
    """The charting library installed by ``make setup``; 404 when it was not installed."""
    if not chart_available():
        raise NotFoundError("图表组件未安装（运行 make setup）。", code="chart_library_missing")
    return Response(
        ECHARTS_FILE.read_bytes(),
        media_type="application/javascript",
        headers={"cache-control": "private, max-age=86400"},
    )


ROUTES: list[ControllerRouterHandler] = [
    supervision_home,
    supervision_node,
    supervision_case,
    supervision_performance,
    supervision_ratings,
    supervision_rating_followup,
    supervision_refresh,
    chart_library,
]
