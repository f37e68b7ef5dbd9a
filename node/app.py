"""A township or community node's web application."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path

import httpx
from litestar import Litestar

from node.api import auth
from node.api.auth import csrf_config, login, login_page, logout, me, session_middleware
from node.api.cases import create_case, get_case, list_cases
from node.api.catalog import current_release
from node.api.desk import desk
from node.api.enroll import enroll
from node.api.guide import get_item, home, item_page, list_items
from node.api.health import healthz
from node.identity import read_identity
from node.services.accounts import AccountService
from node.services.catalog import NodeCatalogService
from node.services.enrollment import EnrollmentRelay
from node.services.intake import IntakeService
from node.services.replication import NodeReplication
from node.services.status import NodeStatusService, Prober
from node.settings import NodeSettings
from node.storage.accounts import AccountStore
from node.storage.catalog_store import NodeCatalogStore
from node.storage.database import NodeDatabase
from node.storage.intake_store import IntakeStore
from node.storage.sync_store import NodeSyncStore
from sync.keys import load_private_key
from sync.parent import probe_parent
from sync.replica import replication_report
from web.frame import service_app
from web.sync_endpoint import sync_endpoint

TEMPLATE_DIR = Path(__file__).parent / "templates"


def _utc_now() -> datetime:
    return datetime.now(UTC)


def create_app(
    settings: NodeSettings,
    *,
    clock: Callable[[], datetime] = _utc_now,
    prober: Prober = probe_parent,
    parent_transport: httpx.AsyncBaseTransport | None = None,
) -> Litestar:
    """Build the node app for an initialised data folder.

    Raises:
        NotFoundError: the data folder has not been initialised with ``tongban node init``.
    """
    identity = read_identity(settings.config_path)
    key = load_private_key(settings.key_path)
    database = NodeDatabase(settings.database_path)
    catalog = NodeCatalogService(NodeCatalogStore(database), identity, clock)
    replication = NodeReplication(
        NodeSyncStore(database), identity, key, catalog, clock, client_transport=parent_transport
    )
    status = NodeStatusService(
        identity,
        database.ping,
        catalog,
        clock=clock,
        sync_status=lambda: replication.status,
        replication=lambda: replication_report(replication.replica),
        prober=prober,
    )
    relay = EnrollmentRelay(identity.parent_url, catalog, parent_transport)
    accounts = AccountService(AccountStore(database), clock)
    intake_store = IntakeStore(database)
    intake = IntakeService(replication.replica, catalog, identity, intake_store, clock)

    @asynccontextmanager
    async def lifespan(_: Litestar) -> AsyncIterator[None]:
        loop_task = None
        if settings.sync_interval > 0:
            loop_task = asyncio.create_task(replication.run_forever(settings.sync_interval))
        try:
            yield
        finally:
            if loop_task is not None:
                loop_task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await loop_task
            await replication.replica.cancel_background()
            database.close()

    return service_app(
        site_name=identity.name,
        tier=identity.tier.value,
        route_handlers=[
            healthz,
            home,
            item_page,
            list_items,
            get_item,
            current_release,
            sync_endpoint,
            enroll,
            login_page,
            login,
            logout,
            me,
            desk,
            create_case,
            get_case,
            list_cases,
        ],
        services={
            "catalog_service": catalog,
            "status_service": status,
            "sync_serve": replication.serve_child,
            "enrollment_relay": relay,
            "account_service": accounts,
            "node_replication": replication,
            "node_identity": identity,
            "intake_service": intake,
            "intake_store": intake_store,
        },
        lifespan=lifespan,
        debug=settings.debug,
        templates=TEMPLATE_DIR,
        middleware=[session_middleware(accounts)],
        csrf_config=csrf_config(accounts.csrf_secret()),
        exception_handlers=auth.EXCEPTION_HANDLERS,
    )
