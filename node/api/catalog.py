"""The signed release this node runs, relayed byte for byte."""

from __future__ import annotations

from litestar import Response, get
from litestar.di import NamedDependency

from node.services.catalog import NodeCatalogService
from shared.errors import NotFoundError


@get(
    "/api/v1/catalog/release",
    summary="本节点持有的发布（县级签名，原样转发）",
    sync_to_thread=False,
)
def current_release(catalog_service: NamedDependency[NodeCatalogService]) -> Response[bytes]:
    """The signed release in force here, exactly as the county published it."""
    held = catalog_service.current()
    if held is None:
        raise NotFoundError("本节点尚未收到事项目录。", code="catalog_missing")
    return Response(content=held.signed, media_type="application/json")
