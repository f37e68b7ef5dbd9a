"""Operator commands for the county centre, called by the ``tongban`` command line."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from central.db.account_store import PiccoloAccountStore
from central.db.catalog_store import CatalogStore
from central.db.engine import close_database, make_engine, open_database
from central.db.migrations import MigrationReport
from central.db.registry_store import RegistryStore
from central.db.sync_store import PiccoloSyncStore
from central.services.accounts import AccountService, CountyUser
from central.services.registry import IssuedToken, RegistryService
from central.services.releases import CurrentRelease, ReleaseService
from central.services.replication import county_replica
from central.settings import CentralSettings
from shared.catalog import decode_catalog
from shared.delegation import Tier
from shared.errors import NotFoundError
from shared.registry import NodeRecord, NodeStatus
from shared.signing import SigningKey
from sync.keys import ensure_private_key
from sync.replica import ProjectionReport, Replica


def county_key_path(settings: CentralSettings) -> Path:
    """Where the county signing key lives (0600, never in the database)."""
    return settings.data_dir / "keys" / "county.key"


def web_secret_path(settings: CentralSettings) -> Path:
    """Where the secret that signs the county's CSRF tokens lives (0600)."""
    return settings.data_dir / "keys" / "web.secret"


def _now() -> datetime:
    return datetime.now(UTC)


@dataclass
class County:
    """The county's services over an opened database, for one command."""

    key: SigningKey
    releases: ReleaseService
    registry: RegistryService
    replica: Replica


@asynccontextmanager
async def opened(settings: CentralSettings) -> AsyncIterator[County]:
    """Open the database (creating tables, key and the county's own registry entry)."""
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    key = ensure_private_key(county_key_path(settings))
    engine = make_engine(settings.database_url, settings.sqlite_path)
    await open_database(engine)
    try:
        releases = ReleaseService(CatalogStore(), RegistryStore(), lambda: key, _now)
        await releases.load()
        registry = RegistryService(RegistryStore(), releases, lambda: key, _now)
        await registry.ensure_county(settings.site_name, settings.county_code)
        replica = county_replica(PiccoloSyncStore(engine), releases, lambda: key, _now)
        yield County(key, releases, registry, replica)
    finally:
        await close_database(engine)


async def init_central(settings: CentralSettings) -> SigningKey:
    """Create the data folder, tables, county key and the county's registry entry."""
    async with opened(settings) as county:
        return county.key


async def migrate_database(settings: CentralSettings) -> MigrationReport:
    """Apply the county database's pending migrations (creating the database if it is new).

    Raises:
        ConflictError: the database was written by a newer tongban; it is left untouched.
    """
    engine = make_engine(settings.database_url, settings.sqlite_path)
    report = await open_database(engine)
    await close_database(engine)
    return report


async def import_catalog(settings: CentralSettings, path: Path, *, by: str) -> CurrentRelease:
    """Publish the catalog in a JSON file in the next release (no-op if nothing changed).

    Raises:
        NotFoundError: the file does not exist.
        InvalidError / ValidationError: the file is not a sound catalog.
    """
    try:
        body = path.read_bytes()
    except FileNotFoundError as exc:
        raise NotFoundError(f"找不到目录文件：{path}") from exc
    catalog = decode_catalog(body)
    async with opened(settings) as county:
        return await county.releases.publish(by=by, catalog=catalog)


async def issue_token(
    settings: CentralSettings,
    *,
    node_id: str,
    name: str,
    tier: Tier,
    parent: str,
    short_code: str,
    hours: int,
    by: str,
) -> IssuedToken:
    """Enter a node in the registry and issue its one-time enrollment token."""
    record = NodeRecord(node_id=node_id, name=name, tier=tier, parent=parent, short_code=short_code)
    async with opened(settings) as county:
        return await county.registry.issue_token(record, by=by, hours=hours)


async def set_node_status(
    settings: CentralSettings, node_id: str, status: NodeStatus, *, reason: str, by: str
) -> CurrentRelease:
    """Revoke, quarantine or reinstate a node; the new registry is published at once."""
    async with opened(settings) as county:
        return await county.registry.set_status(node_id, status, reason=reason, by=by)


async def rebuild(settings: CentralSettings) -> ProjectionReport:
    """Drop every materialized case table row and rebuild them from the envelope log."""
    async with opened(settings) as county:
        await county.replica.store.reset_projection()
        return await county.replica.project()


@asynccontextmanager
async def county_accounts(settings: CentralSettings) -> AsyncIterator[AccountService]:
    """The county's account service over an opened database, for one command."""
    async with opened(settings) as county:
        yield AccountService(
            PiccoloAccountStore(),
            county.releases.registry_now,
            _now,
            county.releases.departments_now,
        )


async def add_county_user(
    settings: CentralSettings,
    *,
    username: str,
    name: str,
    roles: list[str],
    home_node: str,
    department: str | None,
    password: str,
) -> CountyUser:
    """Create a county staff account (see AccountService.add_user for the rules)."""
    async with county_accounts(settings) as accounts:
        return await accounts.add_user(
            username=username,
            name=name,
            roles=roles,
            home_node=home_node,
            department=department,
            password=password,
        )


async def county_users(settings: CentralSettings) -> list[CountyUser]:
    """Every county staff account."""
    async with county_accounts(settings) as accounts:
        return await accounts.users()
