"""Catalog releases for the nodes below the county."""

from __future__ import annotations

from litestar import get
from litestar.di import NamedDependency

from central.services.catalog import CatalogService
from sync.releases import ReleaseDocument


@get("/api/v1/catalog/release", summary="当前事项目录发布")
async def current_release(catalog_service: NamedDependency[CatalogService]) -> ReleaseDocument:
    """The catalog release in force, exactly as published, with its content hash."""
    return await catalog_service.release()
