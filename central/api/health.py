"""Liveness and readiness."""

from __future__ import annotations

from typing import Any

from litestar import Response, get
from litestar.di import NamedDependency

from central.services.status import CentralStatusService


@get("/healthz", summary="服务健康状态")
async def healthz(
    status_service: NamedDependency[CentralStatusService],
) -> Response[dict[str, Any]]:
    """Version, database state and the catalog in force; 503 when the database is down."""
    report = await status_service.report()
    return Response(content=report, status_code=200 if report["status"] == "ok" else 503)
