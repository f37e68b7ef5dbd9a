"""A township or community node's web application."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime

from litestar import Litestar

from node.api.catalog import current_release
from node.api.guide import get_item, home, item_page, list_items
from node.api.health import healthz
from node.identity import read_identity
from node.services.catalog import NodeCatalogService
from node.services.status import NodeStatusService, Prober
from node.settings import NodeSettings
from node.storage.catalog_store import NodeCatalogStore
from node.storage.database import NodeDatabase
from sync.parent import probe_parent
from web.frame import service_app


def _utc_now() -> datetime:
    return datetime.now(UTC)


def create_app(
    settings: NodeSettings,
    *,
    clock: Callable[[], datetime] = _utc_now,
    prober: Prober = probe_parent,
) -> Litestar:
    """Build the node app for an initialised data folder.

    Raises:
        NotFoundError: the data folder has not been initialised with ``tongban node init``.
    """
    identity = read_identity(settings.config_path)
    database = NodeDatabase(settings.database_path)
    catalog = NodeCatalogService(NodeCatalogStore(database), identity, clock)
    status = NodeStatusService(identity, database.ping, catalog, clock, prober)

    @asynccontextmanager
    async def database_lifespan(_: Litestar) -> AsyncIterator[None]:
        try:
            yield
        finally:
            database.close()

    return service_app(
        site_name=identity.name,
        tier=identity.tier.value,
        route_handlers=[healthz, home, item_page, list_items, get_item, current_release],
        services={"catalog_service": catalog, "status_service": status},
        lifespan=database_lifespan,
        debug=settings.debug,
    )
