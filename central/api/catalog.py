"""The signed release in force, for anyone who wants to check what the county published."""

from __future__ import annotations

from litestar import Response, get
from litestar.di import NamedDependency

from central.services.releases import ReleaseService
from shared.errors import NotFoundError


@get("/api/v1/catalog/release", summary="当前发布（事项目录、工作日历、节点登记表，县级签名）")
async def current_release(release_service: NamedDependency[ReleaseService]) -> Response[bytes]:
    """The signed release in force, byte for byte as published (JSON, signature included)."""
    current = await release_service.current()
    if current is None:
        raise NotFoundError("尚未发布事项目录。", code="catalog_missing")
    return Response(content=current.signed, media_type="application/json")
