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

from node.api import auth, kiosk_pages
from node.api import kiosk as kiosk_api
from node.api.auth import csrf_config, login, login_page, logout, me, session_middleware
from node.api.case_pages import case_page
from node.api.cases import create_case, get_case, list_cases
from node.api.catalog import current_release
from node.api.desk import desk
from node.api.document_pages import document_page, verify_document_api, verify_page
from node.api.enroll import enroll
from node.api.guide import get_item, home, item_page, list_items
from node.api.handling import HANDLING_ROUTES
from node.api.handling_pages import HANDLING_PAGES, register_handling_templates
from node.api.health import healthz
from node.api.offline import OFFLINE_ROUTES, banner_context
from node.api.window_pages import intake_page, intake_result, intake_submit, queue_page
from node.identity import read_identity
from node.services.accounts import AccountService
from node.services.catalog import NodeCatalogService
from node.services.documents import DocumentService
from node.services.enrollment import EnrollmentRelay
from node.services.handling import HandlingService
from node.services.intake import IntakeService
from node.services.kiosk import KioskService
from node.services.reminders import ReminderService
from node.services.replication import (
    WORKER_LOCK,
    WORKER_SYNC_SECONDS,
    WRITER_LOCK,
    InternalLink,
    NodeReplication,
)
from node.services.status import NodeStatusService, Prober
from node.settings import NodeSettings
from node.storage.accounts import AccountStore
from node.storage.case_queue import CaseQueueStore
from node.storage.catalog_store import NodeCatalogStore
from node.storage.database import NodeDatabase
from node.storage.document_store import DocumentStore
from node.storage.handling_store import HandlingStore
from node.storage.intake_store import IntakeStore
from node.storage.kiosk_store import KioskStore
from node.storage.reminder_store import ReminderStore
from node.storage.sync_store import NodeSyncStore, WriterLock
from shared.errors import ConflictError
from sync.keys import load_private_key
from sync.parent import probe_parent
from sync.replica import replication_report
from web.frame import service_app
from web.pages import PAGE_EXTRAS
from web.sync_endpoint import sync_endpoint

TEMPLATE_DIR = Path(__file__).parent / "templates"

WRITER_LOCK_WAIT_SECONDS = 300.0
"""How long start-up waits for a worker that is syncing on its own to finish."""


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
    handling = HandlingService(
        replication.replica,
        catalog,
        identity,
        HandlingStore(database),
        clock,
        intake_store=intake_store,
    )
    documents = DocumentService(
        replication.replica,
        catalog,
        identity,
        store=DocumentStore(database),
        intake_store=intake_store,
        key=key,
        clock=clock,
        # A node that knows its public address prints QR codes a phone can open directly.
        verify_base=settings.public_url,
    )
    kiosk = KioskService(
        KioskStore(database),
        intake_store=intake_store,
        replica=replication.replica,
        catalog=catalog,
        identity=identity,
        clock=clock,
    )

    reminder_store = ReminderStore(database)
    reminders = ReminderService(reminder_store, clock)
    internal_link = InternalLink(settings.data_dir)
    writer_lock = WriterLock(settings.data_dir / WRITER_LOCK)
    worker_lock = WriterLock(settings.data_dir / WORKER_LOCK)

    @asynccontextmanager
    async def lifespan(_: Litestar) -> AsyncIterator[None]:
        # This process does every replica write while it runs (see node.services.replication).
        if not await writer_lock.acquire(WRITER_LOCK_WAIT_SECONDS):
            raise ConflictError(
                "另一个进程正在写入本节点数据库（后台任务正在同步，或已有一个节点网站在运行）。"
                "请稍后再启动，或先停止另一个节点网站。",
                code="node_busy",
            )
        internal_link.publish(settings.host, settings.port)
        loop_task = None
        if settings.sync_interval > 0:
            # A worker schedules a sync every minute; only an interval shorter than that (the
            # demo's) keeps this loop running beside it. Either way the sync runs here.
            stand_back = (
                worker_lock.held_elsewhere
                if settings.sync_interval >= WORKER_SYNC_SECONDS
                else (lambda: False)
            )
            loop_task = asyncio.create_task(
                replication.run_forever(settings.sync_interval, stand_back=stand_back)
            )
        try:
            yield
        finally:
            if loop_task is not None:
                loop_task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await loop_task
            await replication.replica.cancel_background()
            database.close()
            writer_lock.release()

    app = service_app(
        site_name=identity.name,
        tier=identity.tier.value,
        route_handlers=[
            *kiosk_api.ROUTES,
            *kiosk_pages.ROUTES,
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
            *HANDLING_ROUTES,
            *HANDLING_PAGES,
            queue_page,
            intake_page,
            intake_submit,
            intake_result,
            case_page,
            document_page,
            verify_page,
            verify_document_api,
            *OFFLINE_ROUTES,
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
            "handling_service": handling,
            "document_service": documents,
            "case_queue": CaseQueueStore(database),
            "window_clock": clock,
            "kiosk_service": kiosk,
            "reminder_service": reminders,
            "internal_link": internal_link,
        },
        lifespan=lifespan,
        debug=settings.debug,
        templates=TEMPLATE_DIR,
        middleware=[session_middleware(accounts)],
        csrf_config=csrf_config(accounts.csrf_secret()),
        exception_handlers={**auth.EXCEPTION_HANDLERS, **kiosk_api.EXCEPTION_HANDLERS},
    )
    register_handling_templates(app, handling)
    app.state[PAGE_EXTRAS] = banner_context(
        replication, reminders, catalog, identity, reminder_store.waiting_records
    )
    return app
