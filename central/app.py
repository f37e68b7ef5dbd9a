"""The county centre's web application."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime

from litestar import Litestar

from central.api.catalog import current_release
from central.api.guide import get_item, home, item_page, list_items
from central.api.health import healthz
from central.db.catalog_store import CatalogStore
from central.db.engine import close_database, make_engine, open_database
from central.services.catalog import CatalogService, GuideService
from central.services.status import CentralStatusService
from central.settings import CentralSettings
from shared.delegation import Tier
from web.frame import service_app


def _utc_now() -> datetime:
    return datetime.now(UTC)


def create_app(settings: CentralSettings, *, clock: Callable[[], datetime] = _utc_now) -> Litestar:
    """Build the county app for these settings (tests pass their own)."""
    engine = make_engine(settings.database_url, settings.sqlite_path)
    catalog = CatalogService(CatalogStore(), clock)
    guide = GuideService(catalog)
    status = CentralStatusService(settings, engine, catalog)

    @asynccontextmanager
    async def database_lifespan(_: Litestar) -> AsyncIterator[None]:
        await open_database(engine)
        try:
            yield
        finally:
            await close_database(engine)

    return service_app(
        site_name=settings.site_name,
        tier=Tier.COUNTY.value,
        route_handlers=[healthz, home, item_page, list_items, get_item, current_release],
        services={"catalog_service": catalog, "guide_service": guide, "status_service": status},
        lifespan=database_lifespan,
        debug=settings.debug,
    )
