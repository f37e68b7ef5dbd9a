"""Catalog releases relayed to this node's children."""

from __future__ import annotations

from litestar import get
from litestar.di import NamedDependency

from node.services.catalog import NodeCatalogService
from sync.releases import ReleaseDocument


@get("/api/v1/catalog/release", summary="本节点持有的事项目录发布", sync_to_thread=False)
def current_release(catalog_service: NamedDependency[NodeCatalogService]) -> ReleaseDocument:
    """The release this node holds, byte for byte as it arrived from its parent."""
    return catalog_service.release()
