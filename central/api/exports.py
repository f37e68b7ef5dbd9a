"""CSV and XLSX downloads of every supervision table, with the same filters as its page."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from litestar import Request, Response, get
from litestar.di import NamedDependency
from litestar.params import FromPath
from litestar.types import ControllerRouterHandler

from central.api.auth import require_user, requires_role
from central.api.dashboard import parse_group, parse_metric, parse_period
from central.services.accounts import CountyRole
from central.services.dashboard import DashboardService
from central.services.exports import CONTENT_TYPES, ExportTable, render
from central.services.urges import UrgeService
from shared.errors import NotFoundError

SUPERVISORS = [requires_role(CountyRole.SUPERVISOR)]
TABLES = ("tree", "cases", "performance", "ranking", "trend", "urges", "ratings")


async def _table(
    name: str,
    request: Request[Any, Any, Any],
    dashboard: DashboardService,
    urges: UrgeService,
) -> ExportTable:
    user = require_user(request)
    params = request.query_params
    if name == "tree":
        return dashboard.tree_table(await dashboard.tree(user))
    if name == "cases":
        node = params.get("node") or ""
        return await dashboard.node_cases(user, node, params.get("light") or None)
    if name == "urges":
        return dashboard.urges_table(await urges.urges(user))
    await dashboard.ensure_fresh()
    if name == "ratings":
        return await dashboard.ratings_table(user)
    period = parse_period(params, dashboard.today())
    if name == "performance":
        return (await dashboard.performance_table(user, period, parse_group(params)))[1]
    if name == "ranking":
        group, metric = parse_group(params), parse_metric(params)
        return (await dashboard.ranking_table(user, period, group, metric))[1]
    return (await dashboard.trend_table(user, period, period.grain))[1]


@get("/supervision/export/{name:str}", include_in_schema=False, guards=SUPERVISORS)
async def export_table(
    request: Request[Any, Any, Any],
    name: FromPath[str],
    dashboard_service: NamedDependency[DashboardService],
    urge_service: NamedDependency[UrgeService],
) -> Response[bytes]:
    """``/supervision/export/<table>.csv`` or ``.xlsx`` with the page's query parameters."""
    table_name, _, fmt = name.rpartition(".")
    if table_name not in TABLES or fmt not in CONTENT_TYPES:
        raise NotFoundError(f"没有可导出的表格 {name}。", code="export_not_found")
    table = await _table(table_name, request, dashboard_service, urge_service)
    filename = quote(f"{table.title}.{fmt}")
    return Response(
        render(table, fmt),
        media_type=CONTENT_TYPES[fmt],
        headers={
            "content-disposition": f'attachment; filename="{table_name}.{fmt}"; '
            f"filename*=UTF-8''{filename}",
        },
    )


ROUTES: list[ControllerRouterHandler] = [export_table]
