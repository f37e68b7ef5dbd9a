"""Liveness and readiness of a node."""

from __future__ import annotations

from typing import Any

from litestar import Response, get
from litestar.di import NamedDependency

from node.services.status import NodeStatusService


@get("/healthz", summary="节点健康状态")
async def healthz(status_service: NamedDependency[NodeStatusService]) -> Response[dict[str, Any]]:
    """Version, identity, database state and parent reachability; 503 when the database is down."""
    report = await status_service.report()
    return Response(content=report, status_code=200 if report["status"] == "ok" else 503)
