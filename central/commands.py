"""Operator commands for the county centre, called by the ``tongban`` command line."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from central.db.catalog_store import CatalogStore
from central.db.engine import close_database, make_engine, open_database
from central.services.catalog import CatalogService, CurrentCatalog
from central.settings import CentralSettings
from shared.catalog import decode_catalog
from shared.errors import NotFoundError
from shared.signing import SigningKey
from sync.keys import ensure_private_key


def county_key_path(settings: CentralSettings) -> Path:
    """Where the county signing key lives (0600, never in the database)."""
    return settings.data_dir / "keys" / "county.key"


async def init_central(settings: CentralSettings) -> SigningKey:
    """Create the data folder, the database tables and the county key if missing."""
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    key = ensure_private_key(county_key_path(settings))
    engine = make_engine(settings.database_url, settings.sqlite_path)
    await open_database(engine)
    await close_database(engine)
    return key


async def import_catalog(settings: CentralSettings, path: Path, *, by: str) -> CurrentCatalog:
    """Publish the catalog in a JSON file as the next release (no-op if unchanged).

    Raises:
        NotFoundError: the file does not exist.
        InvalidError / ValidationError: the file is not a sound catalog.
    """
    try:
        body = path.read_bytes()
    except FileNotFoundError as exc:
        raise NotFoundError(f"找不到目录文件：{path}") from exc
    catalog = decode_catalog(body)
    engine = make_engine(settings.database_url, settings.sqlite_path)
    await open_database(engine)
    try:
        service = CatalogService(CatalogStore(), lambda: datetime.now(UTC))
        return await service.publish(catalog, by=by)
    finally:
        await close_database(engine)
