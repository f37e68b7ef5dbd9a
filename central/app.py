"""The county centre's web application."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path

from litestar import Litestar

from central.api import accounts as account_admin
from central.api import catalog_admin, registry_admin
from central.api import certificates as certificate_api
from central.api import complaints as complaint_api
from central.api import dashboard as dashboard_api
from central.api import exports as export_api
from central.api import portal as portal_api
from central.api import supervision as supervision_api
from central.api import urges as urge_api
from central.api import verify as verify_api
from central.api import window as window_api
from central.api.auth import county_session_middleware, login, login_page, logout, me
from central.api.case_pages import CASE_PAGES, register_county_case_templates
from central.api.catalog import current_release
from central.api.desk import desk
from central.api.guide import get_item, home, item_page, list_items
from central.api.health import healthz
from central.api.intake_pages import INTAKE_PAGES
from central.api.nodes import enroll
from central.api.window_pages import WINDOW_PAGES
from central.commands import county_key_path, web_secret_path
from central.db.account_store import PiccoloAccountStore
from central.db.catalog_admin_tables import CatalogAdminStore
from central.db.catalog_store import CatalogStore
from central.db.engine import close_database, make_engine, open_database
from central.db.portal_tables import PortalStore
from central.db.registry_store import RegistryStore
from central.db.sync_store import PiccoloSyncStore
from central.services.accounts import AccountService, ensure_web_secret
from central.services.calendar_recompute import DeadlineRecompute
from central.services.catalog_admin import CatalogAdminService
from central.services.certificates import CertificateService
from central.services.complaints import ComplaintService
from central.services.dashboard import DashboardService
from central.services.node_contact import NodeContactService
from central.services.performance import PerformanceService
from central.services.portal import LookupGuard, PortalIndex, PortalService
from central.services.reconcile import Reconciler
from central.services.registry import RegistryService
from central.services.releases import GuideService, ReleaseService
from central.services.replication import SyncService, county_replica
from central.services.signals import SignalService
from central.services.status import CentralStatusService
from central.services.supervision_rules import RuleService
from central.services.supervision_views import SupervisionViews
from central.services.urges import UrgeService
from central.services.verification import VerificationService
from central.services.window import CountyWindow
from central.services.window_documents import CountyDocuments
from central.settings import CentralSettings
from shared.delegation import Tier
from shared.signing import SigningKey
from sync.keys import ensure_private_key
from sync.projection_helpers import ProjectionHelpers, auto_helpers
from web.frame import service_app
from web.sessions import EXCEPTION_HANDLERS as SESSION_ERROR_HANDLERS
from web.sessions import csrf_config
from web.sync_endpoint import sync_endpoint

TEMPLATE_DIR = Path(__file__).parent / "templates"


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
    helpers = ProjectionHelpers(
        auto_helpers() if settings.projection_helpers is None else settings.projection_helpers
    )
    replica = county_replica(PiccoloSyncStore(engine), releases, key, clock, helpers)
    county_window = CountyWindow(replica, releases, settings.county_code, clock)
    status = CentralStatusService(settings, engine, releases, replica)
    node_contacts = NodeContactService(engine, clock)
    sync = SyncService(replica, releases, clock, on_served=node_contacts.on_served)
    supervision_rules = RuleService(engine, clock)
    urge_service = UrgeService(engine, replica, releases, clock)
    accounts = AccountService(
        PiccoloAccountStore(), releases.registry_now, clock, releases.departments_now
    )
    catalog_admin_store = CatalogAdminStore(engine)
    catalog_admin_service = CatalogAdminService(
        catalog_admin_store,
        releases,
        DeadlineRecompute(catalog_admin_store, releases, clock),
        clock,
    )
    portal_store = PortalStore(engine)
    portal_guard = LookupGuard(portal_store, clock)
    portal_index = PortalIndex(portal_store, replica)
    portal = PortalService(portal_store, replica, releases, portal_guard, clock)
    performance = PerformanceService(engine, releases, clock)
    dashboard = DashboardService(engine, replica.store, releases, performance, clock)

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
            helpers.close()
            await close_database(engine)

    app = service_app(
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
            login_page,
            login,
            logout,
            me,
            desk,
            *account_admin.ROUTES,
            *catalog_admin.ROUTES,
            *supervision_api.ROUTES,
            *registry_admin.ROUTES,
            *portal_api.ROUTES,
            *verify_api.ROUTES,
            *certificate_api.ROUTES,
            *complaint_api.ROUTES,
            *window_api.ROUTES,
            *WINDOW_PAGES,
            *INTAKE_PAGES,
            *CASE_PAGES,
            *dashboard_api.ROUTES,
            *urge_api.ROUTES,
            *export_api.ROUTES,
        ],
        services={
            "release_service": releases,
            "guide_service": guide,
            "status_service": status,
            "registry_service": registry,
            "sync_serve": sync.serve,
            "account_service": accounts,
            "catalog_admin_service": catalog_admin_service,
            "node_contacts": node_contacts,
            "supervision_views": SupervisionViews(engine),
            "supervision_rules": supervision_rules,
            "supervision_signals": SignalService(engine, supervision_rules, clock),
            "supervision_reconciler": Reconciler(
                engine, releases, supervision_rules, clock, urges=urge_service
            ),
            "county_window": county_window,
            "county_documents": CountyDocuments(county_window, releases, key, clock),
            "window_clock": clock,
            "portal_service": portal,
            "complaint_service": ComplaintService(
                portal, portal_store, portal_index, releases, clock
            ),
            "verification_service": VerificationService(
                releases, portal_store, portal_index, portal, guard=portal_guard, clock=clock
            ),
            "certificate_service": CertificateService(portal, portal_store, releases, key, clock),
            "dashboard_service": dashboard,
            "urge_service": urge_service,
        },
        lifespan=database_lifespan,
        debug=settings.debug,
        templates=TEMPLATE_DIR,
        middleware=[county_session_middleware(accounts)],
        csrf_config=csrf_config(ensure_web_secret(web_secret_path(settings))),
        exception_handlers={**SESSION_ERROR_HANDLERS, **portal_api.EXCEPTION_HANDLERS},
    )
    register_county_case_templates(app, county_window)
    return app
