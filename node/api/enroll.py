"""Enrollment of a node below this one: relayed to the county unchanged."""

from __future__ import annotations

from typing import Any

from litestar import Request, Response, post
from litestar.di import NamedDependency

from node.services.enrollment import EnrollmentRelay


@post("/api/v1/enroll", summary="转交下级节点的注册请求", status_code=200)
async def enroll(
    request: Request[Any, Any, Any], enrollment_relay: NamedDependency[EnrollmentRelay]
) -> Response[bytes]:
    """Pass a child's enrollment up the tree and its answer back down."""
    status, body, media_type = await enrollment_relay.relay(await request.body())
    return Response(content=body, status_code=status, media_type=media_type or "application/json")
