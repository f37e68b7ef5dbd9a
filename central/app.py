"""The county centre's web application."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime

from litestar import Litestar

from central.api.catalog import current_release
from central.api.guide import get_item, home, item_page, list_items
from central.api.health import healthz
from central.api.nodes import enroll
from central.commands import county_key_path
from central.db.catalog_store import CatalogStore
from central.db.engine import close_database, make_engine, open_database
from central.db.registry_store import RegistryStore
from central.db.sync_store import PiccoloSyncStore
from central.services.registry import RegistryService
from central.services.releases import GuideService, ReleaseService
from central.services.replication import SyncService, county_replica
from central.services.status import CentralStatusService
from central.settings import CentralSettings
from shared.delegation import Tier
from shared.signing import SigningKey
from sync.keys import ensure_private_key
from web.frame import service_app
from web.sync_endpoint import sync_endpoint


def _utc_now() -> datetime:
    return datetime.now(UTC)


def create_app(settings: CentralSettings, *, clock: Callable[[], datetime] = _utc_now) -> Litestar:
    """Build the county app for these settings (tests pass their own)."""
    engine = make_engine(settings.database_url, settings.sqlite_path)
    signing_key = ensure_private_key(county_key_path(settings))

    def key() -> SigningKey:
        return signing_key

    releases = ReleaseService(CatalogStore(), RegistryStore(), key, clock)
    registry = RegistryService(RegistryStore(), releases, key, clock)
    guide = GuideService(releases)
    replica = county_replica(PiccoloSyncStore(engine), releases, key, clock)
    status = CentralStatusService(settings, engine, releases, replica)
    sync = SyncService(replica, releases, clock)

    @asynccontextmanager
    async def database_lifespan(_: Litestar) -> AsyncIterator[None]:
        await open_database(engine)
        await releases.load()
        await registry.ensure_county(settings.site_name, settings.county_code)
        try:
            yield
        finally:
            # A background projection resumes from its watermark at the next start.
            await replica.cancel_background()
            await close_database(engine)

    return service_app(
        site_name=settings.site_name,
        tier=Tier.COUNTY.value,
        route_handlers=[
            healthz,
            home,
            item_page,
            list_items,
            get_item,
            current_release,
            sync_endpoint,
            enroll,
        ],
        services={
            "release_service": releases,
            "guide_service": guide,
            "status_service": status,
            "registry_service": registry,
            "sync_serve": sync.serve,
        },
        lifespan=database_lifespan,
        debug=settings.debug,
    )
