"""The county service guide: portal pages and the catalog API."""

from __future__ import annotations

from typing import Any

from litestar import Request, get
from litestar.di import NamedDependency
from litestar.params import FromPath, FromQuery
from litestar.response import Template

from central.services.releases import GuideService
from shared.guide import GuideEntry, GuidePage
from web.pages import page


@get("/", include_in_schema=False)
async def home(
    request: Request[Any, Any, Any],
    guide_service: NamedDependency[GuideService],
    q: FromQuery[str] = "",
) -> Template:
    """Home page: the county service guide."""
    return page(request, "guide.html", page=await guide_service.entries(q), query=q)


@get("/items/{code:str}", include_in_schema=False)
async def item_page(
    request: Request[Any, Any, Any],
    guide_service: NamedDependency[GuideService],
    code: FromPath[str],
) -> Template:
    """One item's guide page (printable)."""
    return page(request, "item.html", e=await guide_service.entry(code))


@get("/api/v1/catalog/items", summary="办事指南事项列表")
async def list_items(
    guide_service: NamedDependency[GuideService], q: FromQuery[str] = ""
) -> GuidePage:
    """Items of the county catalog in force, optionally filtered by name or code."""
    return await guide_service.entries(q)


@get("/api/v1/catalog/items/{code:str}", summary="单个事项办事指南")
async def get_item(guide_service: NamedDependency[GuideService], code: FromPath[str]) -> GuideEntry:
    """One item's guide entry."""
    return await guide_service.entry(code)
