"""The node's service guide: kiosk pages and the catalog API."""

from __future__ import annotations

from typing import Any

from litestar import Request, get
from litestar.di import NamedDependency
from litestar.params import FromPath, FromQuery
from litestar.response import Template

from node.services.catalog import NodeCatalogService
from shared.guide import GuideEntry, GuidePage
from web.pages import page


@get("/", include_in_schema=False, sync_to_thread=False)
def home(
    request: Request[Any, Any, Any],
    catalog_service: NamedDependency[NodeCatalogService],
    q: FromQuery[str] = "",
) -> Template:
    """Home page: what can be done at this service point."""
    return page(request, "guide.html", page=catalog_service.guide(q), query=q)


@get("/items/{code:str}", include_in_schema=False, sync_to_thread=False)
def item_page(
    request: Request[Any, Any, Any],
    catalog_service: NamedDependency[NodeCatalogService],
    code: FromPath[str],
    via: FromQuery[str] = "",
) -> Template:
    """One item's guide page (printable); opened from the kiosk, it leads back to the kiosk."""
    return page(request, "item.html", e=catalog_service.entry(code), back_to_kiosk=via == "kiosk")


@get("/api/v1/catalog/items", summary="本节点可办事项", sync_to_thread=False)
def list_items(
    catalog_service: NamedDependency[NodeCatalogService], q: FromQuery[str] = ""
) -> GuidePage:
    """Items this node may take today, optionally filtered by name or code."""
    return catalog_service.guide(q)


@get("/api/v1/catalog/items/{code:str}", summary="单个事项办事指南", sync_to_thread=False)
def get_item(
    catalog_service: NamedDependency[NodeCatalogService], code: FromPath[str]
) -> GuideEntry:
    """One item's guide entry as this node offers it."""
    return catalog_service.entry(code)
